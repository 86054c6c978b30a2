"""Measure a model on its held-out pieces: per-frame NLL and Brier against baselines, and composed music against real music.

Writes reports/evaluation.md, reports/evaluation.json and reports/density.png.
--on DIR scores the model on every piece of another folder of pages instead of
its held-out pieces. --bench runs a fixed benchmark instead: `chorales` (the
built-in chorales at quarter-note resolution, the seed network and the default
trained on one split, into reports/chorales.{md,json}) or `jsb` (JSB Chorales
from --bench-data FILE: trained on `train`, the epoch picked on `valid`,
scored on `valid` and `test`, into reports/jsb.{md,json}).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="models/default", help="bundle to evaluate (default: models/default)")
    parser.add_argument("--compare", nargs="*", default=[], metavar="MODEL",
                        help="other bundles to score on the same held-out pieces")
    parser.add_argument("--count", type=int, default=None,
                        help="pieces to compose per mode (default: one per held-out piece; 0 skips)")
    parser.add_argument("--length", type=int, default=None,
                        help="columns per composed piece (default: the median held-out piece)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for composing and training (default: 0)")
    parser.add_argument("--reports", default="reports", help="folder for the reports (default: reports)")
    parser.add_argument("--on", default=None, metavar="DIR",
                        help="score the model on every piece of this folder of pages (default: its held-out pieces)")
    parser.add_argument("--composed", default=None, metavar="DIR",
                        help="also measure the pieces `pianoroll compose` wrote to DIR against the real ones")
    parser.add_argument("--bench", choices=["chorales", "jsb"], default=None,
                        help="run a fixed benchmark instead of evaluating --model")
    parser.add_argument("--bench-data", default=None, metavar="PATH",
                        help="chorales: pages folder (default: data/chorales-1.0); jsb: the JSB Chorales JSON file")
    parser.add_argument("--bench-models", default=None, metavar="DIR",
                        help="where a benchmark keeps its bundles (default: models/<bench>)")
    parser.add_argument("--epochs", type=int, default=None, help="jsb: most epochs per network (default: 150)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pianoroll import PianorollError, bundle, chorales, evaluate, jsb

    reports = Path(args.reports)
    models = Path(args.bench_models or f"models/{args.bench}")
    if args.bench == "jsb":
        if args.bench_data is None:
            raise PianorollError("--bench jsb needs --bench-data FILE (the JSB Chorales JSON: train, valid, test)")
        result = jsb.benchmark(Path(args.bench_data), Path("data/jsb"), models, seed=args.seed,
                               epochs=args.epochs or jsb.EPOCHS, progress=print)
        return publish(reports, "jsb", jsb.markdown(result), result)
    if args.bench == "chorales":
        result = chorales.benchmark(Path(args.bench_data or "data/chorales-1.0"), models, seed=args.seed,
                                    count=args.count, progress=print)
        return publish(reports, "chorales", chorales.markdown(result), result)
    model = bundle.load(Path(args.model))
    others = [bundle.load(Path(path)) for path in args.compare]
    report = evaluate.evaluate(model, others, count=args.count, length=args.length, seed=args.seed,
                               on=Path(args.on) if args.on else None,
                               composed=Path(args.composed) if args.composed else None, progress=print)
    evaluate.plot_density(report, reports / "density.png")
    print(f"wrote {reports / 'density.png'}")
    return publish(reports, "evaluation", evaluate.markdown(report), report)


def publish(reports: Path, name: str, text: str, result: dict) -> int:
    """reports/<name>.md and .json, written atomically; the Markdown is printed too."""
    from pianoroll.bundle import write_json

    write_report(reports / f"{name}.md", text)
    write_json(reports / f"{name}.json", result)
    print(text)
    print(f"wrote {reports / f'{name}.md'} and {reports / f'{name}.json'}")
    return 0


def write_report(path: Path, text: str) -> None:
    """A text report, written atomically (a temporary name, then renamed into place)."""
    from pianoroll.files import write_atomic

    write_atomic(path, text.encode())
