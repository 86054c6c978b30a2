"""A model bundle: ``models/<name>/`` with model.keras and config.json.

The bundle holds everything compose and evaluate need and nothing they must
guess: the grid (resolution, lowest pitch, pitch count, window), the network's
configuration, the data it saw and which pieces were held out.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, NoReturn

import numpy as np

from pianoroll import PianorollError
from pianoroll.files import write_atomic
from pianoroll.model import HEADS, OPTIMIZERS, PRESETS, ModelConfig  # numpy only: no TensorFlow
from pianoroll.roll import LOWEST_PITCH, PITCHES, WINDOW
from pianoroll.sequences import KINDS, EventEncoding, Timing

FORMAT = 3  # bumped whenever a bundle written before can no longer be read the same way
READABLE_FORMATS = (2, FORMAT)  # 3 added the event networks (``encoding``, ``metrics.events``): 2 reads as before
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"  # our networks' weights by role: compose steps them in numpy, without TensorFlow


class BundleError(PianorollError):
    """A bundle that is missing, incomplete or from an incompatible version."""


STRATEGIES = ("none", "mirrored", "multiworker")  # tf.distribute strategies train knows
LOSSES = ("mse", "bce", "cce", "cce+mse")  # cce: categorical cross-entropy (tokens, messages); cce+mse: notes


@dataclasses.dataclass(frozen=True)
class TrainingMusic:
    """What the training music is like: the bounds compose's vanish rule keeps a piece within."""

    density: float  # sounding notes per column
    longest_note_beats: float
    change_share: float  # share of columns that differ from the one before
    note_survival: tuple[float, ...] = ()  # share of notes lasting at least a columns, a = 0, 1, …; () in older bundles

    @classmethod
    def from_json(cls, data: Any, path: Path) -> TrainingMusic:
        """The ``data.music`` object, each figure checked: a broken one fails on load, not mid-compose."""
        take = _Taker(_mapping(data, path, "data.music", "an object (the training music's figures)"), path, "data.music.")
        return cls(density=take.number("density", 0.0), longest_note_beats=take.number("longest_note_beats", 0.0),
                   change_share=take.number("change_share", 0.0, 1.0), note_survival=take.shares("note_survival"))


@dataclasses.dataclass(frozen=True)
class FrameScores:
    """A network's held-out figures (``metrics.frame_scores``): NLL in nats per frame, Brier, F1 at 0.5."""

    nll: float
    brier: float
    f1: float

    @classmethod
    def from_json(cls, data: Any, path: Path) -> FrameScores:
        """The ``metrics.held_out`` object, each figure checked."""
        field = "metrics.held_out"
        take = _Taker(_mapping(data, path, field, "an object (NLL, Brier and F1)"), path, f"{field}.")
        return cls(nll=take.number("nll", 0.0), brier=take.number("brier", 0.0, 1.0), f1=take.number("f1", 0.0, 1.0))


@dataclasses.dataclass(frozen=True)
class EventScores:
    """An event network's held-out figures in its own terms: its loss and its NLL in nats per event."""

    loss: float
    nll_per_event: float
    events: int

    @classmethod
    def from_json(cls, data: Any, path: Path) -> EventScores:
        """The ``metrics.events`` object (format 3), each figure checked: the loss and NLL from 0 up, a count of events."""
        take = _Taker(_mapping(data, path, "metrics.events", "an object (loss, NLL per event, events)"), path,
                      "metrics.events.")
        figures = {key: take.number(key, 0.0) for key in ("loss", "nll_per_event")}
        return cls(**figures, events=take.integer("events", 0))


@dataclasses.dataclass(frozen=True)
class Metrics:
    """The figures train measured on the held-out pieces: per frame (column networks) or per event (event networks)."""

    held_out: FrameScores | None
    events: EventScores | None = None

    @classmethod
    def from_json(cls, data: Any, path: Path) -> Metrics:
        """The ``metrics`` object: the per-frame figures, or an event network's (format 3) in ``events``."""
        found = _mapping(data, path, "metrics", "an object (the held-out figures)")
        if found.get("events") is not None and found.get("held_out") is None:
            return cls(held_out=None, events=EventScores.from_json(found["events"], path))
        return cls(held_out=FrameScores.from_json(found.get("held_out"), path))

    def figures(self) -> dict[str, Any]:
        """The held-out figures as a flat record: a piece's JSON and the command's summary show them."""
        return dataclasses.asdict(self.held_out if self.held_out is not None else self.events)


