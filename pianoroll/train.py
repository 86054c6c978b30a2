"""Fit a network on the pages: checkpoints, early stopping, resume, held-out figures.

Training is Keras ``fit`` with callbacks: the best model by held-out loss is
kept, training stops early when the held-out loss stops improving, the state
is backed up every few hundred batches so that a killed run continues where
it was, and the history goes to history.csv, loss.png and TensorBoard.

Everything in flight lives in ``<model>/.train/``; the bundle (model.keras +
config.json) is replaced only once the new model is complete and measured.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import keras
import numpy as np

import pianoroll
from pianoroll import PianorollError, Progress, bundle, dataset, event_networks, files, metrics, model, quiet, sequences
from pianoroll.bundle import CONFIG_FILE, MODEL_FILE, WEIGHTS_FILE
from pianoroll.model import ModelConfig
from pianoroll.roll import WINDOW

if TYPE_CHECKING:
    import tensorflow as tf

BACKUP_EVERY = 200  # batches between backups, so a killed epoch loses little
LR_FACTOR = 0.5  # the learning rate halves after half the early-stopping patience without a better held-out loss
STRATEGIES = bundle.STRATEGIES

HISTORY = "history.csv"
LOSS_PLOT = "loss.png"
LOGS = "logs"
WORK = ".train"  # the run in flight: backup, best checkpoint, settings
OURS = {MODEL_FILE, CONFIG_FILE, WEIGHTS_FILE, HISTORY, LOSS_PLOT, LOGS, WORK}
AGREEMENT_WINDOWS = 512  # held-out windows on which the numpy stepper is checked against Keras
PREDICT_BATCH = 512  # windows per batch when measuring on held-out pieces


class TrainError(PianorollError):
    """Training cannot start or finish: a bad images folder or a model folder that is not ours."""


@dataclasses.dataclass(frozen=True)
class Run:
    """How a model is trained, beyond its network: all of it decides the result.

    ``epochs`` and ``patience`` left as None take the network preset's.
    ``held_out`` names the pieces to hold out (a benchmark's validation
    split) instead of ``held_out_fraction`` of them chosen by name hash.
    """

    epochs: int | None = None
    patience: int | None = None
    seed: int = 0
    held_out_fraction: float = 0.1
    held_out: tuple[str, ...] | None = None
    transpose: int = 0
    strategy: str = "none"
    backup_every: int = BACKUP_EVERY

    def resolved(self, config: ModelConfig) -> "Run":
        """The run with the preset's epochs and patience filled in."""
        return dataclasses.replace(self, epochs=config.epochs if self.epochs is None else self.epochs,
                                   patience=config.patience if self.patience is None else self.patience)


@dataclasses.dataclass
class Result:
    config: bundle.BundleConfig | None  # None on a worker of a cluster: only the chief writes the bundle
    resumed_at: int  # the epoch a resumed run continued from; 0 for a fresh run
    epochs_run: int


def check_model_dir(model_dir: Path) -> None:
    """Refuse a model folder that holds anything but a bundle of ours: nothing there is touched."""
    model_dir = Path(model_dir)
    if model_dir.exists() and not model_dir.is_dir():
        raise TrainError(f"{model_dir}: is a file, not a model folder")
    if not model_dir.is_dir():
        return
    strangers = sorted(p.name for p in model_dir.iterdir() if not is_ours(p.name))
    if strangers:
        raise TrainError(f"{model_dir}: holds files that are not a pianoroll model ({', '.join(strangers[:3])}); "
                         "choose another --model folder")
    config = model_dir / CONFIG_FILE
    if config.exists():
        try:
            ours = "arch" in json.loads(config.read_text())
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise TrainError(f"{config}: not a pianoroll model config; choose another --model folder")


def is_ours(name: str) -> bool:
    """A file a bundle or a run in flight writes, including the temporary names of files being written."""
    bare = name.lstrip(".")
    temporary = name.startswith(".") and any(bare.startswith(ours) for ours in (MODEL_FILE, CONFIG_FILE, WEIGHTS_FILE, HISTORY, LOSS_PLOT))
    return name in OURS or temporary or name.startswith(f"{WORK}-worker-")


