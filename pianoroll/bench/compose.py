"""Benchmark: composing with the seed's predict-per-column loop against ours, in one run.

What is fixed: the network, the primer, the length and the rule. The seed's
loop (``seed_compose.py``) calls ``model.predict`` once per column on the
``independent`` network (the seed's kind of network: one sigmoid per pitch,
the window alone as input), deciding by the seed's vanish rule (0.65, ×1.001
per step). Ours composes the same piece from the same bundle the way
``pianoroll compose`` does: ``bundle.stepper(path)`` (numpy, from the
bundle's weights.npz) and ``compose.generate`` in ``seed-vanish`` mode, one
piece and then a batch of pieces at once; and through Keras (``KerasStep``,
one traced graph call per column), the path the seed network takes.

What is measured: columns composed per second (a batch of 16 makes 16
columns a step), by the wall clock and per second of this process's CPU
time, which other jobs on the machine disturb less, in the run of median
wall-clock time among --repeats of each way (the seed's loop's speed moves
by a fifth between runs on a quiet machine); and whether the columns
are the seed's. Through Keras they must be identical, column for column
(the script exits 1 when they are not); in numpy the probabilities agree
with Keras's within float rounding (the bundle's ``stepping_agreement``), so
identical columns are reported, not required.

The default network (``convlstm``: a NADE head that reads the pitches below
in the column, and the beat) cannot be stepped by the seed's loop, which
feeds the window alone; its numpy steps are timed in rows of their own, with
its own default rule (``vanish``), and no seed figure beside them.

Uses the bundles at --independent and --model when they exist, else an
untrained network of each preset with its output biases spread so that some
pitches sound (saved as a bundle in a temporary folder), so it runs anywhere.

    python -m pianoroll.bench.compose [--model models/default] [--independent models/independent]
                                      [--length 106] [--batch 16] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from pianoroll.bench.seed_compose import seed_loop  # noqa: E402

GOAL = 50.0
ABOUT = ("Fixed in every row: the bundle, the primer, the length and the rule. The seed's loop (one "
         "`model.predict` per column) and ours compose the same piece with the same `independent` network by the "
         "seed's vanish rule; through Keras (`KerasStep`) the columns must be identical to the seed's. Ours as "
         "`pianoroll compose` runs it: `bundle.stepper` (numpy, from weights.npz) and `compose.generate`. The "
         "default network's rows time its numpy steps with its own rule (vanish); the seed's loop cannot step "
         "its NADE head, so they have no seed figure. Measured: columns composed per second of wall-clock and "
         "of CPU time.")
VANISH, VANISH_INC = 0.65, 1.001  # the seed's vanish_proof and vanish_inc
AGREEMENT_COLUMNS = 64  # a random piece (a window per column) on which numpy is checked against Keras


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"),
                        help="the default (NADE) bundle, timed in its own rows (default: models/default)")
    parser.add_argument("--independent", type=Path, default=Path("models/independent"),
                        help="an independent-head bundle, run through the seed's loop and ours "
                             "(default: models/independent)")
    parser.add_argument("--length", type=int, default=106, help="columns per piece (the seed's song_length)")
    parser.add_argument("--batch", type=int, default=16, help="pieces at once in the batched run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way, the seed's loop and ours; the median counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def untrained_bundle(preset: str, folder: Path) -> Path:
    """An untrained network of a preset saved as a bundle, output biases spread so some pitches are likely."""
    import keras

    import pianoroll
    from pianoroll import bundle, dataset, model, train
    from pianoroll.roll import DEFAULT_RESOLUTION, PITCHES, from_frames

    keras.utils.set_random_seed(0)
    config = model.PRESETS[preset]
    network = model.build(config)
    output = network.get_layer("nade_output_bias" if config.head == "nade" else "output")
    output.bias.assign(np.random.default_rng(0).normal(-2.5, 1.2, PITCHES).astype("float32"))
    sample = (np.random.default_rng(1).random((AGREEMENT_COLUMNS, PITCHES)) < 0.05).astype(np.float32)
    weights, difference = train.numpy_weights(network, dataset.stream([from_frames(sample)], DEFAULT_RESOLUTION),
                                              config, DEFAULT_RESOLUTION)  # as `pianoroll train` checks a bundle
    path = folder / preset
    data = bundle.DataSummary(images="", pieces=0, frames=0, train_pieces=(), held_out_pieces=(), held_out_fraction=0.1)
    record = bundle.BundleConfig(arch=config.arch, loss=config.loss, model=config, seed=0, resolution=DEFAULT_RESOLUTION,
                                 data=data, transpose=0, strategy="none", metrics=None,
                                 stepping_agreement=difference, epochs=0,
                                 best_epoch=None, version=pianoroll.__version__)
    bundle.save(network, record, path, weights)
    return path


def bundle_and_primer(path: Path, preset: str, scratch: Path) -> tuple[Path, np.ndarray, int, str]:
    """The bundle (given, or untrained in ``scratch``), a primer window, where it ends, and a description."""
    from pianoroll import bundle, compose
    from pianoroll.roll import PITCHES, WINDOW

    if (path / bundle.MODEL_FILE).is_file():
        config = bundle.read_config(path)
        try:
            primer = compose.choose_primers(None, config, 1, seed=0)[0]
            return path, primer.frames, primer.next_column, f"{path} (trained), primer {primer.source}"
        except compose.ComposeError:
            primer = compose.silence_primer()
            return path, primer.frames, primer.next_column, f"{path} (trained), silent primer"
    primer = (np.random.default_rng(0).random((WINDOW, PITCHES)) < 0.04).astype(np.float32)
    return untrained_bundle(preset, scratch), primer, WINDOW, f"untrained {preset} (no bundle at {path}), random primer"


def timed(run) -> tuple[float, float, np.ndarray]:
    """Wall-clock seconds, CPU seconds of this process (all its threads) and the result of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def median_run(run, repeats: int) -> tuple[float, float, np.ndarray]:
    """The run of median wall-clock time among ``repeats`` (others may share the CPU)."""
    runs = sorted((timed(run) for _ in range(repeats)), key=lambda t: t[0])
    return runs[len(runs) // 2]


def composer(step, primer: np.ndarray, pieces: int, length: int, settings, next_column: int, targets):
    """compose.generate on ``pieces`` copies of the primer, as ``pianoroll compose`` calls it."""
    from pianoroll import compose

    primers = np.repeat(primer[None], pieces, axis=0)
    columns = np.full(pieces, next_column)
    return lambda: compose.generate(step, primers, length, settings, 0, next_columns=columns, targets=targets)


def main() -> int:
    args = arguments()
    from pianoroll import bundle, compose, stepping

    with tempfile.TemporaryDirectory(prefix="bench_compose-") as scratch:
        independent, primer, next_column, source = bundle_and_primer(args.independent, "independent", Path(scratch))
        nade, nade_primer, nade_next, nade_source = bundle_and_primer(args.model, "convlstm", Path(scratch))
        independent_config, nade_config = bundle.read_config(independent), bundle.read_config(nade)
        network = bundle.load(independent).model  # the seed's loop and KerasStep run this Keras network
        fastest, keras_step, nade_step = bundle.stepper(independent), stepping.KerasStep(network), bundle.stepper(nade)

    seed_rule = compose.Settings(mode="seed-vanish", vanish=VANISH, vanish_inc=VANISH_INC)
    nade_rule = compose.Settings(mode="vanish")
    same = compose.targets(independent_config)  # seed-vanish reads no targets; given as compose would
    name = type(fastest).__name__
    ours = {  # figure → (pieces, run, compared with the seed's columns)
        "one piece, KerasStep": (1, composer(keras_step, primer, 1, args.length, seed_rule, next_column, same), True),
        f"one piece, {name} (bundle.stepper)": (1, composer(fastest, primer, 1, args.length, seed_rule, next_column, same), True),
        f"{args.batch} pieces at once, {name} (bundle.stepper)": (
            args.batch, composer(fastest, primer, args.batch, args.length, seed_rule, next_column, same), True),
    }
    nade_name, nade_targets = type(nade_step).__name__, compose.targets(nade_config)
    own = {  # the default network's rows: no seed figure
        f"default network, one piece, {nade_name}, vanish": (
            1, composer(nade_step, nade_primer, 1, args.length, nade_rule, nade_next, nade_targets), False),
        f"default network, {args.batch} pieces at once, {nade_name}, vanish": (
            args.batch, composer(nade_step, nade_primer, args.batch, args.length, nade_rule, nade_next, nade_targets),
            False),
    }
    seed_loop(network, primer, 1)  # every way warms up (traces) before the clock starts
    for _, run, _ in (*ours.values(), *own.values()):
        run()

    seed_wall, seed_cpu, theirs = median_run(lambda: seed_loop(network, primer, args.length, VANISH, VANISH_INC),
                                             args.repeats)  # the median of as many runs as ours: like with like
    rows, identical, notes = [], {}, {}
    for figure, (pieces, run, compared) in {**ours, **own}.items():
        wall, cpu, song = median_run(run, args.repeats)
        notes[figure] = float(song.sum() / (pieces * args.length))
        if compared:
            identical[figure] = bool(all(np.array_equal(piece, theirs) for piece in song))
            rows.append(row(f"columns/s, {figure}", args.length / seed_wall, pieces * args.length / wall))
            rows.append(row(f"columns per CPU second, {figure}", args.length / seed_cpu, pieces * args.length / cpu))
        else:
            rows.append(row(f"columns/s, {figure}", None, pieces * args.length / wall))
            rows.append(row(f"columns per CPU second, {figure}", None, pieces * args.length / cpu))
    config = {"independent": source, "default": nade_source, "length": args.length, "batch": args.batch,
              "repeats": args.repeats, "vanish": VANISH, "vanish_inc": VANISH_INC,
              "columns_identical": identical, "keras_identical": identical["one piece, KerasStep"],
              "stepping_agreement": independent_config.stepping_agreement,
              "seed_notes_per_column": float(theirs.sum() / args.length), "notes_per_column": notes,
              "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
              "blas_threads": blas_threads()}
    report(rows, config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "compose", "about": ABOUT, "rows": rows, "config": config},
                                        indent=2) + "\n")
    return 0 if config["keras_identical"] else 1


