"""Pages → rolls per piece → 9-column windows → the next column.

A training example is WINDOW consecutive columns of one piece and, as its
target, the column right after them. Each piece is preceded by WINDOW silent
columns, so the model also learns how pieces begin; windows run across the
page boundaries of a piece but never from one piece into the next.

For training, windows are never materialised: the rolls of all pieces sit
end to end in one array of 0/1 bytes and tf.data gathers each batch of
windows from a list of start offsets. Memory grows with the rolls, not with
the WINDOW-fold copies that the seed's arrays made.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import numpy as np

from pianoroll import PianorollError
from pianoroll import pages as page_io
from pianoroll.roll import PITCH_CLASSES, PITCHES, WINDOW, as_frames, beat_features, is_on, key_memory

if TYPE_CHECKING:  # TensorFlow is imported only where a tf.data pipeline is built
    import tensorflow as tf

HASH_SPACE = 2**32


class DatasetError(PianorollError):
    """Pages that cannot be trained on."""


def load(images_dir: Path) -> dict[str, tuple[np.ndarray, float]]:
    """Every piece of an images folder as (roll, resolution); one resolution for all, or DatasetError."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir}: no such folder (make pages with `make images`)")
    pieces = page_io.load_pieces(images_dir)
    check_lengths(images_dir, pieces)
    resolutions = sorted({resolution for _, resolution in pieces.values()})
    if len(resolutions) > 1:
        raise DatasetError(f"{images_dir}: pieces at several resolutions {resolutions}; train on one at a time")
    return pieces


@dataclasses.dataclass(frozen=True)
class Split:
    """A bundle's pieces read back from its pages: the training pieces and the held-out ones, by name."""

    train: dict[str, np.ndarray]
    held_out: dict[str, np.ndarray]


def load_split(images_dir: Path, train: Iterable[str], held_out: Iterable[str], resolution: float) -> Split:
    """The pieces a bundle was trained and measured on: the one loader compose and evaluate share.

    The folder passes ``load``'s checks and must hold the pieces at the
    bundle's resolution. A held-out piece that is gone is an error (its
    figures could not be reproduced); training pieces that are gone are left
    out, as long as one is left.
    """
    pieces = load(images_dir)
    found = next(iter(pieces.values()))[1]
    if abs(found - resolution) > 1e-9:
        raise DatasetError(f"{images_dir}: pages at resolution {found}, the bundle at {resolution}")
    missing = [name for name in held_out if name not in pieces]
    if missing:
        raise DatasetError(f"{images_dir}: held-out piece {missing[0]!r} of the bundle is not among these pages")
    kept = {name: pieces[name][0] for name in train if name in pieces}
    if not kept:
        raise DatasetError(f"{images_dir}: none of the bundle's training pieces are among these pages")
    return Split(kept, {name: pieces[name][0] for name in held_out})


def check_lengths(images_dir: Path, pieces: Mapping[str, tuple[np.ndarray, float]]) -> None:
    """Each piece once in the manifest, and its pages hold the columns the manifest promises."""
    manifest = images_dir / page_io.MANIFEST
    entries = [entry for entry in page_io.read_manifest(images_dir) if entry.ok]
    repeated = [name for name, count in Counter(entry.piece for entry in entries).items() if count > 1]
    if repeated:
        raise DatasetError(f"{manifest}: piece {sorted(repeated)[0]} is listed more than once")
    for entry in entries:
        held = len(pieces[entry.piece][0])
        if held != entry.columns:
            raise DatasetError(f"{manifest}: {entry.piece} should be {entry.columns} columns, its pages hold {held}")


