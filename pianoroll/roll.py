"""The piano roll: the one representation every stage of the pipeline shares.

A roll is a numpy array of shape (time, PITCHES): one row per time step of
``resolution`` quarter notes, one column per pitch, lowest pitch first. Values
are page pixels (uint8): SILENCE, ON, or ONSET, a darker "on" that marks where
a note is re-struck, so that two touching notes of one pitch stay two notes.
Anything above ON_THRESHOLD counts as sounding, as on a page.

Time is counted in beats (quarter notes), never seconds, so tempo changes do
not move notes and a roll is independent of the tempo it is played at.
"""

from __future__ import annotations

import itertools
from typing import Iterable, NamedTuple

import numpy as np

LOWEST_PITCH = 21  # A0, the lowest key of a piano
PITCHES = 106  # pitches 21..126: the height of a page
HIGHEST_PITCH = LOWEST_PITCH + PITCHES - 1
PAGE_COLUMNS = 106  # a page is square, as in the seed
WINDOW = 9  # columns the model sees before predicting the next one
DEFAULT_RESOLUTION = 0.25  # quarter notes per column: a sixteenth
BEAT_LEVELS = (0.5, 1.0, 2.0, 4.0)  # beats: does a column start an eighth, a beat, a half bar, a 4/4 bar?

SILENCE = 0
ON = 255
ONSET = 160  # still reads as "on" (> ON_THRESHOLD), but marks a re-strike
ON_THRESHOLD = 127


class Note(NamedTuple):
    """A note in beats (quarter notes from the start of the piece)."""

    pitch: int
    start: float
    end: float
    velocity: int = 90


def empty(columns: int) -> np.ndarray:
    """A silent roll of the given length."""
    return np.zeros((columns, PITCHES), dtype=np.uint8)


def is_on(roll: np.ndarray) -> np.ndarray:
    """Which cells sound, as booleans: the reading every loader shares."""
    return roll > ON_THRESHOLD


def to_step(beats: float | np.ndarray, resolution: float) -> int | np.ndarray:
    """The nearest column to a time in beats (halves round up, float noise aside)."""
    steps = np.floor(np.asarray(beats) / resolution + 0.5 + 1e-9).astype(np.intp)
    return int(steps) if steps.ndim == 0 else steps


def in_range(pitch: int) -> bool:
    return LOWEST_PITCH <= pitch <= HIGHEST_PITCH


def from_notes(
    notes: Iterable[Note], resolution: float, keep_onsets: bool = False
) -> tuple[np.ndarray, int]:
    """Quantise notes onto the grid; returns the roll and how many notes fell outside 21..126.

    Start and end go to the nearest step and a note lasts at least one step.
    With ``keep_onsets`` a note that starts while its pitch is already sounding
    (struck again right after itself, or overlapping) begins with an ONSET
    cell, so it survives the trip through a page as a note of its own.
    """
    table = np.array([(n.pitch, n.start, n.end) for n in notes], dtype=np.float64).reshape(-1, 3)
    inside = (table[:, 0] >= LOWEST_PITCH) & (table[:, 0] <= HIGHEST_PITCH)
    rows = table[inside, 0].astype(np.intp) - LOWEST_PITCH
    starts = to_step(table[inside, 1], resolution)
    ends = np.maximum(to_step(table[inside, 2], resolution), starts + 1)
    # +1 where a note starts, -1 where it ends: a cell sounds while the running sum is above zero
    length = int(ends.max(initial=0))
    cells = (length + 1) * PITCHES
    changes = np.bincount(starts * PITCHES + rows, minlength=cells) - np.bincount(ends * PITCHES + rows, minlength=cells)
    sounding = np.cumsum(changes.reshape(length + 1, PITCHES)[:-1], axis=0) > 0
    roll = np.where(sounding, ON, SILENCE).astype(np.uint8)
    if keep_onsets:
        restruck = (starts > 0) & sounding[np.maximum(starts - 1, 0), rows]
        roll[starts[restruck], rows[restruck]] = ONSET
    return roll, int(np.count_nonzero(~inside))


