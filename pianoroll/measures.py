"""How composed music compares with real music, in the numbers a musician would check.

Frame metrics (metrics.py) say how well the model predicts the next column;
they do not say whether a whole composed piece sounds like the music it
learned from. This module measures pieces the way a listener would notice
them (does anything move, how long are the notes, how full is it, does it
fade, do the columns sound like chords, which pitch classes does it use) and
compares two *sets* of pieces, generated against real, in two ways:

* per feature, MGEval style (Yang and Lerch 2018, "On the evaluation of
  generative models in music"): the distribution of distances within the real
  set against the distances between generated and real pieces, as the overlap
  of their densities (1 = as close to the real pieces as they are to each
  other) and a KL divergence;
* all features at once, as a two-sample test: how well a cross-validated
  classifier tells generated from real pieces (0.5 = it cannot).

scikit-learn and scipy are imported inside the functions that need them, so
importing this module stays as cheap as numpy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from pianoroll import metrics
from pianoroll import roll as rolls
from pianoroll.roll import PITCH_CLASSES, pitch_class_counts

# Lower edges, in beats, of the note-length histogram; the last bin is open
# (>= 8 beats). A note of exactly an edge falls in the bin it opens, so at a
# resolution of 0.25 a sixteenth lands in the first bin, an eighth (and a
# dotted eighth) in the second, a quarter in the third, a half in the fourth,
# a whole in the fifth; at a resolution of 1.0 the first two bins stay empty.
NOTE_LENGTH_BINS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
NOTE_LENGTH_LABELS: tuple[str, ...] = ("<1/2", "1/2-1", "1-2", "2-4", "4-8", ">=8")
_EDGE_SLACK = 1e-9  # beats: a length of n * resolution is not pushed below an edge by float noise
THIN_SHARE = 0.5  # a column sounding at most this share of the usual number of notes is thin: voices dropped out
THIN_BEATS = 4.0  # a 4/4 bar: a thin stretch at least this long counts in ``thin_share`` (a rest of a beat does not)


# Chord templates as semitones above the root; each is tried on all 12 roots.
CHORD_TEMPLATES: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "diminished": (0, 3, 6),
    "augmented": (0, 4, 8),
    "major seventh": (0, 4, 7, 11),
    "dominant seventh": (0, 4, 7, 10),
    "minor seventh": (0, 3, 7, 10),
    "half-diminished seventh": (0, 3, 6, 10),
    "diminished seventh": (0, 3, 6, 9),
}

# The scalar per-piece features that sets are compared on (PieceMeasures fields).
FEATURES: tuple[str, ...] = (
    "change_share",
    "longest_note_beats",
    "mean_note_beats",
    "notes_per_beat",
    "density",
    "polyphony",
    "empty_share",
    "pitch_range",
    "mean_pitch",
    "pitch_class_entropy",
    "chord_share",
)

KDE_GRID_POINTS = 1024  # points the densities of distances are integrated on
KDE_GRID_MARGIN = 4.0  # the grid reaches this many bandwidths beyond the outermost distance
BANDWIDTH_FLOOR = 1e-3  # relative to the largest distance: the kernel width when a density cannot be fitted
ABSOLUTE_BANDWIDTH_FLOOR = 1e-6  # the kernel width when every distance is 0
KL_FLOOR = 1e-12  # probability floor on the grid so a KL divergence stays finite
MIN_REAL_PIECES = 3  # fewer real pieces give fewer than 3 intra-set distances: no density to compare
MAX_FOLDS = 5
MIN_FOLDS = 2
CV_REPEATS = 5  # the two-sample test's cross-validation, over this many shufflings of the pieces into folds


def _chord_fits() -> np.ndarray:
    """(4096,) bool: whether a set of pitch classes (bit k = pitch class k, C = 0) lies inside some chord template."""
    templates = np.array(
        [
            sum(1 << ((root + step) % PITCH_CLASSES) for step in steps)
            for steps in CHORD_TEMPLATES.values()
            for root in range(PITCH_CLASSES)
        ]
    )
    masks = np.arange(1 << PITCH_CLASSES)[:, None]
    return np.any((masks & ~templates[None, :]) == 0, axis=1)


CHORD_FITS = _chord_fits()  # built once; index with a column's pitch-class bit mask


@dataclass(frozen=True)
class PieceMeasures:
    """What a musician would check about one piece. Lengths are in beats (quarter notes)."""

    columns: int  # time steps
    beats: float  # columns * resolution
    notes: int  # notes (runs of sounding cells of one pitch, split at re-strikes)
    change_share: float  # of the columns from the second on, the share that differ from the column before (0..1)
    longest_note_beats: float  # the longest note in beats; 0 with no notes
    mean_note_beats: float  # the mean note length in beats; 0 with no notes
    notes_per_beat: float  # notes / beats: how busy the piece is; 0 with no columns
    note_lengths: tuple[float, ...]  # share of notes in each NOTE_LENGTH_BINS bin (sums to 1, or all 0 with no notes)
    density: float  # sounding pitches per column, empty columns included
    density_by_quarter: tuple[float, float, float, float]  # mean density in each quarter of the piece (np.array_split)
    polyphony: float  # sounding pitches per non-empty column; 0 when silent
    empty_share: float  # share of columns with nothing sounding (0..1); 1 with no columns
    pitch_range: int  # highest minus lowest sounding pitch, in semitones; 0 when silent
    mean_pitch: float  # the mean MIDI pitch of sounding cells (the register); 0 when silent
    pitch_classes: tuple[float, ...]  # (12,) share of sounding cells on each pitch class, C first; all 0 when silent
    pitch_class_entropy: float  # Shannon entropy of pitch_classes in bits (0..log2 12); 0 when silent
    chord_share: float  # of the sounding columns, the share whose pitch classes fit one chord template; 0 when silent
    thin_share: float  # share of columns in stretches where voices dropped out (``thin_share``); 0 when silent

    def to_dict(self) -> dict:
        """Plain floats, ints and lists, ready for json."""
        return _plain(dataclasses.asdict(self))


def sounding(frames: np.ndarray) -> np.ndarray:
    """(time, PITCHES) bool: which cells sound.

    Booleans are taken as they are; uint8 is read as page pixels
    (roll.is_on: above ON_THRESHOLD, so uint8 0/1 frames read as silent);
    any other number sounds above 0.5.
    """
    values = np.asarray(frames)
    if values.ndim != 2 or values.shape[1] != rolls.PITCHES:
        raise ValueError(f"expected frames of shape (time, {rolls.PITCHES}), got {values.shape}")
    if values.dtype == np.bool_:
        return values
    if values.dtype == np.uint8:
        return rolls.is_on(values)
    return values > 0.5


def _as_roll(frames: np.ndarray, on: np.ndarray) -> np.ndarray:
    """A page-pixel roll for roll.to_notes: a uint8 page as it is (keeping its re-strikes), else built from ``on``."""
    values = np.asarray(frames)
    return values if values.dtype == np.uint8 else rolls.from_frames(on)


def note_lengths(frames: np.ndarray, resolution: float) -> np.ndarray:
    """(notes,) the length of every note of a piece in beats, re-strikes kept apart as the page keeps them."""
    on = sounding(frames)
    return np.array([n.end - n.start for n in rolls.to_notes(_as_roll(frames, on), resolution)], dtype=np.float64)


def survival(lengths: np.ndarray) -> tuple[float, ...]:
    """The share of notes lasting at least a columns, for a = 0 … the longest + 1, from lengths in columns.

    Compose reads it as a hazard: of the notes that have sounded a columns,
    the share S(a + 1) / S(a) goes on for one more.
    """
    counts = np.bincount(np.asarray(lengths, np.int64), minlength=1)
    lasting = np.concatenate([counts[::-1].cumsum()[::-1], [0]]).astype(np.float64)  # notes lasting >= a columns
    return tuple(round(float(share), SURVIVAL_DIGITS) for share in lasting / max(lasting[0], 1.0))


SURVIVAL_DIGITS = 6  # kept in config.json: enough for a hazard, short enough to read


def piece_measures(frames: np.ndarray, resolution: float) -> PieceMeasures:
    """Measure one piece: ``frames`` (time, PITCHES), ``resolution`` in beats per column."""
    on = sounding(frames)
    lengths = note_lengths(frames, resolution)
    per_column = on.sum(axis=1)  # (time,)
    columns = int(on.shape[0])
    beats = columns * resolution
    classes = _pitch_classes(on)
    return PieceMeasures(
        columns=columns,
        beats=float(beats),
        notes=int(lengths.size),
        change_share=_change_share(on),
        longest_note_beats=float(lengths.max(initial=0.0)),
        mean_note_beats=float(lengths.mean()) if lengths.size else 0.0,
        notes_per_beat=float(lengths.size / beats) if beats > 0 else 0.0,
        note_lengths=_note_length_histogram(lengths),
        density=float(per_column.mean()) if columns else 0.0,
        density_by_quarter=tuple(metrics.quarters(per_column)),
        polyphony=float(per_column[per_column > 0].mean()) if per_column.any() else 0.0,
        empty_share=float(np.mean(per_column == 0)) if columns else 1.0,
        pitch_range=_pitch_range(on),
        mean_pitch=_mean_pitch(on),
        pitch_classes=tuple(float(c) for c in classes),
        pitch_class_entropy=_entropy_bits(classes),
        chord_share=chord_share(on),
        thin_share=thin_share(per_column, resolution),
    )


def _change_share(on: np.ndarray) -> float:
    """Share of columns, from the second on, that differ from the one before; 0 under two columns."""
    if on.shape[0] < 2:
        return 0.0
    return float(np.any(on[1:] != on[:-1], axis=1).mean())


def _note_length_histogram(lengths: np.ndarray) -> tuple[float, ...]:
    """(len(NOTE_LENGTH_BINS),) share of notes per bin, from note lengths in beats."""
    bins = np.digitize(lengths + _EDGE_SLACK, NOTE_LENGTH_BINS) - 1
    counts = np.bincount(bins, minlength=len(NOTE_LENGTH_BINS)).astype(np.float64)
    return tuple(float(c) for c in (counts / counts.sum() if lengths.size else counts))


def thin_share(per_column: np.ndarray, resolution: float) -> float:
    """Share of columns in stretches of THIN_BEATS or more that sound at most THIN_SHARE of the piece's usual notes.

    The usual number is the median over the columns where anything sounds.
    A chorale keeps its four voices: a bar in which only one or two of them
    sound is a hole in its texture that no mean density shows. 0 when silent.
    """
    counts = np.asarray(per_column)
    if not counts.any():
        return 0.0
    thin = counts <= THIN_SHARE * np.median(counts[counts > 0])
    edges = np.diff(np.concatenate([[0], thin.astype(np.int8), [0]]))
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)  # the length of every thin stretch
    shortest = max(1, round(THIN_BEATS / resolution))
    return float(lengths[lengths >= shortest].sum() / counts.size)


def _pitch_range(on: np.ndarray) -> int:
    rows = np.flatnonzero(on.any(axis=0))
    return int(rows[-1] - rows[0]) if rows.size else 0


def _mean_pitch(on: np.ndarray) -> float:
    cells = on.sum(axis=0)  # (PITCHES,)
    total = cells.sum()
    return float(cells @ (np.arange(rolls.PITCHES) + rolls.LOWEST_PITCH) / total) if total else 0.0


def _pitch_classes(on: np.ndarray) -> np.ndarray:
    """(12,) share of sounding cells on each pitch class; zeros when silent."""
    counts = pitch_class_counts(on).sum(axis=0, dtype=np.float64)
    total = counts.sum()
    return counts / total if total else counts


def _entropy_bits(shares: np.ndarray) -> float:
    used = shares[shares > 0]
    return float(-(used * np.log2(used)).sum()) if used.size else 0.0


def pitch_class_masks(on: np.ndarray) -> np.ndarray:
    """(time,) int: each column's pitch classes as a 12-bit mask, bit k for pitch class k (C = 0)."""
    present = pitch_class_counts(on) > 0  # (time, 12)
    return present.astype(np.int64) @ (1 << np.arange(PITCH_CLASSES))


