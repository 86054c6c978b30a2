"""The train benchmark from a checkout: `python scripts/bench_train.py` runs `python -m pianoroll.bench.train`."""

import sys

from pianoroll.bench.train import main

if __name__ == "__main__":
    sys.exit(main())