@dataclasses.dataclass(frozen=True)
class DataSummary:
    """The data a bundle was trained on: compose draws primers from it and evaluate scores its held-out pieces."""

    images: str
    pieces: int
    frames: int
    train_pieces: tuple[str, ...]
    held_out_pieces: tuple[str, ...]
    held_out_fraction: float
    music: TrainingMusic | None = None  # None for a bundle made without the figures (compose then uses defaults)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> DataSummary:
        """The ``data`` object, each field checked."""
        take = _Taker(_mapping(data, path, "data", "an object (what the model was trained on)"), path, "data.")
        music = take.raw("music")
        return cls(images=take.text("images", "a folder name"), pieces=take.integer("pieces", 0),
                   frames=take.integer("frames", 0), train_pieces=take.names("train_pieces"),
                   held_out_pieces=take.names("held_out_pieces"),
                   held_out_fraction=take.number("held_out_fraction", 0.0, 1.0),
                   music=None if music is None else TrainingMusic.from_json(music, path))


@dataclasses.dataclass(frozen=True)
class BundleConfig:
    """config.json less the grid facts: the one contract between train, which writes it, and compose and evaluate."""

    arch: str
    loss: str
    model: ModelConfig
    seed: int
    resolution: float  # quarter notes per column
    data: DataSummary
    transpose: int
    strategy: str
    metrics: Metrics | None
    stepping_agreement: float | None  # numpy against Keras; None when there is no numpy stepper (the seed network)
    epochs: int
    best_epoch: int | None
    version: str
    encoding: EventEncoding | None = None  # an event network's vocabulary or time classes; None for column networks

    @classmethod
    def from_json(cls, config: Mapping[str, Any], path: Path) -> BundleConfig:
        """A config.json object with every field checked once, so a broken one fails at once with one line naming it."""
        take = _Taker(config, path)
        metrics = take.raw("metrics")
        encoding = take.raw("encoding")
        return cls(resolution=take.resolution(), arch=take.choice("arch", tuple(PRESETS)),
                   model=_model_config(config.get("model"), path), data=DataSummary.from_json(config.get("data"), path),
                   loss=take.choice("loss", LOSSES), seed=take.integer("seed"), transpose=take.integer("transpose", 0),
                   strategy=take.choice("strategy", STRATEGIES),
                   metrics=None if metrics is None else Metrics.from_json(metrics, path),
                   stepping_agreement=take.number("stepping_agreement", 0.0, optional=True),
                   epochs=take.integer("epochs", 0), best_epoch=take.integer("best_epoch", 1, optional=True),
                   version=take.text("version", "a version string"),
                   encoding=None if encoding is None else _encoding(encoding, path))

    def to_json(self) -> dict[str, Any]:
        """The fields as config.json stores them (tuples as lists), without the grid facts ``save`` adds."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


class _Taker:
    """Takes the fields of one JSON object, each checked for type and range; a wrong one raises a BundleError."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str = ""):
        self.data, self.path, self.prefix = data, path, prefix

    def raw(self, key: str) -> Any:
        """A field checked by its own ``from_json`` (a nested object), or None where it may be left out."""
        return self.data.get(key)

    def wrong(self, key: str, expected: str) -> NoReturn:
        """Refuse the field, naming it with its place in config.json (``data.music.density``)."""
        _field_error(self.path, self.prefix + key, self.data.get(key), expected)

    def number(self, key: str, low: float, high: float | None = None, optional: bool = False) -> float | None:
        """A number in [low, high]; NaN passes (a diverged network's figures are recorded, not refused)."""
        value = self.data.get(key)
        if value is None and optional:
            return None
        if not _is_number(value) or value < low or (high is not None and value > high):
            self.wrong(key, f"a number from {low:g}" + (f" to {high:g}" if high is not None else " up"))
        return float(value)

    def integer(self, key: str, low: int | None = None, optional: bool = False) -> int | None:
        """A whole number from ``low``; JSON's true and false are not numbers here, though Python's bool is an int."""
        value = self.data.get(key)
        if value is None and optional:
            return None
        if not _is_integer(value) or (low is not None and value < low):
            self.wrong(key, "a whole number" + (f" from {low}" if low is not None else ""))
        return int(value)

    def shares(self, key: str) -> tuple[float, ...]:
        """A list of numbers from 0 to 1, kept as a tuple; () where the field is left out (an older bundle)."""
        value = self.data.get(key, [])
        if not (isinstance(value, list) and all(_is_number(v) and 0 <= v <= 1 for v in value)):
            self.wrong(key, "a list of numbers from 0 to 1")
        return tuple(float(v) for v in value)

    def text(self, key: str, expected: str) -> str:
        """A string: a folder name or a version."""
        if not isinstance(self.data.get(key), str):
            self.wrong(key, expected)
        return self.data[key]

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        """One of a few names; anything else (a list included) is refused, not looked up."""
        if not (isinstance(self.data.get(key), str) and self.data[key] in choices):
            self.wrong(key, f"one of {', '.join(choices)}")
        return self.data[key]

    def names(self, key: str) -> tuple[str, ...]:
        """A list of piece names, kept as a tuple so that the config stays frozen."""
        value = self.data.get(key)
        if not (isinstance(value, list) and all(isinstance(name, str) for name in value)):
            self.wrong(key, "a list of piece names")
        return tuple(value)

    def resolution(self) -> float:
        """Quarter notes per column: finite and above 0, since compose and evaluate divide by it."""
        value = self.data.get("resolution")
        if not _is_number(value) or not (math.isfinite(value) and value > 0):
            self.wrong("resolution", "a number of quarter notes above 0")
        return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mapping(value: Any, path: Path, field: str, expected: str) -> Mapping[str, Any]:
    """A JSON object, or a BundleError naming the field."""
    if not isinstance(value, dict):
        _field_error(path, field, value, expected)
    return value


