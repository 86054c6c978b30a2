"""Benchmark: composing with the seed's predict-per-column loop against ours, in one run.

Same bundle, same primer, the seed's vanish rule (0.65, ×1.001 per step).
The seed's loop calls ``model.predict`` once per column; ours steps a traced
graph, one piece and then a batch of pieces at once. The columns must be
identical; the script says whether they are and exits 1 when they are not.
Figures are columns composed per second (steps/s; a batch of 16 makes 16
columns a step), by the wall clock and per second of this process's CPU
time, which other jobs on the machine disturb less. Uses models/default when it exists, else an untrained
network of the default architecture, so it runs anywhere.

    python scripts/bench_compose.py [--model models/default] [--length 106] [--batch 16] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
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


def timed(run) -> tuple[float, float, np.ndarray]:
    """Wall-clock seconds, CPU seconds of this process (all its threads) and the result of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def median_run(run, repeats: int) -> tuple[float, float, np.ndarray]:
    """The run of median wall-clock time among ``repeats`` (others may share the CPU)."""
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

    seed_wall, seed_cpu, theirs = timed(lambda: seed_loop(network, primer, args.length, settings.vanish, settings.vanish_inc))
    rows, identical = [], {}
    for figure, (pieces, run) in ours.items():
        wall, cpu, song = median_run(run, args.repeats)
        identical[figure] = bool(all(np.array_equal(piece, theirs) for piece in song))
        rows.append(row(f"columns/s, {figure}", args.length / seed_wall, pieces * args.length / wall))
        rows.append(row(f"columns per CPU second, {figure}", args.length / seed_cpu, pieces * args.length / cpu))
    config = {"model": source, "length": args.length, "batch": args.batch, "repeats": args.repeats,
              "vanish": settings.vanish, "vanish_inc": settings.vanish_inc, "columns_identical": identical,
              "notes_per_column": float(theirs.sum() / args.length), "load_average": os.getloadavg()[0]}
    report(rows, config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "compose", "rows": rows, "config": config}, indent=2) + "\n")
    return 0 if all(identical.values()) else 1


def row(figure: str, seed: float, ours: float) -> dict:
    return {"figure": figure, "seed": seed, "ours": ours, "ratio": ours / seed, "goal": f"≥ {GOAL:g}×"}


def report(rows: list[dict], config: dict) -> None:
    print(f"compose benchmark: {config['model']}, {config['length']} columns, vanish "
          f"{config['vanish']} × {config['vanish_inc']}; ours: median of {config['repeats']} runs; "
          f"load average {config['load_average']:.1f}")
    print(f"{'figure':58} {'seed':>8} {'ours':>9} {'ratio':>8}  goal   same columns")
    for line in rows:
        same = config["columns_identical"][line["figure"].split(", ", 1)[1]]
        print(f"{line['figure']:58} {line['seed']:8.1f} {line['ours']:9.1f} {line['ratio']:7.1f}×  {line['goal']}  "
              f"{'yes' if same else 'NO'}")
    print(f"the seed's loop made {config['notes_per_column']:.1f} notes per column")


if __name__ == "__main__":
    sys.exit(main())