def blas_threads() -> int | None:
    """The threads numpy's BLAS may use: batched numpy steps slow down badly when they outnumber free cores."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"), default=None)


def row(figure: str, seed: float | None, ours: float) -> dict:
    if seed is None:
        return {"figure": figure, "seed": None, "ours": ours, "ratio": None,
                "goal": "information: the seed's loop cannot step a NADE head"}
    return {"figure": figure, "seed": seed, "ours": ours, "ratio": ours / seed, "goal": f"≥ {GOAL:g}×"}


def report(rows: list[dict], config: dict) -> None:
    print(f"compose benchmark, {config['length']} columns; each way: median of {config['repeats']} runs; "
          f"load average {config['load_average']:.1f}")
    print(f"  seed's loop and seed-vanish ({config['vanish']} × {config['vanish_inc']}): {config['independent']}")
    print(f"  default network, vanish: {config['default']}")
    print(f"  {config['cpus']} CPUs, numpy's BLAS on {config['blas_threads']} threads")
    print(f"{'figure':72} {'seed':>8} {'ours':>9} {'ratio':>8}  same columns")
    for line in rows:
        figure = line["figure"].split(", ", 1)[1]
        same = {True: "yes", False: "NO"}.get(config["columns_identical"].get(figure), "–")
        seed = "–" if line["seed"] is None else f"{line['seed']:.1f}"
        ratio = "–" if line["ratio"] is None else f"{line['ratio']:.1f}×"
        print(f"{line['figure']:72} {seed:>8} {line['ours']:9.1f} {ratio:>8}  {same}")
    print(f"the seed's loop made {config['seed_notes_per_column']:.1f} notes per column; numpy agrees with Keras "
          f"within {config['stepping_agreement']}")


if __name__ == "__main__":
    sys.exit(main())