def load_data(images_dir: Path, held_out_fraction: float,
              held_out: list[str] | None = None) -> tuple[dict, list[str], list[str]]:
    """The pieces and their split (by name hash, or the given held-out pieces); a folder without both sets is refused."""
    if not 0 < held_out_fraction < 1:
        raise TrainError(f"--held-out {held_out_fraction}: must be between 0 and 1")
    pieces = dataset.load(images_dir)
    if held_out is None:
        train, held_out = dataset.split(pieces, held_out_fraction)
    else:
        held_out = [name for name in held_out if name in pieces]
        train = [name for name in sorted(pieces) if name not in set(held_out)]
    if not train or not held_out:
        raise TrainError(f"{images_dir}: {len(pieces)} piece(s); training needs at least two "
                         "(one to learn from, one held out to measure on)")
    return pieces, train, held_out


def train(images_dir: Path, model_dir: Path, config: ModelConfig, run: Run = Run(), verbose: int | str = "auto",
          progress: Progress = quiet) -> Result:
    """Train ``config`` on the pages in ``images_dir`` as ``run`` says and write the bundle to ``model_dir``.

    Running the same call again after an interruption continues the run;
    a call with other settings starts afresh. ``progress`` receives one-line
    news for the user (what data, whether resumed); Keras prints its own
    progress bar when ``verbose``.
    """
    run = run.resolved(config)
    strategy = run.strategy
    if config.arch not in model.PRESETS:
        raise TrainError(f"--arch {config.arch}: must be one of {', '.join(model.PRESETS)}")
    if strategy not in STRATEGIES:
        raise TrainError(f"--strategy {strategy}: must be one of {', '.join(STRATEGIES)}")
    if strategy == "multiworker" and "TF_CONFIG" not in os.environ:
        raise TrainError("--strategy multiworker: set TF_CONFIG to describe the cluster (see the README)")
    if config.arch in event_networks.ARCHS and (config.loss != model.PRESETS[config.arch].loss or run.transpose):
        raise TrainError(f"--arch {config.arch}: trains with its seed's loss ({model.PRESETS[config.arch].loss}) "
                         "and without --transpose")
    images_dir, model_dir = Path(images_dir), Path(model_dir)
    check_model_dir(model_dir)
    held_out = None if run.held_out is None else list(run.held_out)
    pieces, train_names, held_out_names = load_data(images_dir, run.held_out_fraction, held_out)
    summary = dataset.summary(pieces, train_names, held_out_names, images_dir, run.held_out_fraction)
    data = data_summary(summary, music_targets(pieces, train_names))
    resolution = next(iter(pieces.values()))[1]
    progress(f"{images_dir}: {summary['pieces']} pieces, {summary['frames']} columns at {resolution} quarter notes; "
           f"{len(held_out_names)} held out")

    import tensorflow as tf

    keras.utils.set_random_seed(run.seed)
    tf.config.experimental.enable_op_determinism()
    distribution = make_strategy(strategy)
    chief = is_chief(distribution)
    work = model_dir / (WORK if chief else f"{WORK}-worker-{distribution.cluster_resolver.task_id}")
    settings = {"run": dataclasses.asdict(run) | {"epochs": None, "held_out": None}, "model": dataclasses.asdict(config),
                "images": str(images_dir), "pieces": sorted(pieces), "held_out": held_out_names}
    resumed_at = prepare_work(work, settings)
    epochs_run = 0
    if resumed_at:
        progress(f"{model_dir}: continuing an interrupted run from epoch {resumed_at + 1}")

    batch = config.batch_size * distribution.num_replicas_in_sync  # --batch-size is per device
    encoding = None
    if config.arch in event_networks.ARCHS:
        encoding, events, held_out = sequences.split_streams(config.arch, config.events, images_dir,
                                                             {name: roll for name, (roll, _) in pieces.items()},
                                                             resolution, train_names, held_out_names)
        for stream, kind in ((events, "training"), (held_out, "held-out")):
            if not stream.windows:
                raise TrainError(f"{images_dir}: the {kind} pieces hold {len(stream.inputs)} events, "
                                 f"the {config.arch} network needs more than its window of {config.events}")
        train_data = sequences.dataset(events, batch, shuffle=True, seed=run.seed)
        validation = sequences.dataset(held_out, batch)
    else:
        train_data = dataset.dataset(dataset.pieces_stream(pieces, train_names), batch, shuffle=True, seed=run.seed,
                                     transpose=run.transpose, inputs=config.inputs())
        held_out = dataset.pieces_stream(pieces, held_out_names)
        validation = dataset.dataset(held_out, batch, inputs=config.inputs())
    with distribution.scope():
        network = model.build(config) if encoding is None else event_networks.build(config, encoding)
        if strategy == "multiworker":
            fit_across_workers(network)
        if not finished(work):
            steps = epoch_steps(config, events.windows if encoding is not None else 0, batch)
            history = network.fit(train_data.repeat() if steps else train_data,
                                  validation_data=validation, epochs=run.epochs, steps_per_epoch=steps,
                                  shuffle=False, callbacks=make_callbacks(work, model_dir, run, chief), verbose=verbose)
            epochs_run = len(history.epoch)
            mark_finished(work)
    if not chief:
        shutil.rmtree(work, ignore_errors=True)
        return Result(None, resumed_at, epochs_run)
    record = bundle.BundleConfig(arch=config.arch, loss=config.loss, model=config, seed=run.seed,
                                 resolution=float(resolution), data=data, transpose=run.transpose, strategy=strategy,
                                 metrics=None,
                                 stepping_agreement=None, epochs=0, best_epoch=None, version=pianoroll.__version__,
                                 encoding=encoding)
    return Result(write_bundle(work, model_dir, network, held_out, record), resumed_at, epochs_run)