def _model_config(value: Any, path: Path) -> ModelConfig:
    """The network's settings; one left out takes this version's default, as ``ModelConfig(**settings)`` always did."""
    settings = _mapping(value, path, "model", "an object (the network's settings)")
    defaults = ModelConfig()
    take = _Taker(settings, path, "model.")
    for key in settings:
        if not hasattr(defaults, key):
            take.wrong(key, f"one of this version's settings ({', '.join(f.name for f in dataclasses.fields(ModelConfig))})")
        _check_setting(take, key, getattr(defaults, key))
    return ModelConfig(**settings)


def _encoding(value: Any, path: Path) -> EventEncoding:
    """An event network's ``encoding``: each field checked, the token timings as typed records."""
    field = "encoding"
    take = _Taker(_mapping(value, path, field, "an object (an event network's encoding)"), path, f"{field}.")
    vocabulary = take.names("vocabulary")
    timings = take.raw("timings")
    if not (isinstance(timings, list) and len(timings) == len(vocabulary) and all(isinstance(t, list) for t in timings)):
        take.wrong("timings", "one list of (step, length, count) records per token")
    return EventEncoding(kind=take.choice("kind", KINDS), window=take.integer("window", 1), vocabulary=vocabulary,
                         timings=tuple(tuple(_timing(record, path) for record in token) for token in timings),
                         time_low=take.number("time_low", 0.0), time_high=take.number("time_high", 0.0),
                         fixed_velocity=take.integer("fixed_velocity", 1), velocity_pieces=take.integer("velocity_pieces", 0))


def _timing(value: Any, path: Path) -> Timing:
    take = _Taker(_mapping(value, path, "encoding.timings", "(step, length, count) records"), path, "encoding.timings.")
    return Timing(step=take.number("step", 0.0), length=take.number("length", 0.0), count=take.integer("count", 1))


def _check_setting(take: _Taker, key: str, default: Any) -> None:
    """One network setting, checked against the type of its default and the range a network can be built with."""
    choices = {"arch": tuple(PRESETS), "head": HEADS, "loss": LOSSES, "optimizer": OPTIMIZERS}
    if key in choices:
        take.choice(key, choices[key])
    elif isinstance(default, bool):
        if not isinstance(take.raw(key), bool):
            take.wrong(key, "true or false")
    elif isinstance(default, int):
        take.integer(key, 0)
    elif key == "dropout":
        take.number(key, 0.0, 1.0)
    else:
        take.number(key, 0.0)


