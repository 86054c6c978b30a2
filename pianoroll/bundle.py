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
from typing import Any

import numpy as np

from pianoroll import PianorollError
from pianoroll.pages import write_atomic
from pianoroll.roll import LOWEST_PITCH, PITCHES, WINDOW

FORMAT = 2  # bumped whenever a bundle written before can no longer be read the same way
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"  # our networks' weights by role: compose steps them in numpy, without TensorFlow


class BundleError(PianorollError):
    """A bundle that is missing, incomplete or from an incompatible version."""


@dataclasses.dataclass
class Bundle:
    path: Path
    config: dict[str, Any]
    model: Any  # keras.Model

    @property
    def resolution(self) -> float:
        return float(self.config["resolution"])


def grid() -> dict[str, Any]:
    """The facts of the grid a bundle was trained on; compose checks them before using it."""
    return {"format": FORMAT, "lowest_pitch": LOWEST_PITCH, "pitches": PITCHES, "window": WINDOW}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """JSON under a temporary name, then renamed into place."""
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def save(model: Any, config: dict[str, Any], path: Path, weights: dict[str, np.ndarray] | None = None) -> None:
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
    write_json(tmp_config, {**config, **grid()})
    os.replace(tmp_model, path / MODEL_FILE)  # every file is complete: swap them in together
    if weights is not None:
        os.replace(path / f".{WEIGHTS_FILE}.new", path / WEIGHTS_FILE)
    else:
        (path / WEIGHTS_FILE).unlink(missing_ok=True)
    os.replace(tmp_config, path / CONFIG_FILE)


def read_config(path: Path) -> dict[str, Any]:
    """A bundle's config.json, checked against this version's grid; raises BundleError."""
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
        if config.get(key) != expected:
            raise BundleError(
                f"{config_path}: made for {key}={config.get(key)!r}, this version needs {expected!r}; "
                "retrain with `make train`")
    _check_fields(config, config_path)
    return config


def _check_fields(config: dict[str, Any], config_path: Path) -> None:
    """The fields compose and evaluate read, checked here so a broken config fails at once, not after seconds of work."""
    from pianoroll.model import PRESETS  # numpy only: no TensorFlow

    resolution = config.get("resolution")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, float)) or not (math.isfinite(resolution) and resolution > 0):
        _field_error(config_path, "resolution", resolution, "a number of quarter notes above 0")
    if config.get("arch") not in PRESETS:
        _field_error(config_path, "arch", config.get("arch"), f"one of {', '.join(PRESETS)}")
    if not isinstance(config.get("model"), dict):
        _field_error(config_path, "model", config.get("model"), "an object (the network's settings)")
    data = config.get("data")
    if not isinstance(data, dict):
        _field_error(config_path, "data", data, "an object (what the model was trained on)")
    if "images" in data and not isinstance(data["images"], str):
        _field_error(config_path, "data.images", data["images"], "a folder name")


def _field_error(config_path: Path, field: str, value: Any, expected: str) -> None:
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
        return stepping.NumpyStep(stepping.ColumnNetwork(weights, float(config["resolution"])))
    return stepping.KerasStep(load(path).model)