def chord_share(on: np.ndarray) -> float:
    """Of the sounding columns of a (time, PITCHES) bool roll, the share that fit inside one chord template.

    The templates (CHORD_TEMPLATES) are the four triads and five seventh
    chords on all 12 roots, octaves and doublings ignored. Every column of one
    or two pitch classes fits (each interval occurs in some template, the
    semitone in the major seventh), so sparse music scores high; a cluster of
    three adjacent semitones never fits. 0 when nothing sounds.
    """
    masks = pitch_class_masks(on)
    masks = masks[masks > 0]
    return float(CHORD_FITS[masks].mean()) if masks.size else 0.0


def feature_vector(m: PieceMeasures) -> np.ndarray:
    """(len(FEATURES) + 12 + len(NOTE_LENGTH_BINS),) float64: the scalar FEATURES, then pitch classes, then note lengths."""
    scalars = [float(getattr(m, name)) for name in FEATURES]
    return np.array(scalars + list(m.pitch_classes) + list(m.note_lengths), dtype=np.float64)


# ---------------------------------------------------------------- set comparison (MGEval)


@dataclass(frozen=True)
class FeatureComparison:
    """One scalar feature compared between a generated and a real set.

    ``overlap`` is the area shared by the density of distances within the real
    set and the density of distances from generated to real pieces (0..1,
    higher = the generated pieces sit among the real ones like the real ones
    sit among themselves); ``kl`` is KL(real intra || inter) in nats on the
    same grid, 0 when the two agree. Both are nan with fewer than
    MIN_REAL_PIECES real pieces or no generated piece. Means and standard
    deviations (population, ddof 0) are nan for an empty set.
    """

    feature: str
    real_mean: float
    real_std: float
    generated_mean: float
    generated_std: float
    overlap: float
    kl: float

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))


