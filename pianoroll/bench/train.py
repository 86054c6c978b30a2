"""Benchmark: training the seed's way against ours, on the same pieces, in one run.

The seed's way: every window of every training piece materialised as numpy
arrays, ``fit`` with batch 32, the seed network, MSE, for E epochs (default
10). Ours: windows streamed by tf.data from the rolls, the default network
and loss, given a third of the seed's wall time (a callback stops it before the
batch that would overrun it, so that row is set, not measured).
Figures: windows per second, peak memory (RSS, each way in its own process),
and NLL and Brier on the held-out pieces; then the peak RSS of each way on
half and on all of the training pieces, to show what memory grows with.
Both ways train on the same examples: 9 columns and the column right after.

    python -m pianoroll.bench.train [--images images] [--epochs 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from pianoroll import dataset, metrics, model, train  # noqa: E402

MEMORY_STEPS = 100  # batches trained in the memory runs: enough to reach the steady state


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="images", help="pages + manifest (default: images)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the seed's way, E (default: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-steps", type=int, default=MEMORY_STEPS,
                        help=f"batches trained in each memory run (default: {MEMORY_STEPS})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one measured run, as JSON; used by this script
    return parser.parse_args()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def data(images: str, fraction: float):
    """The pieces, the first ``fraction`` of the training pieces (by name) and the held-out pieces."""
    pieces = dataset.load(Path(images))
    train, held_out = dataset.split(pieces, 0.1)
    train = train[: max(1, round(len(train) * fraction))]
    return pieces, train, held_out


def seed_way(job: dict) -> dict:
    """All windows in memory as arrays, then fit(X, y, batch_size=32), as the seed did."""
    keras.utils.set_random_seed(job["seed"])
    pieces, names, held_out = data(job["images"], job["fraction"])
    examples = [dataset.piece_windows(pieces[name][0]) for name in names]
    x = np.concatenate([e[0] for e in examples])
    y = np.concatenate([e[1] for e in examples])
    del examples
    config = model.PRESETS["seed"]
    network = model.build(config)
    epochs = job.get("epochs", 1)
    size = (x.nbytes + y.nbytes) / 2**20
    if job.get("steps"):
        x, y = x[: job["steps"] * 32], y[: job["steps"] * 32]  # views: the full arrays stay in memory
    start = time.perf_counter()
    network.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "windows": len(x) * epochs, "peak_rss_mib": peak_rss_mib(),
            "array_mib": size, **held_out_figures(network, config, job, pieces, held_out)}


def our_way(job: dict) -> dict:
    """Windows streamed from the rolls, the default network, stopped when its time is up."""
    keras.utils.set_random_seed(job["seed"])
    pieces, names, held_out = data(job["images"], job["fraction"])
    source = dataset.pieces_stream(pieces, names)
    config = model.PRESETS["convlstm"]
    network = model.build(config)
    stream = dataset.dataset(source, config.batch_size, shuffle=True, seed=job["seed"], inputs=config.inputs())
    if job.get("steps"):
        stream = stream.take(job["steps"])
    clock = Clock(job.get("budget"))
    epochs = 1 if job.get("steps") else 10_000  # a memory run takes its batches once; a timed run, until time is up
    network.fit(stream, epochs=epochs, verbose=0, callbacks=[clock])
    windows = clock.batches * config.batch_size
    return {"seconds": clock.seconds, "windows": windows, "peak_rss_mib": peak_rss_mib(),
            "rolls_mib": source.frames.nbytes / 2**20, "epochs": windows / max(source.windows, 1),
            **held_out_figures(network, config, job, pieces, held_out)}


def held_out_figures(network, config: model.ModelConfig, job: dict, pieces, held_out: list[str]) -> dict:
    """NLL, Brier and F1 on the held-out pieces; skipped in the memory runs, which only train a few batches."""
    if job.get("steps"):
        return {}
    held = dataset.pieces_stream(pieces, held_out)
    return metrics.frame_scores(train.predict(network, held, config.inputs()), held.targets)


class Clock(keras.callbacks.Callback):
    """Counts batches and stops training before the batch that would overrun the budget of seconds.

    Stopping once the budget is spent would overrun it by up to a batch (the
    wall-time row read 0.334 of the seed's time for a budget of a third); a
    batch takes about as long as the one before it, so the clock stops when
    the next batch would end past the budget.
    """

    def __init__(self, budget: float | None):
        super().__init__()
        self.budget, self.batches = budget, 0
        self.start = self.batch_start = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self.batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        now = time.perf_counter()
        spent, batch_time = now - self.start, now - self.batch_start
        if self.budget and spent + batch_time > self.budget:
            self.model.stop_training = True

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def measure(job: dict) -> dict:
    """One way, in a fresh process, so its peak RSS is its own."""
    done = subprocess.run([sys.executable, "-m", __spec__.name, "--child", json.dumps(job)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        raise SystemExit(f"bench_train: the {job['way']} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(figure: str, seed: float, ours: float, goal: str) -> dict:
    return {"figure": figure, "seed": round(seed, 4), "ours": round(ours, 4),
            "ratio": round(ours / seed, 3) if seed else float("nan"), "goal": goal}


def main() -> int:
    args = arguments()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(seed_way(job) if job["way"] == "seed" else our_way(job)))
        return 0
    base = {"images": args.images, "seed": args.seed, "fraction": 1.0}
    seed = measure({**base, "way": "seed", "epochs": args.epochs})
    ours = measure({**base, "way": "ours", "budget": seed["seconds"] / 3})
    memory = {(way, fraction): measure({**base, "way": way, "fraction": fraction, "steps": args.memory_steps})
              for way in ("seed", "ours") for fraction in (0.5, 1.0)}
    growth = {way: memory[(way, 1.0)]["peak_rss_mib"] - memory[(way, 0.5)]["peak_rss_mib"] for way in ("seed", "ours")}
    rows = [
        row("windows per second", seed["windows"] / seed["seconds"], ours["windows"] / ours["seconds"],
            "information (ours is a larger network)"),
        row("training wall time (s)", seed["seconds"], ours["seconds"], "ours ≤ a third of the seed's"),
        row("held-out NLL (nats/frame)", seed["nll"], ours["nll"], "ours lower"),
        row("held-out Brier", seed["brier"], ours["brier"], "ours lower"),
        row("peak RSS, all pieces (MiB)", seed["peak_rss_mib"], ours["peak_rss_mib"], "ours lower"),
        row("peak RSS growth, half → all pieces (MiB)", growth["seed"], growth["ours"],
            "ours ≈ the rolls' growth, not the windows'"),
    ]
    config = {"images": args.images, "seed_epochs": args.epochs, "ours_epochs": round(ours["epochs"], 3),
              "seed_windows_mib": seed["array_mib"], "ours_rolls_mib": ours["rolls_mib"],
              "rolls_growth_mib": memory[("ours", 1.0)]["rolls_mib"] - memory[("ours", 0.5)]["rolls_mib"],
              "windows_growth_mib": memory[("seed", 1.0)]["array_mib"] - memory[("seed", 0.5)]["array_mib"],
              "memory_steps": args.memory_steps, "cpus": os.cpu_count()}
    print(f"{'figure':<42} {'seed':>10} {'ours':>10} {'ratio':>7}  goal")
    for r in rows:
        print(f"{r['figure']:<42} {r['seed']:>10.4g} {r['ours']:>10.4g} {r['ratio']:>7.3g}  {r['goal']}")
    print(f"arrays of the seed's way {config['seed_windows_mib']:.1f} MiB; our rolls {config['ours_rolls_mib']:.1f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "train", "rows": rows, "config": config}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
