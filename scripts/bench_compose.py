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
    parser.add_argument("--repeats", type=int, default=3, help="runs of each of ours; the median counts")
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


def timed(run) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def median_run(run, repeats: int) -> tuple[float, np.ndarray]:
    """The median time of ``repeats`` runs (others may share the CPU), and the result."""
    runs = sorted((timed(run) for _ in range(repeats)), key=lambda t: t[0])
    return runs[len(runs) // 2]


def main() -> int:
    args = arguments()
    from pianoroll import compose, stepping

    network, primer, source = network_and_primer(Path(args.model))
    settings = compose.Settings()  # vanish 0.65 × 1.001: the seed's
    batch = np.repeat(primer[None], args.batch, axis=0)
    fastest, whole = stepping.stepper(network), stepping.WindowStep(network)
    ours = {  # figure → (pieces, run)
        f"one piece, {type(whole).__name__}": (1, lambda: compose.generate(network, primer[None], args.length, settings, step=whole)),
        f"one piece, {type(fastest).__name__}": (1, lambda: compose.generate(network, primer[None], args.length, settings)),
        f"{args.batch} pieces at once, {type(fastest).__name__}": (args.batch, lambda: compose.generate(network, batch, args.length, settings)),
    }
    seed_loop(network, primer, 1)  # every way warms up (traces) before the clock starts
    for pieces, run in ours.values():
        run()

    seed_s, theirs = timed(lambda: seed_loop(network, primer, args.length, settings.vanish, settings.vanish_inc))
    seed_rate = args.length / seed_s
    rows, identical = [], {}
    for figure, (pieces, run) in ours.items():
        seconds, song = median_run(run, args.repeats)
        identical[figure] = bool(all(np.array_equal(piece, theirs) for piece in song))
        rate = pieces * args.length / seconds
        rows.append({"figure": f"columns/s, {figure}", "seed": seed_rate, "ours": rate,
                     "ratio": rate / seed_rate, "goal": f"≥ {GOAL:g}×"})
    config = {"model": source, "length": args.length, "batch": args.batch, "repeats": args.repeats,
              "vanish": settings.vanish, "vanish_inc": settings.vanish_inc, "columns_identical": identical,
              "notes_per_column": float(theirs.sum() / args.length)}
    report(rows, config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "compose", "rows": rows, "config": config}, indent=2) + "\n")
    return 0 if all(identical.values()) else 1


def report(rows: list[dict], config: dict) -> None:
    print(f"compose benchmark: {config['model']}, {config['length']} columns, vanish "
          f"{config['vanish']} × {config['vanish_inc']}; ours: median of {config['repeats']} runs")
    print(f"{'figure':44} {'seed':>8} {'ours':>9} {'ratio':>8}  goal   same columns")
    for row in rows:
        same = config["columns_identical"][row["figure"].removeprefix("columns/s, ")]
        print(f"{row['figure']:44} {row['seed']:8.1f} {row['ours']:9.1f} {row['ratio']:7.1f}×  {row['goal']}  "
              f"{'yes' if same else 'NO'}")
    print(f"the seed's loop made {config['notes_per_column']:.1f} notes per column")


if __name__ == "__main__":
    sys.exit(main())