def to_notes(roll: np.ndarray, resolution: float, velocity: int = 90) -> list[Note]:
    """Runs of sounding cells back into notes, sorted by start then pitch.

    An ONSET cell inside a run starts a new note; a plain run is one note.
    Every step is a whole-array operation, so the time grows with the roll's
    size and nothing else: a page of a million one-cell notes takes seconds,
    where a search per note took minutes.
    """
    starts, ends = _note_cells(roll)
    time_steps = roll.shape[0] + 1  # the padded length of a pitch's row in _note_cells
    order = np.lexsort((starts // time_steps, starts % time_steps))  # by start, then pitch
    rows, first = np.divmod(starts[order], time_steps)
    last = ends[order] % time_steps
    # float64 times a whole number of steps: the very floats ``step * resolution`` gives in Python
    return list(map(Note, (rows + LOWEST_PITCH).tolist(), (first * float(resolution)).tolist(),
                    (last * float(resolution)).tolist(), itertools.repeat(velocity, len(rows))))


def _note_cells(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each note starts and where it stops, as indices into the roll's pitch rows laid end to end.

    Each pitch's row gets one silent cell after it, so no run crosses into the
    next pitch. A note starts where a run starts or at an ONSET cell, and stops
    at the first cell after its start that is silent or starts another note.
    """
    on = np.zeros((roll.shape[1], roll.shape[0] + 1), dtype=bool)
    on[:, :-1] = is_on(roll).T
    onset = np.zeros_like(on)
    onset[:, :-1] = (roll == ONSET).T
    on, onset = on.ravel(), onset.ravel()
    begins = on.copy()
    begins[1:] &= ~on[:-1]
    begins |= onset
    starts = np.flatnonzero(begins)
    stops = np.flatnonzero(~on | begins)  # a note runs up to the next of these after its start
    ends = stops[np.searchsorted(stops, starts, side="right")]
    return starts, ends


def as_frames(roll: np.ndarray) -> np.ndarray:
    """The roll as 0/1 float32 frames, the form the model reads and predicts."""
    return is_on(roll).astype(np.float32)


def from_frames(frames: np.ndarray) -> np.ndarray:
    """0/1 (or boolean) frames back into a roll of page pixels."""
    return np.where(np.asarray(frames) > 0.5, ON, SILENCE).astype(np.uint8)


def beat_features(columns: np.ndarray, resolution: float) -> np.ndarray:
    """(n, len(BEAT_LEVELS)) 0/1: whether each column index starts an eighth, a beat, a half bar, a bar.

    Columns count from the start of the piece, which is taken to be on a bar
    line (4/4). A level finer than the resolution is always 1.
    """
    beats = np.asarray(columns, dtype=np.float64)[:, None] * resolution
    ratio = beats / np.asarray(BEAT_LEVELS)[None, :]
    return (np.abs(ratio - np.round(ratio)) < 1e-6).astype(np.float32)


PITCH_CLASSES = 12
PITCH_CLASS_OF_ROW = (np.arange(PITCHES) + LOWEST_PITCH) % PITCH_CLASSES  # (PITCHES,), C = 0
ROW_IN_CLASS = (PITCH_CLASS_OF_ROW[:, None] == np.arange(PITCH_CLASSES)).astype(np.int32)  # (PITCHES, 12) one-hot


def pitch_class_counts(frames: np.ndarray) -> np.ndarray:
    """(…, 12): how many sounding cells of each pitch class (C first) each (…, PITCHES) column holds."""
    return (np.asarray(frames) > 0.5).astype(np.float32) @ ROW_IN_CLASS.astype(np.float32)


def key_shares(counts: np.ndarray) -> np.ndarray:
    """Pitch-class counts (n, 12) as shares of their total: the piece's key so far; zeros before any note."""
    counts = np.asarray(counts, np.float32)
    return counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1.0)


def key_memory(frames: np.ndarray) -> np.ndarray:
    """(n, 12): before each column, the pitch-class shares of every note sounded since the piece began.

    A 9-column window cannot tell which key a piece set out in; this can, and
    it changes slowly, so a network that reads it can learn to come home.
    Composing counts its primer ``stepping.PRIMER_KEY_WEIGHT`` times over.
    """
    counts = pitch_class_counts(frames)
    return key_shares(np.cumsum(counts, axis=0) - counts)