@dataclasses.dataclass
class Bundle:
    path: Path
    config: BundleConfig
    model: Any  # keras.Model

    @property
    def resolution(self) -> float:
        return self.config.resolution


def grid() -> dict[str, Any]:
    """The facts of the grid a bundle was trained on; compose checks them before using it."""
    return {"format": FORMAT, "lowest_pitch": LOWEST_PITCH, "pitches": PITCHES, "window": WINDOW}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """JSON under a temporary name, then renamed into place."""
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def save(model: Any, config: BundleConfig, path: Path, weights: dict[str, np.ndarray] | None = None) -> None:
    """Write a complete bundle; an older bundle at ``path`` is replaced only once every file is written.

    ``weights`` (``model.export_weights``) lets compose step the network in
    numpy; a bundle without them (the seed network) is stepped by TensorFlow.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp_model = path / f".{MODEL_FILE}.tmp.keras"  # Keras insists on the .keras suffix
    tmp_config = path / f".{CONFIG_FILE}.new"
    model.save(tmp_model)
    if weights is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **weights)
        write_atomic(path / f".{WEIGHTS_FILE}.new", buffer.getvalue())
    write_json(tmp_config, {**config.to_json(), **grid()})
    os.replace(tmp_model, path / MODEL_FILE)  # every file is complete: swap them in together
    if weights is not None:
        os.replace(path / f".{WEIGHTS_FILE}.new", path / WEIGHTS_FILE)
    else:
        (path / WEIGHTS_FILE).unlink(missing_ok=True)
    os.replace(tmp_config, path / CONFIG_FILE)


def read_config(path: Path) -> BundleConfig:
    """A bundle's config.json, checked against this version's grid and field by field; raises BundleError."""
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not (path / MODEL_FILE).is_file() or not config_path.is_file():
        raise BundleError(f"{path}: no trained model here (make one with `make train MODEL={path}`)")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as error:
        raise BundleError(f"{config_path}: unreadable ({error})") from None
    if not isinstance(config, dict):
        raise BundleError(f"{config_path}: not a pianoroll model config (a JSON {type(config).__name__}, not an object)")
    for key, expected in grid().items():
        if config.get(key) != expected and not (key == "format" and config.get(key) in READABLE_FORMATS):
            raise BundleError(
                f"{config_path}: made for {key}={config.get(key)!r}, this version needs {expected!r}; "
                "retrain with `make train`")
    return BundleConfig.from_json(config, config_path)


def _field_error(config_path: Path, field: str, value: Any, expected: str) -> NoReturn:
    """One line naming the field, what it holds and what it must be."""
    shown = "missing" if value is None else f"{json.dumps(value)[:40]}"
    raise BundleError(f"{config_path}: {field} is {shown}, must be {expected}; retrain with `make train`")


def load(path: Path) -> Bundle:
    """The bundle at ``path`` with its Keras model loaded (imports TensorFlow)."""
    import keras

    from pianoroll import model as networks

    networks.nade_layer()  # known to Keras before a network that uses it is loaded
    config = read_config(path)
    try:
        model = keras.models.load_model(Path(path) / MODEL_FILE, compile=False)
    except Exception as error:  # Keras raises many kinds for a broken file
        raise BundleError(f"{Path(path) / MODEL_FILE}: cannot be loaded ({error})") from None
    return Bundle(Path(path), config, model)


def stepper(path: Path) -> Any:
    """The fastest stepper for a bundle: numpy from its weights when it has them (no TensorFlow), else Keras's."""
    from pianoroll import stepping

    config = read_config(path)
    weights_path = Path(path) / WEIGHTS_FILE
    if weights_path.is_file():
        try:
            with np.load(weights_path) as stored:
                weights = dict(stored)
        except (OSError, ValueError) as error:
            raise BundleError(f"{weights_path}: unreadable ({error})") from None
        return stepping.NumpyStep(stepping.ColumnNetwork(weights, config.resolution, config.model.inputs()))
    return stepping.KerasStep(load(path).model)
