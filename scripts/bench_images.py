"""The images benchmark from a checkout: `python scripts/bench_images.py` runs `python -m pianoroll.bench.images`."""

import sys

from pianoroll.bench.images import main

if __name__ == "__main__":
    sys.exit(main())