def epoch_steps(config: ModelConfig, windows: int, batch: int) -> int | None:
    """The batches of an epoch that stops short of all windows (``steps_per_epoch``), or None for every window once."""
    if not config.steps_per_epoch or config.steps_per_epoch * batch >= windows:
        return None
    return config.steps_per_epoch


def data_summary(summary: dict[str, Any], music: bundle.TrainingMusic) -> bundle.DataSummary:
    """``dataset.summary`` and the training music's figures as the bundle's typed record of its data."""
    return bundle.DataSummary(**{**summary, "train_pieces": tuple(summary["train_pieces"]),
                                 "held_out_pieces": tuple(summary["held_out_pieces"])},
                              music=music)


def write_bundle(work: Path, model_dir: Path, network: keras.Model, held_out: dataset.Stream | sequences.EventStream,
                 record: bundle.BundleConfig) -> bundle.BundleConfig:
    """Measure the best model on the held-out pieces, then swap in history, plot and bundle; returns its config."""
    model.nade_layer()
    best = keras.models.load_model(work / "best.keras", compile=False) if (work / "best.keras").exists() else network
    rows = read_history(work / HISTORY)
    if record.encoding is not None:  # an event network: its own loss and NLL per event, stepped by TensorFlow
        found = event_networks.figures(best, sequences.dataset(held_out, PREDICT_BATCH), held_out, record.arch)
        measured = bundle.Metrics(None, bundle.EventScores(found.loss, found.nll, found.events))
        weights, agreement = None, None
    else:
        scores = metrics.frame_scores(predict(best, held_out, record.model.inputs()), held_out.targets)
        measured = bundle.Metrics(bundle.FrameScores(**scores))
        weights, agreement = numpy_weights(best, held_out, record.model, record.resolution)
    record = dataclasses.replace(record, metrics=measured,
                                 stepping_agreement=agreement, epochs=len(rows), best_epoch=best_epoch(rows))
    files.write_atomic(model_dir / HISTORY, (work / HISTORY).read_bytes())
    plot_history(rows, model_dir / LOSS_PLOT, f"{model_dir.name}: {record.arch}, {record.loss}")
    bundle.save(best, record, model_dir, weights)
    shutil.rmtree(work, ignore_errors=True)
    return record


