"""The JSB Chorales benchmark: the standard split, our networks trained on it, NLL per frame on valid and test.

The data is the JSON that papers since Boulanger-Lewandowski et al. (2012) use:
keys ``train``, ``valid`` and (when present) ``test``, each a list of pieces,
each a list of quarter-note frames, each the list of sounding MIDI pitches.
Each piece becomes pages at resolution 1.0 (a column per quarter note), so
the benchmark trains and scores through the same pipeline as `make train`:
``train`` is learned from, ``valid`` is held out and picks the epoch, and
``test``, kept in a folder of its own, is scored once at the end. NLL is in
nats per frame: the sum over pitches of each pitch's negative log-likelihood,
which for the NADE head is the exact NLL of the frame.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pianoroll import PianorollError, Progress, metrics, pages, quiet
from pianoroll import roll as rolls
from pianoroll.model import PRESETS, ModelConfig

RESOLUTION = 1.0  # the frames are quarter notes
SPLITS = ("train", "valid", "test")
EPOCHS = 150  # at most; early stopping on valid ends the default before it (reports/jsb.md)
PATIENCE = 12  # epochs without progress on valid: halving the rate after 6 (not 3) let the default reach 4.993 (was 5.131)
TRANSPOSE = 3  # semitones: measured on valid (reports/experiments.md), though the pieces are all in C
PUBLISHED = {  # nats per frame on JSB Chorales' test split (shared/data/README.md gives the sources)
    "RNN-NADE": 5.56, "DMM": 6.39, "STORN": 6.91, "TCN": 8.10, "GRU": 8.43, "LSTM": 8.45, "RNN": 8.71,
}
NETWORKS = ("default", "independent", "seed")


class JsbError(PianorollError):
    """A benchmark file that is not JSB Chorales JSON."""


@dataclasses.dataclass(frozen=True)
class Split:
    """The pieces of one split as rolls, named ``<split>-<index>``."""

    name: str
    rolls: dict[str, np.ndarray]


def read(path: Path) -> list[Split]:
    """The splits of a JSB Chorales JSON file; raises JsbError naming the file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise JsbError(f"{path}: not readable as JSON ({error})") from None
    if not isinstance(data, dict) or not {"train", "valid"} <= set(data):
        raise JsbError(f"{path}: needs the keys 'train' and 'valid' (and optionally 'test')")
    return [Split(name, {f"{name}-{index:03d}": piece_roll(piece, path, name, index)
                         for index, piece in enumerate(data[name])})
            for name in SPLITS if name in data]


def piece_roll(piece: Any, path: Path, split: str, index: int) -> np.ndarray:
    """One piece (a list of frames of MIDI pitches) as a roll."""
    if not isinstance(piece, list) or not piece or not all(isinstance(frame, list) for frame in piece):
        raise JsbError(f"{path}: {split}[{index}] is not a list of frames")
    roll = rolls.empty(len(piece))
    for column, frame in enumerate(piece):
        for pitch in frame:
            if not isinstance(pitch, (int, float)) or not rolls.in_range(int(pitch)):
                raise JsbError(f"{path}: {split}[{index}] frame {column} has pitch {pitch!r}, outside 21..126")
            roll[column, int(pitch) - rolls.LOWEST_PITCH] = rolls.ON
    return roll


def write_split(rolls_by_name: dict[str, np.ndarray], folder: Path) -> None:
    """Pages and manifest for some pieces, as `make images` would write them."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, roll in rolls_by_name.items():
        written = pages.write_pages(roll, folder, name)
        entries.append(pages.Entry(source=f"jsb:{name}", piece=name, pages=len(written), columns=len(roll),
                                   resolution=RESOLUTION, notes=int(rolls.is_on(roll).sum())))
    pages.write_manifest(folder, entries)


def networks() -> dict[str, ModelConfig]:
    """The three networks the benchmark trains: the default, the independent preset and the seed's."""
    return {"default": PRESETS["convlstm"], "independent": PRESETS["independent"], "seed": PRESETS["seed"]}