def name_hash(piece: str) -> float:
    """Where a piece name falls in [0, 1): the same on every machine and every run."""
    digest = hashlib.sha256(piece.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / HASH_SPACE


def split(pieces: Iterable[str], held_out_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """Train and held-out piece names, decided by each name alone.

    A piece is held out when its hash falls below the fraction, so adding
    pieces to a folder never moves an old piece between the sets. A small
    folder whose hashes happen to miss still holds out its lowest piece, so
    there is always something to measure on.
    """
    names = sorted(pieces)
    held_out = [name for name in names if name_hash(name) < held_out_fraction]
    if not held_out and held_out_fraction > 0 and len(names) > 1:
        held_out = [min(names, key=name_hash)]
    train = [name for name in names if name not in held_out]
    return train, held_out


def lead_in(frames: np.ndarray) -> np.ndarray:
    """The frames preceded by WINDOW silent columns: the context before a piece begins."""
    silence = np.zeros((WINDOW, frames.shape[1]), dtype=frames.dtype)
    return np.concatenate([silence, frames])


def windows(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every WINDOW columns and the column right after them, as arrays (n, WINDOW, PITCHES), (n, PITCHES).

    This copies each column WINDOW times: use it for small evaluation sets
    only, and the tf.data pipeline below for training.
    """
    count = max(len(frames) - WINDOW, 0)
    if count == 0:
        return np.zeros((0, WINDOW, frames.shape[1]), frames.dtype), np.zeros((0, frames.shape[1]), frames.dtype)
    x = np.lib.stride_tricks.sliding_window_view(frames[:-1], WINDOW, axis=0)  # (n, PITCHES, WINDOW)
    return np.ascontiguousarray(x.transpose(0, 2, 1)), np.ascontiguousarray(frames[WINDOW:])


def piece_windows(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A piece's examples as training sees them: lead-in included, one per column of the piece."""
    return windows(lead_in(as_frames(roll)))


@dataclasses.dataclass
class Stream:
    """The rolls of some pieces end to end, and where each window may start.

    ``frames`` holds 0/1 bytes (time, PITCHES) with every piece's lead-in;
    ``columns`` each frame's column in its piece (the lead-in counts from
    -WINDOW); ``starts`` the offset of every window that stays inside one
    piece. A window starting at s reads frames[s : s + WINDOW] and predicts
    frames[s + WINDOW]; ``keys`` holds, for each frame, the pitch-class shares
    of its piece before it (``roll.key_memory``).
    """

    frames: np.ndarray
    columns: np.ndarray
    starts: np.ndarray
    keys: np.ndarray
    resolution: float = 0.25

    @property
    def windows(self) -> int:
        return len(self.starts)

    @property
    def targets(self) -> np.ndarray:
        """The target column of every window, in order, as float32."""
        return self.frames[self.starts + WINDOW].astype(np.float32)

    def inputs(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Every window's network inputs as arrays (window, beat, key, column): for small sets such as a test split."""
        steps = self.starts[:, None] + np.arange(WINDOW)
        arrays = {"window": lambda: self.frames[steps].astype(np.float32),
                  "beat": lambda: beat_features(self.columns[self.starts + WINDOW], self.resolution),
                  "key": lambda: self.keys[self.starts + WINDOW],
                  "column": lambda: self.targets}
        return {name: arrays[name]() for name in names}


def stream(rolls: Iterable[np.ndarray], resolution: float = 0.25) -> Stream:
    """Lay pieces end to end, each after its lead-in; windows never cross from one piece to the next."""
    blocks, columns, starts, keys, offset = [], [], [], [], 0
    for roll in rolls:
        block = lead_in(is_on(roll).astype(np.uint8))
        blocks.append(block)
        keys.append(key_memory(block))
        columns.append(np.arange(len(block)) - WINDOW)
        starts.append(offset + np.arange(len(block) - WINDOW))
        offset += len(block)
    if not blocks:
        return Stream(np.zeros((0, PITCHES), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                      np.zeros((0, PITCH_CLASSES), np.float32), resolution)
    return Stream(np.concatenate(blocks), np.concatenate(columns).astype(np.int64),
                  np.concatenate(starts).astype(np.int64), np.concatenate(keys), resolution)


def pieces_stream(pieces: Mapping[str, tuple[np.ndarray, float]], names: Iterable[str]) -> Stream:
    names = list(names)
    resolution = pieces[names[0]][1] if names else 0.25
    return stream((pieces[name][0] for name in names), resolution)


def dataset(source: Stream, batch_size: int, shuffle: bool = False, seed: int = 0,
            transpose: int = 0, inputs: tuple[str, ...] = ("window",)) -> "tf.data.Dataset":
    """Batches of (network inputs, next columns) as float32, gathered from the rolls on the fly.

    The inputs are the window alone, or for networks that read more a dict
    of ``inputs``: "window", "beat" (the next column's place in the bar), "key"
    (the pitch-class shares of the piece so far) and "column" (the next
    column itself, fed to a NADE head: teacher forcing).
    With ``shuffle`` the order of windows is reshuffled every epoch from
    ``seed``; with ``transpose`` K each window is shifted by a random number
    of semitones in [-K, K], limited so every note stays in 21..126. Both are
    driven by seeded, stateless randomness, so a run is reproducible.
    """
    import tensorflow as tf

    frames = tf.constant(source.frames)
    beats = tf.constant(beat_features(source.columns, source.resolution)) if "beat" in inputs else None
    keys = tf.constant(source.keys) if "key" in inputs else None
    steps = tf.range(WINDOW + 1, dtype=tf.int64)
    data = tf.data.Dataset.from_tensor_slices(source.starts)
    if shuffle:
        data = data.shuffle(max(source.windows, 1), seed=seed, reshuffle_each_iteration=True)
    if transpose:  # one random number per window, to draw its shift from
        data = tf.data.Dataset.zip(data, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True))

    def gather(starts, noise=None):
        block = tf.cast(tf.gather(frames, starts[:, None] + steps), tf.float32)  # (batch, WINDOW + 1, PITCHES)
        shift = tf.zeros_like(starts)
        if noise is not None:
            block, shift = shift_pitches(block, noise, transpose)
        target = block[:, WINDOW]
        given = {"window": lambda: block[:, :WINDOW], "beat": lambda: tf.gather(beats, starts + WINDOW),
                 "key": lambda: shift_key(tf.gather(keys, starts + WINDOW), shift),
                 "column": lambda: target}  # only what the network reads is gathered
        return (block[:, :WINDOW] if inputs == ("window",) else {name: given[name]() for name in inputs}), target

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return gathered(data, batch_size, gather).with_options(options)


def gathered(starts: "tf.data.Dataset", batch_size: int, gather: Callable) -> "tf.data.Dataset":
    """Batches of ``starts`` turned into examples by ``gather`` in parallel, in order, prefetched, without autotuning.

    With tf.data's autotuning on, every iterator runs a thread that tunes the
    pipeline, and TensorFlow 2.21 waits for that thread's next round, up to a
    minute, before it lets the iterator go. Keras starts an iterator every
    epoch, so on two cores an epoch's first step took 15–59 s where the
    epoch's 662 steps take 52 s. Off, the weights come out the same and an
    epoch takes as long.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    data = starts.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE).with_options(options)


def shift_pitches(block: "tf.Tensor", noise: "tf.Tensor", limit: int) -> tuple["tf.Tensor", "tf.Tensor"]:
    """Transpose each window (batch, steps, PITCHES) by a shift drawn from ``noise``, within ±limit and the range.

    Returns the moved windows and each one's shift in semitones.
    """
    import tensorflow as tf

    limit = tf.constant(limit, tf.int64)
    sounding = tf.reduce_max(block, axis=1) > 0.5  # (batch, PITCHES)
    rows = tf.range(PITCHES, dtype=tf.int64)
    lowest = tf.reduce_min(tf.where(sounding, rows, PITCHES), axis=1)
    highest = tf.reduce_max(tf.where(sounding, rows, -1), axis=1)
    down = tf.minimum(tf.where(highest < 0, limit, lowest), limit)  # a silent window may go anywhere
    up = tf.minimum(tf.where(highest < 0, limit, PITCHES - 1 - highest), limit)
    shift = tf.math.floormod(noise, down + up + 1) - down  # uniform in [-down, up]
    source = rows[None, :] - shift[:, None]  # the row each new row is read from
    inside = (source >= 0) & (source < PITCHES)
    moved = tf.gather(block, tf.clip_by_value(source, 0, PITCHES - 1), axis=2, batch_dims=1)
    return moved * tf.cast(inside, block.dtype)[:, None, :], shift


def shift_key(key: "tf.Tensor", shift: "tf.Tensor") -> "tf.Tensor":
    """Pitch-class shares (batch, 12) moved with their windows: class c takes the share of class c - shift."""
    import tensorflow as tf

    classes = tf.range(PITCH_CLASSES, dtype=tf.int64)[None, :] - tf.cast(shift, tf.int64)[:, None]
    return tf.gather(key, tf.math.floormod(classes, PITCH_CLASSES), axis=1, batch_dims=1)


def summary(pieces: Mapping[str, tuple[np.ndarray, float]], train: list[str], held_out: list[str],
            images_dir: Path, held_out_fraction: float) -> dict:
    """The data a bundle was trained on, as config.json records it."""
    return {
        "images": str(images_dir),
        "pieces": len(pieces),
        "frames": int(sum(len(roll) for roll, _ in pieces.values())),
        "train_pieces": list(train),
        "held_out_pieces": list(held_out),
        "held_out_fraction": held_out_fraction,
    }