def numpy_weights(network: keras.Model, held_out: dataset.Stream, config: ModelConfig,
                  resolution: float) -> tuple[dict[str, np.ndarray] | None, float | None]:
    """Our network's weights for numpy stepping, once the numpy network is seen to agree with Keras.

    Both compute the probabilities of the first held-out windows; the largest
    difference is returned. Weights that disagree beyond float rounding
    (``stepping.AGREEMENT``) are not written, and compose then steps with TensorFlow.
    """
    from pianoroll import stepping

    if config.arch == "seed":
        return None, None
    weights = model.export_weights(network)
    sample = dataclasses.replace(held_out, starts=held_out.starts[:AGREEMENT_WINDOWS])
    given = sample.inputs(config.inputs())
    expected = network.predict(given, verbose=0) if sample.windows else np.zeros((0, 1))
    columns = sample.columns[sample.starts + WINDOW]
    none = np.zeros((sample.windows, 0), np.float32)  # for an input the network does not read
    ours = stepping.ColumnNetwork(weights, resolution, config.inputs()).probabilities(
        given["window"], columns, given.get("key", none), given.get("column", none))
    difference = float(np.max(np.abs(ours - expected), initial=0.0))
    return (weights if difference <= stepping.AGREEMENT else None), difference


def music_targets(pieces: Mapping[str, tuple[np.ndarray, float]], names: list[str]) -> bundle.TrainingMusic:
    """What the training music is like, for compose's vanish rule: notes per column, how long notes last."""
    from pianoroll import measures

    found = [measures.piece_measures(pieces[name][0], pieces[name][1]) for name in names]
    columns = sum(m.columns for m in found)
    lengths = [np.round(measures.note_lengths(measures.sounding(frames), resolution) / resolution)
               for frames, resolution in (pieces[name] for name in names)]  # a re-strike unseen, as the network sees it
    return bundle.TrainingMusic(density=sum(m.density * m.columns for m in found) / max(columns, 1),
                                longest_note_beats=max((m.longest_note_beats for m in found), default=0.0),
                                change_share=float(np.mean([m.change_share for m in found])) if found else 0.0,
                                note_survival=measures.survival(np.concatenate(lengths) if lengths else np.zeros(0)))


def make_strategy(name: str) -> "tf.distribute.Strategy":
    """The tf.distribute strategy: one device, every local device (mirrored), or the TF_CONFIG cluster."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def fit_across_workers(network: keras.Model) -> None:
    """Work around two faults of Keras 3.15's ``fit`` under MultiWorkerMirroredStrategy with several workers.

    Keras reduces the first batch of a distributed dataset as one nested
    value, which tf.distribute refuses, before it builds a model created in
    the strategy's scope; our networks are built already, so that step is
    skipped by leaving the model's own strategy unset (fit runs inside the
    scope and picks the strategy up from there). Keras then averages each
    worker's loss along axis 0, which a scalar does not have; the steps
    return each figure as a one-element vector instead, which averages to
    the same scalar.
    """
    import tensorflow as tf

    def one_element(step):
        return lambda data: {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    network._distribute_strategy = None
    network.train_step = one_element(network.train_step)
    network.test_step = one_element(network.test_step)


def is_chief(distribution: "tf.distribute.Strategy") -> bool:
    """Only one worker of a cluster writes the bundle (the chief, or worker 0 when there is none)."""
    return bool(distribution.extended.should_checkpoint)


def prepare_work(work: Path, settings: dict) -> int:
    """Keep an interrupted run's state if it had the same settings; returns the epoch it reached."""
    record = work / "run.json"
    try:
        same = json.loads(record.read_text())["settings"] == json.loads(json.dumps(settings))
    except (OSError, ValueError, KeyError):
        same = False
    if not same:
        shutil.rmtree(work, ignore_errors=True)
        bundle.write_json(record, {"settings": settings, "finished": False})
        return 0
    reached = backed_up_epoch(work)
    trim_history(work / HISTORY, reached)
    return reached


