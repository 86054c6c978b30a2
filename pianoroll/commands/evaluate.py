"""Measure a model on its held-out pieces: per-frame NLL and Brier against baselines, and composed music against real music.

Writes reports/evaluation.md, reports/evaluation.json and reports/density.png.
With --bench chorales it runs the fixed chorale benchmark instead: the
built-in chorales at quarter-note resolution, the seed network and the
default trained on the same split, both scored beside the baselines and the
published figures, into reports/chorales.md and reports/chorales.json.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="models/default", help="bundle to evaluate (default: models/default)")
    parser.add_argument("--compare", nargs="*", default=[], metavar="MODEL",
                        help="other bundles to score on the same held-out pieces")
    parser.add_argument("--count", type=int, default=10, help="pieces to compose per mode (default: 10; 0 skips)")
    parser.add_argument("--length", type=int, default=None,
                        help="columns per composed piece (default: the median held-out piece)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for composing and training (default: 0)")
    parser.add_argument("--reports", default="reports", help="folder for the reports (default: reports)")
    parser.add_argument("--bench", choices=["chorales"], default=None,
                        help="run a fixed benchmark instead of evaluating --model")
    parser.add_argument("--bench-data", default="data/chorales-1.0",
                        help="pages for the chorale benchmark (default: data/chorales-1.0)")
    parser.add_argument("--bench-models", default="models/chorales",
                        help="where the chorale benchmark keeps its bundles (default: models/chorales)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pianoroll import bundle, evaluate
    from pianoroll.bundle import write_json

    reports = Path(args.reports)
    if args.bench == "chorales":
        result = evaluate.chorales(Path(args.bench_data), Path(args.bench_models), seed=args.seed,
                                count=args.count, progress=print)
        text = evaluate.chorales_markdown(result)
        write_report(reports / "chorales.md", text)
        write_json(reports / "chorales.json", result)
        print(text)
        print(f"wrote {reports / 'chorales.md'} and {reports / 'chorales.json'}")
        return 0
    model = bundle.load(Path(args.model))
    others = [bundle.load(Path(path)) for path in args.compare]
    report = evaluate.evaluate(model, others, count=args.count, length=args.length, seed=args.seed, progress=print)
    text = evaluate.markdown(report)
    write_report(reports / "evaluation.md", text)
    write_json(reports / "evaluation.json", report)
    evaluate.plot_density(report, reports / "density.png")
    print(text)
    print(f"wrote {reports / 'evaluation.md'}, {reports / 'evaluation.json'} and {reports / 'density.png'}")
    return 0


def write_report(path: Path, text: str) -> None:
    """A text report, written atomically (a temporary name, then renamed into place)."""
    from pianoroll.pages import write_atomic

    write_atomic(path, text.encode())
