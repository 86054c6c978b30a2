"""The chorale benchmark: music21's Bach chorales at a quarter note per column, the seed network and the default.

Both networks are trained on one stable split of the built-in chorales (the
split `make train` makes) and scored by ``evaluate`` on the pieces held out,
beside its baselines; the default network's composed music is measured against
the held-out chorales too. A column per quarter note is the unit of the
published chorale figures, which the report quotes as anchors: they are for
JSB Chorales (``jsb``), with their own split and quantisation, not equal tests.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from pianoroll import PianorollError, Progress, evaluate, quiet
from pianoroll.model import PRESETS, ModelConfig

RESOLUTION = 1.0  # quarter notes per column, as in the published chorale figures
EPOCHS = 20  # at most; early stopping may end a run before
PATIENCE = 3
PUBLISHED = {  # nats per quarter-note frame on JSB chorales (Boulanger-Lewandowski et al., 2012)
    "LSTM": 8.7, "RNN-RBM": 7.3, "RNN-NADE": 5.6,
}


def convert(images_dir: Path, progress: Progress) -> None:
    """The built-in chorales as pages at quarter-note resolution; pages already there are kept."""
    from pianoroll import images, scores

    batch = images.Batch(scores.chorales(), images_dir, images.Options(resolution=RESOLUTION))
    if batch.tasks:
        progress(f"{images_dir}: converting {len(batch.tasks)} chorales at resolution {RESOLUTION}")
    for _ in batch.run():
        pass
    if not batch.summary().pieces:
        raise PianorollError(f"{images_dir}: no chorale could be converted")


def networks() -> dict[str, tuple[ModelConfig, int]]:
    """The two networks the benchmark trains, each with the transposition `make train` gives it (none)."""
    return {"seed": (dataclasses.replace(PRESETS["seed"], loss="mse"), 0),
            "default": (PRESETS["convlstm"], 0)}


def benchmark(images_dir: Path, models_dir: Path, seed: int = 0, count: int | None = None,
              progress: Progress = quiet) -> dict[str, Any]:
    """Train the seed network and the default on one split, and score both on the held-out chorales."""
    from pianoroll import bundle, train

    convert(images_dir, progress)
    result: dict[str, Any] = {}
    for name, (config, transpose) in networks().items():
        progress(f"training the {name} network ({config.arch}, {config.loss}, transpose ±{transpose})")
        started = time.monotonic()
        run = train.Run(epochs=EPOCHS, patience=PATIENCE, seed=seed, transpose=transpose)
        train.train(images_dir, models_dir / name, config, run, verbose=0, progress=progress)
        seconds = time.monotonic() - started
        model = bundle.load(models_dir / name)
        report = evaluate.evaluate(model, count=count if name == "default" else 0, seed=seed, progress=progress)
        result[name] = {**report["scores"]["model"], "epochs": model.config.epochs, "train_seconds": round(seconds, 1)}
        if name == "default":
            result["iid"], result["repeat"] = report["scores"]["iid"], report["scores"]["repeat"]
            result["music"] = report["music"]
    result["config"] = {
        "images": str(images_dir), "resolution": RESOLUTION, "seed": seed,
        "epochs": EPOCHS, "patience": PATIENCE, "repeat_epsilon": report["repeat_epsilon"],
        "held_out_pieces": report["held_out_pieces"], "held_out_frames": report["held_out_frames"],
        "models": {name: {"model": dataclasses.asdict(config), "transpose": transpose}
                   for name, (config, transpose) in networks().items()},
        "published": PUBLISHED,
    }
    return result


def markdown(result: dict[str, Any]) -> str:
    """reports/chorales.md: our figures beside the published ones."""
    c = result["config"]
    ours = {name: result[name] for name in ("default", "seed", "iid", "repeat")}
    lines = [
        "# The chorale benchmark", "",
        f"music21's Bach chorales at {c['resolution']} quarter notes per column; {len(c['held_out_pieces'])} "
        f"pieces ({c['held_out_frames']} frames) held out by the stable split; seed {c['seed']}; at most "
        f"{c['epochs']} epochs, early stopping after {c['patience']}. Window: 9 columns.", "",
        *evaluate.scores_table(ours), "",
        "Published, nats per quarter-note frame on JSB chorales (full history, their own split and "
        "quantisation, so anchors rather than equal tests): "
        + ", ".join(f"{name} ≈ {nll}" for name, nll in c["published"].items()) + ".", "",
        "Training time: " + ", ".join(f"{name} {result[name]['train_seconds']:.0f} s "
                                      f"({result[name]['epochs']} epochs)" for name in ("seed", "default")) + ".", "",
    ]
    if "music" in result:
        lines += ["## The default network's music against the held-out chorales", "",
                  *evaluate.music_section(result["music"])]
    return "\n".join(lines)
