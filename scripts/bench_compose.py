"""The compose benchmark from a checkout: `python scripts/bench_compose.py` runs `python -m pianoroll.bench.compose`."""

import sys

from pianoroll.bench.compose import main

if __name__ == "__main__":
    sys.exit(main())