def scores(bundle_dir: Path, folder: Path) -> dict[str, float]:
    """A bundle's NLL, Brier and F1 on every piece of a folder of pages."""
    from pianoroll import bundle, dataset, train

    loaded = bundle.load(bundle_dir)
    config = loaded.config.model
    pieces = pages.load_pieces(folder)
    source = dataset.pieces_stream(pieces, sorted(pieces))
    return metrics.frame_scores(train.predict(loaded.model, source, config.inputs()), source.targets)


def benchmark(data_file: Path, work: Path, models_dir: Path, seed: int = 0, epochs: int = EPOCHS,
              only: tuple[str, ...] = NETWORKS, progress: Progress = quiet) -> dict[str, Any]:
    """Train each network on ``train`` (epoch picked on ``valid``) and score it on ``valid`` and ``test``."""
    from pianoroll import evaluate, train

    splits = {split.name: split for split in read(data_file)}
    fit, test = work / "train-valid", work / "test"
    write_split({**splits["train"].rolls, **splits["valid"].rolls}, fit)
    if "test" in splits:
        write_split(splits["test"].rolls, test)
    result: dict[str, Any] = {}
    for name in only:
        config = networks()[name]
        progress(f"training the {name} network ({config.arch}, {config.head} head, {config.loss})")
        started = time.monotonic()
        run = train.Run(epochs=epochs, patience=PATIENCE, seed=seed, transpose=TRANSPOSE,
                        held_out=tuple(sorted(splits["valid"].rolls)))
        trained = train.train(fit, models_dir / name, config, run, verbose=0, progress=progress)
        result[name] = {"valid": dataclasses.asdict(trained.config.metrics.held_out), "epochs": trained.config.epochs,
                        "best_epoch": trained.config.best_epoch,
                        "train_seconds": round(time.monotonic() - started, 1)}
        if "test" in splits:
            result[name]["test"] = scores(models_dir / name, test)
    train_frames = [rolls.as_frames(r) for r in splits["train"].rolls.values()]
    baselines = evaluate.Baselines.fit(train_frames)
    for split in ("valid", "test"):
        if split in splits:
            held = [rolls.as_frames(r) for r in splits[split].rolls.values()]
            for name, figures in baselines.scores(held).items():
                result.setdefault(name, {})[split] = dataclasses.asdict(figures)
    result["config"] = {"data": str(data_file), "resolution": RESOLUTION, "seed": seed, "epochs": epochs,
                        "patience": PATIENCE, "transpose": TRANSPOSE, "repeat_epsilon": baselines.epsilon,
                        "pieces": {name: len(split.rolls) for name, split in splits.items()},
                        "models": {name: dataclasses.asdict(networks()[name]) for name in only},
                        "published_test": PUBLISHED}
    return result


def markdown(result: dict[str, Any]) -> str:
    """reports/jsb.md: our figures beside the published ones."""
    c = result["config"]
    rows = [name for name in (*NETWORKS, "repeat", "iid") if name in result]
    has_test = any("test" in result[name] for name in rows)
    lines = [
        "# JSB Chorales", "",
        f"`{c['data']}`: " + ", ".join(f"{n} {k}" for k, n in c["pieces"].items()) + " pieces, a column per "
        f"quarter note. Trained on `train`, epoch picked on `valid` (at most {c['epochs']}, early stopping after "
        f"{c['patience']}), seed {c['seed']}. NLL in nats per frame (summed over pitches).", "",
        "| predictor | valid NLL | valid Brier |" + (" test NLL | test Brier |" if has_test else "")
        + " epochs | training time |",
        "| --- | ---: | ---: |" + (" ---: | ---: |" if has_test else "") + " ---: | ---: |",
    ]
    for name in rows:
        r = result[name]
        cells = [f"{r['valid']['nll']:.3f}", f"{r['valid']['brier']:.5f}"]
        if has_test:
            cells += [f"{r['test']['nll']:.3f}", f"{r['test']['brier']:.5f}"] if "test" in r else ["–", "–"]
        cells += [f"{r['best_epoch']} of {r['epochs']}" if "epochs" in r else "–",
                  f"{r['train_seconds']:.0f} s" if "train_seconds" in r else "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Published on the test split: " + ", ".join(f"{k} {v}" for k, v in c["published_test"].items())
              + " (shared/data/README.md; RNN-NADE is quoted between 5.2 and 5.6).", ""]
    return "\n".join(lines)
