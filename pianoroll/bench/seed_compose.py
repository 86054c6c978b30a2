"""The seed's generation loop, as published in seed 003: a reference for the benchmark and the tests.

One ``model.predict`` per column on a (1, 9, 106) window, ``vanish_proof``
added, then ``astype(np.uint8)`` decides, and the decision is appended to the
window. Kept verbatim apart from names of shapes and ``verbose=0`` (the seed
printed a progress bar and the column on every step).
"""

from __future__ import annotations

import numpy as np

from pianoroll.roll import PITCHES, WINDOW


def seed_loop(model, data: np.ndarray, song_length: int, vanish_proof: float = 0.65,
              vanish_inc: float = 1.001) -> np.ndarray:
    """The seed's columns after the primer ``data`` (WINDOW, PITCHES), shaped (song_length, PITCHES)."""
    song = []
    for _ in range(song_length):
        pred = model.predict(data.reshape(1, WINDOW, PITCHES), verbose=0)[0] + vanish_proof
        vanish_proof *= vanish_inc
        notes = (pred.astype(np.uint8)).reshape(PITCHES)
        song.append(notes)
        data = list(data)
        data.append(notes)
        data.pop(0)
        data = np.array(data)
    return np.array(song)