def compare_sets(generated: Sequence[PieceMeasures], real: Sequence[PieceMeasures]) -> list[FeatureComparison]:
    """Each of FEATURES compared between the sets, MGEval style, in FEATURES order."""
    return [_compare_feature(name, _values(generated, name), _values(real, name)) for name in FEATURES]


def _values(pieces: Sequence[PieceMeasures], name: str) -> np.ndarray:
    return np.array([float(getattr(p, name)) for p in pieces], dtype=np.float64)


def _compare_feature(name: str, generated: np.ndarray, real: np.ndarray) -> FeatureComparison:
    overlap, kl = math.nan, math.nan
    if real.size >= MIN_REAL_PIECES and generated.size:
        overlap, kl = density_overlap_and_kl(intra_distances(real), inter_distances(generated, real))
    return FeatureComparison(name, *_mean_std(real), *_mean_std(generated), overlap, kl)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    return (float(values.mean()), float(values.std())) if values.size else (math.nan, math.nan)


def intra_distances(values: np.ndarray) -> np.ndarray:
    """(n * (n - 1) / 2,) absolute differences between every pair of pieces in one set."""
    first, second = np.triu_indices(values.size, k=1)
    return np.abs(values[first] - values[second])


def inter_distances(generated: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(len(generated) * len(real),) absolute differences of every generated piece from every real one."""
    return np.abs(generated[:, None] - real[None, :]).ravel()


def density_overlap_and_kl(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Overlap area (0..1) and KL(reference || other) in nats of Gaussian KDEs of two samples of distances.

    Both densities are evaluated on one grid that reaches KDE_GRID_MARGIN
    bandwidths past the outermost sample, so each integrates to about 1 and
    two identical samples overlap fully.
    """
    scale = float(max(reference.max(), other.max()))
    floor = BANDWIDTH_FLOOR * scale if scale > 0 else ABSOLUTE_BANDWIDTH_FLOOR
    (p, p_width), (q, q_width) = _density(reference, floor), _density(other, floor)
    margin = KDE_GRID_MARGIN * max(p_width, q_width)
    grid = np.linspace(min(reference.min(), other.min()) - margin, scale + margin, KDE_GRID_POINTS)
    p_values, q_values = p(grid), q(grid)
    overlap = float(np.clip(np.trapezoid(np.minimum(p_values, q_values), grid), 0.0, 1.0))
    return overlap, _kl_on_grid(p_values, q_values)


def _kl_on_grid(p_values: np.ndarray, q_values: np.ndarray) -> float:
    """Discrete KL(p || q) in nats of two densities on one evenly spaced grid, q floored at KL_FLOOR."""
    p_share = p_values / p_values.sum()
    q_share = np.maximum(q_values / q_values.sum(), KL_FLOOR)
    used = p_share > 0
    return float(max(0.0, np.sum(p_share[used] * np.log(p_share[used] / q_share[used]))))


def _density(samples: np.ndarray, floor: float) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """A Gaussian KDE of a 1-D sample and its bandwidth.

    scipy.stats.gaussian_kde (Scott's rule) where it can be fitted; a sample
    of one value, or of one value repeated (zero variance, e.g. all distances
    0), gets kernels of width ``floor`` instead of a singular fit.
    """
    from scipy import stats

    if samples.size >= 2 and np.ptp(samples) > 0:
        try:
            kde = stats.gaussian_kde(samples)
            width = float(np.sqrt(kde.covariance[0, 0]))
            if width >= floor:
                return kde, width
        except np.linalg.LinAlgError:
            pass
    return (lambda grid: _gaussian_mixture(samples, floor, grid)), floor


def _gaussian_mixture(centres: np.ndarray, width: float, grid: np.ndarray) -> np.ndarray:
    """(len(grid),) the mean of Gaussians of one ``width`` at ``centres``; the unique centres are weighted by count."""
    unique, counts = np.unique(centres, return_counts=True)
    z = (grid[:, None] - unique[None, :]) / width
    return (np.exp(-0.5 * z**2) @ counts) / (centres.size * width * math.sqrt(2 * math.pi))


# ---------------------------------------------------------------- two-sample test


def two_sample_accuracy(generated: Sequence[PieceMeasures], real: Sequence[PieceMeasures], seed: int = 0) -> float:
    """How well a classifier tells generated from real pieces by their feature vectors: 0.5 = indistinguishable, 1 = always.

    The larger set is subsampled (seeded) to the size of the smaller, a
    StandardScaler + LogisticRegression pipeline is scored by stratified
    k-fold cross-validation with min(5, pieces per set) folds, repeated
    CV_REPEATS times over fresh splits (one split of 40 + 40 pieces moves the
    figure by ±0.03), and the mean accuracy over folds is returned. nan when
    either set has fewer than 2 pieces (no fold could hold one of each).
    """
    size = min(len(generated), len(real))
    if size < MIN_FOLDS:
        return math.nan
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    x = np.vstack([_sample_vectors(generated, size, rng), _sample_vectors(real, size, rng)])
    y = np.repeat([1, 0], size)
    folds = RepeatedStratifiedKFold(n_splits=max(MIN_FOLDS, min(MAX_FOLDS, size)), n_repeats=CV_REPEATS,
                                    random_state=seed)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return float(np.mean(cross_val_score(classifier, x, y, cv=folds, scoring="accuracy")))


def _sample_vectors(pieces: Sequence[PieceMeasures], size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, features) feature vectors of ``size`` pieces drawn without replacement."""
    chosen = rng.choice(len(pieces), size=size, replace=False)
    return np.array([feature_vector(pieces[i]) for i in sorted(chosen)])


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class SetSummary:
    """The average piece of a set, each piece weighing the same; nan everywhere for an empty set."""

    pieces: int
    features: dict[str, float]  # the mean of each of FEATURES
    density_by_quarter: tuple[float, float, float, float]  # mean density in each quarter, in sounding pitches per column
    pitch_classes: tuple[float, ...]  # (12,) mean pitch-class histogram, C first
    note_lengths: tuple[float, ...]  # (len(NOTE_LENGTH_BINS),) mean note-length histogram
    thin_share: float  # mean ``PieceMeasures.thin_share``: not one of FEATURES, so the classifier does not read it

    def to_dict(self) -> dict:
        """Plain floats, ints and lists, ready for json."""
        return _plain(dataclasses.asdict(self))


def summarise(pieces: Sequence[PieceMeasures]) -> SetSummary:
    """The mean of every feature and histogram over ``pieces``."""
    return SetSummary(
        pieces=len(pieces),
        features={name: _mean(_values(pieces, name)) for name in FEATURES},
        density_by_quarter=_mean_rows([p.density_by_quarter for p in pieces], 4),
        pitch_classes=_mean_rows([p.pitch_classes for p in pieces], PITCH_CLASSES),
        note_lengths=_mean_rows([p.note_lengths for p in pieces], len(NOTE_LENGTH_BINS)),
        thin_share=_mean(np.array([p.thin_share for p in pieces], dtype=np.float64)),
    )


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _mean_rows(rows: list[tuple[float, ...]], width: int) -> tuple[float, ...]:
    if not rows:
        return (math.nan,) * width
    return tuple(float(v) for v in np.mean(np.array(rows, dtype=np.float64), axis=0))


def _plain(value):
    """Tuples to lists and numpy scalars to Python ones, recursively, so json.dumps takes the result."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