def backed_up_epoch(work: Path) -> int:
    """How many epochs the last backup had completed (Keras's training_metadata.json)."""
    try:
        return int(json.loads((work / "backup" / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def finished(work: Path) -> bool:
    """Whether fit already ended in an interrupted run, which then only has its bundle left to write."""
    try:
        return bool(json.loads((work / "run.json").read_text())["finished"])
    except (OSError, ValueError, KeyError):
        return False


def mark_finished(work: Path) -> None:
    record = work / "run.json"
    if record.exists():
        bundle.write_json(record, {**json.loads(record.read_text()), "finished": True})


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def trim_history(path: Path, epochs: int) -> None:
    """Drop history rows of epochs the backup does not cover: they will be trained again."""
    rows = read_history(path)
    if not rows:
        return
    kept = [row for row in rows if row["epoch"] < epochs]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "epoch": int(row["epoch"])} for row in kept)


def best_epoch(rows: list[dict[str, float]]) -> int | None:
    """The 1-based epoch with the lowest held-out loss."""
    scored = [row for row in rows if "val_loss" in row]
    return int(min(scored, key=lambda row: row["val_loss"])["epoch"]) + 1 if scored else None


def make_callbacks(work: Path, model_dir: Path, run: Run, chief: bool) -> list:
    """Checkpoint, early stopping, history and logs, then the backup (last, so it records what they wrote)."""
    rows = read_history(work / HISTORY)
    losses = [row["val_loss"] for row in rows if "val_loss" in row]
    best = min(losses) if losses else None
    since_best = len(losses) - 1 - int(np.argmin(losses)) if losses else 0
    callbacks = [
        KeepBest(str(work / "best.keras"), monitor="val_loss", save_best_only=True, initial_value_threshold=best),
        ResumableEarlyStopping(best, since_best, monitor="val_loss", patience=run.patience),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=LR_FACTOR, patience=max(1, run.patience // 2),
                                          verbose=0),
        keras.callbacks.CSVLogger(str(work / HISTORY), append=True),
    ]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(str(model_dir / LOGS), write_graph=False))
    callbacks.append(keras.callbacks.BackupAndRestore(str(work / "backup"), save_freq=run.backup_every,
                                                      double_checkpoint=True, delete_checkpoint=False))
    return callbacks


class KeepBest(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes under a temporary name and renames, so a kill never leaves half a file."""

    def __init__(self, filepath: str, **kwargs):
        self.final = Path(filepath)
        super().__init__(str(self.final.with_name(".tmp." + self.final.name)), **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if Path(self.filepath).exists():
            os.replace(self.filepath, self.final)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that starts from the best loss and the patience used up before an interruption."""

    def __init__(self, best: float | None, since_best: int, **kwargs):
        super().__init__(**kwargs)
        self.resume = (best, since_best)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        best, since_best = self.resume
        if best is not None:
            self.best, self.wait = best, since_best


def predict(network: keras.Model, source: dataset.Stream, inputs: tuple[str, ...] = ("window",),
            batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """The network's probabilities for every window of a stream, in order, streamed in batches.

    For a NADE head the true next column is fed in, so each pitch's
    probability is conditioned on the true pitches below it: the NLL summed
    over pitches is then the exact NLL of the column.
    """
    if source.windows == 0:
        return np.zeros((0, source.frames.shape[1]), np.float32)
    return network.predict(dataset.dataset(source, batch_size, inputs=inputs), verbose=0)


def plot_history(rows: list[dict[str, float]], path: Path, title: str) -> None:
    """loss.png: training and held-out loss per epoch (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(row["epoch"]) + 1 for row in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("loss", "training"), ("val_loss", "held out")):
        ax.plot(epochs, [row.get(key, np.nan) for row in rows], marker="o", label=label)
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    files.write_figure(fig, path)


def summary_table(figures: Mapping[str, float]) -> str:
    """The held-out figures as a short table for the command to print."""
    lines = ["held-out figure        value", "---------------------  -------"]
    names = {"nll": "NLL (nats/frame)", "brier": "Brier (MSE/pitch)", "f1": "frame F1 at 0.5"}
    lines += [f"{names[key]:<21}  {figures[key]:7.4f}" for key in names]
    return "\n".join(lines)
