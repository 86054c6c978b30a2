"""Tiny folders of pages for the dataset and training tests: a few short chorale-like pieces.

Each piece is four voices stepping through a scale at their own pace, long
enough to span two or three pages, so windows cross page boundaries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pianoroll import pages, roll

SCALE = np.array([0, 2, 4, 5, 7, 9, 11])


def piece(seed: int, columns: int = 180, resolution: float = roll.DEFAULT_RESOLUTION) -> np.ndarray:
    """A roll of four voices around middle C, different for every seed."""
    rng = np.random.default_rng(seed)
    notes = []
    for voice, base in enumerate((48, 55, 60, 67)):
        beat, degree = 0.0, int(rng.integers(7))
        while beat < columns * resolution:
            length = float(rng.choice([0.5, 1.0, 2.0]))
            degree += int(rng.integers(-2, 3))
            pitch = base + 12 * (degree // 7) + int(SCALE[degree % 7])
            notes.append(roll.Note(pitch, beat, min(beat + length, columns * resolution)))
            beat += length
    return roll.from_notes(notes, resolution)[0]


def write_folder(folder: Path, count: int = 6, columns: int = 180,
                 resolution: float = roll.DEFAULT_RESOLUTION) -> dict[str, np.ndarray]:
    """Pages and manifest of ``count`` pieces in ``folder``; returns the rolls by piece name."""
    rolls, entries = {}, []
    for index in range(count):
        name = f"piece{index:02d}"
        rolls[name] = piece(index, columns, resolution)
        written = pages.write_pages(rolls[name], folder, name)
        entries.append(pages.Entry(source=f"{name}.mid", piece=name, pages=len(written),
                                   columns=len(rolls[name]), resolution=resolution))
    pages.write_manifest(folder, entries)
    return rolls
