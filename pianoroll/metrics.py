"""How good a prediction is, and what a piece of music looks like in numbers.

Frame metrics treat each column as PITCHES independent yes/no guesses:
NLL is summed over pitches and averaged over frames (nats per frame, the unit
of the published chorale figures); Brier is the mean squared error per pitch.
"""

from __future__ import annotations

import numpy as np

from pianoroll import roll as rolls

CLIP = 1e-6  # probabilities are clipped to [CLIP, 1 - CLIP] so one confident miss is not infinite


def frame_nll(probs: np.ndarray, targets: np.ndarray) -> float:
    """Negative log-likelihood in nats per frame of (frames, pitches) targets."""
    p = np.clip(np.asarray(probs, dtype=np.float64), CLIP, 1 - CLIP)
    t = np.asarray(targets, dtype=np.float64)
    per_frame = -(t * np.log(p) + (1 - t) * np.log1p(-p)).sum(axis=-1)
    return float(per_frame.mean())


def brier(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error per pitch and frame."""
    diff = np.asarray(probs, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(diff**2))


def frame_f1(probs: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> float:
    """F1 over all (frame, pitch) cells with a pitch predicted on at ``threshold``; 1.0 when both are silent."""
    predicted = np.asarray(probs) >= threshold
    actual = np.asarray(targets) > 0.5
    tp = np.sum(predicted & actual)
    wrong = np.sum(predicted ^ actual)
    return 1.0 if tp + wrong == 0 else float(2 * tp / (2 * tp + wrong))


def frame_scores(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """NLL, Brier and F1 at 0.5 together: the figures config.json, evaluate and the benchmarks share."""
    return {"nll": frame_nll(probs, targets), "brier": brier(probs, targets), "f1": frame_f1(probs, targets)}


def quarters(values: np.ndarray) -> list[float]:
    """The mean of a per-column series in each quarter of the piece."""
    parts = np.array_split(np.asarray(values, dtype=np.float64), 4)
    return [float(part.mean()) if part.size else 0.0 for part in parts]


def piece_statistics(roll: np.ndarray, resolution: float) -> dict:
    """What a person would notice first about a roll: how full, how wide, whether it fades.

    Density is the number of sounding pitches per column (empty columns
    count); polyphony is the same over non-empty columns only.
    """
    on = rolls.is_on(roll)
    per_column = on.sum(axis=1)
    sounding = per_column > 0
    pitches = np.flatnonzero(on.any(axis=0)) + rolls.LOWEST_PITCH
    density = quarters(per_column)
    pitch_class = (np.arange(rolls.PITCHES) + rolls.LOWEST_PITCH) % 12
    classes = np.bincount(pitch_class, weights=on.sum(axis=0), minlength=12)
    return {
        "columns": int(on.shape[0]),
        "beats": float(on.shape[0] * resolution),
        "notes": len(rolls.to_notes(roll, resolution)),
        "density": float(per_column.mean()) if on.size else 0.0,
        "mean_polyphony": float(per_column[sounding].mean()) if sounding.any() else 0.0,
        "empty_fraction": float(1 - sounding.mean()) if on.shape[0] else 1.0,
        "repeated_fraction": float(np.all(on[1:] == on[:-1], axis=1).mean()) if on.shape[0] > 1 else 0.0,
        "lowest_pitch": int(pitches.min()) if pitches.size else None,
        "highest_pitch": int(pitches.max()) if pitches.size else None,
        "density_by_quarter": density,
        "fade_ratio": density[3] / density[0] if density[0] > 0 else None,
        "pitch_classes": (classes / classes.sum()).tolist() if classes.sum() else [0.0] * 12,
    }
