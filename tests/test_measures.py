"""measures: piece figures on hand-built rolls, and set comparisons on sets whose answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pianoroll import measures, roll
from pianoroll.roll import LOWEST_PITCH, ON, ONSET, PITCHES

C4 = 60
MAJOR, MINOR, DOMINANT_SEVENTH = (0, 4, 7), (0, 3, 7), (0, 4, 7, 10)


def frames(columns: int, *held: tuple[int, int, int]) -> np.ndarray:
    """(columns, PITCHES) bool frames with each (pitch, first column, end column) sounding."""
    on = np.zeros((columns, PITCHES), dtype=bool)
    for pitch, start, end in held:
        on[start:end, pitch - LOWEST_PITCH] = True
    return on


def chord(columns: int, *pitches: int) -> np.ndarray:
    return frames(columns, *[(p, 0, columns) for p in pitches])


def test_a_held_c_major_chord():
    m = measures.piece_measures(chord(16, 60, 64, 67), 0.25)
    assert (m.columns, m.beats, m.notes) == (16, 4.0, 3)
    assert m.change_share == 0.0
    assert m.longest_note_beats == 4.0 and m.mean_note_beats == 4.0
    assert m.notes_per_beat == 0.75
    assert m.note_lengths == (0.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # all three in the 4-8 beat bin
    assert m.density == 3.0 and m.polyphony == 3.0 and m.empty_share == 0.0
    assert m.density_by_quarter == (3.0, 3.0, 3.0, 3.0)
    assert m.pitch_range == 7 and m.mean_pitch == pytest.approx((60 + 64 + 67) / 3)
    assert m.pitch_classes[0] == m.pitch_classes[4] == m.pitch_classes[7] == pytest.approx(1 / 3)
    assert sum(m.pitch_classes) == pytest.approx(1.0)
    assert m.pitch_class_entropy == pytest.approx(math.log2(3))
    assert m.chord_share == 1.0
    assert m.thin_share == 0.0


@pytest.mark.parametrize(
    "pitches, fits",
    [
        ((60, 61, 62), False),  # C C# D: a cluster
        ((60, 62, 64), False),  # C D E
        ((60, 64, 67, 70), True),  # C E G Bb: dominant seventh
        ((48, 64, 67, 70, 76), True),  # the same, spread over three octaves with a doubling
        ((62, 66, 69, 73), True),  # D F# A C#: major seventh
        ((60, 63, 66, 69), True),  # C Eb Gb A: diminished seventh
        ((60, 64, 68), True),  # C E G#: augmented
        ((71, 74, 77, 81), True),  # B D F A: half-diminished seventh
        ((60, 64, 67, 71, 74), False),  # C major ninth: five pitch classes fit no template
        ((60, 61), True),  # a semitone fits (B-C in a C major seventh), as documented
        ((60,), True),
    ],
)
def test_chord_share_of_one_column(pitches, fits):
    assert measures.piece_measures(chord(2, *pitches), 0.25).chord_share == (1.0 if fits else 0.0)


def test_chord_share_counts_only_sounding_columns():
    on = frames(12, (60, 0, 4), (61, 0, 4), (62, 0, 4), (60, 4, 8), (64, 4, 8), (67, 4, 8))  # cluster, triad, silence
    m = measures.piece_measures(on, 0.25)
    assert m.chord_share == 0.5
    assert m.empty_share == pytest.approx(1 / 3)
    assert m.polyphony == 3.0 and m.density == 2.0


def test_the_chord_table_agrees_with_the_templates_on_every_transposition():
    for steps in measures.CHORD_TEMPLATES.values():
        for root in range(12):
            assert measures.CHORD_FITS[sum(1 << ((root + s) % 12) for s in steps)]
    assert measures.CHORD_FITS.sum() < 4096 // 10  # most sets of pitch classes are no chord


def test_density_by_quarter_of_a_piece_that_fades():
    on = frames(16, (60, 0, 4), (64, 0, 8), (67, 0, 12), (72, 0, 16))  # 4, 3, 2, then 1 voice
    m = measures.piece_measures(on, 0.25)
    assert m.density_by_quarter == (4.0, 3.0, 2.0, 1.0)
    assert m.density == 2.5
    assert m.change_share == pytest.approx(3 / 15)  # three voices stop: three of 15 columns change
    assert m.note_lengths == (0.0, 0.0, 0.25, 0.5, 0.25, 0.0)  # 1, 2, 3 and 4 beats


def test_change_share_and_note_lengths_of_a_moving_line_at_a_beat_a_column():
    on = frames(4, (60, 0, 1), (62, 1, 2), (64, 2, 3), (64, 3, 4))  # the last E is held over two columns
    m = measures.piece_measures(on, 1.0)
    assert m.change_share == pytest.approx(2 / 3)
    assert m.notes == 3 and m.longest_note_beats == 2.0
    assert m.note_lengths == pytest.approx((0.0, 0.0, 2 / 3, 1 / 3, 0.0, 0.0))
    assert m.pitch_range == 4


def test_bool_float_and_page_pixels_read_alike_and_a_page_keeps_its_restrikes():
    on = chord(8, 60, 67)
    as_bool = measures.piece_measures(on, 0.5)
    assert measures.piece_measures(on.astype(np.float32) * 0.9, 0.5) == as_bool
    page = roll.from_frames(on)
    assert measures.piece_measures(page, 0.5) == as_bool
    page[4, 60 - LOWEST_PITCH] = ONSET  # C struck again halfway: two notes of two beats
    restruck = measures.piece_measures(page, 0.5)
    assert restruck.notes == 3 and restruck.mean_note_beats == pytest.approx(8 / 3)
    assert restruck.change_share == 0.0  # what sounds is unchanged
    assert page.max() == ON


def test_thin_share_counts_a_bar_or_more_with_voices_dropped_out():
    """Four voices; one goes on alone for a bar and a beat (20 columns at 0.25), and all rest for a beat."""
    four = [(48, 0, 64), (55, 0, 64), (64, 0, 64), (72, 0, 64)]
    alone = frames(64, (72, 0, 64), (48, 0, 20), (55, 0, 20), (64, 0, 20), (48, 40, 64), (55, 40, 64),
                   (64, 40, 64))
    assert measures.piece_measures(frames(64, *four), 0.25).thin_share == 0.0
    assert measures.piece_measures(alone, 0.25).thin_share == pytest.approx(20 / 64)
    rest = frames(64, *[(p, 0, 30) for p, _, _ in four], *[(p, 34, 64) for p, _, _ in four])
    assert measures.piece_measures(rest, 0.25).thin_share == 0.0  # a beat's rest is shorter than a bar
    long_rest = frames(64, *[(p, 0, 20) for p, _, _ in four], *[(p, 36, 64) for p, _, _ in four])
    assert measures.piece_measures(long_rest, 0.25).thin_share == pytest.approx(16 / 64)
    assert measures.piece_measures(long_rest, 0.5).thin_share == pytest.approx(16 / 64)  # 8 beats at 0.5


def test_silence_and_an_empty_piece_measure_without_error():
    for columns in (0, 1, 8):
        m = measures.piece_measures(np.zeros((columns, PITCHES)), 0.25)
        assert (m.notes, m.longest_note_beats, m.density, m.polyphony, m.chord_share) == (0, 0.0, 0.0, 0.0, 0.0)
        assert m.empty_share == 1.0 and m.pitch_range == 0 and m.pitch_classes == (0.0,) * 12 and m.thin_share == 0.0
        assert m.note_lengths == (0.0,) * len(measures.NOTE_LENGTH_BINS)
        assert np.all(np.isfinite(measures.feature_vector(m)))


def test_frames_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError):
        measures.piece_measures(np.zeros((4, 88)), 0.25)


def test_feature_vector_is_the_scalars_then_the_histograms():
    m = measures.piece_measures(chord(16, 60, 64, 67), 0.25)
    vector = measures.feature_vector(m)
    n = len(measures.FEATURES)
    assert vector.shape == (n + 12 + len(measures.NOTE_LENGTH_BINS),)
    assert vector[measures.FEATURES.index("chord_share")] == 1.0
    assert list(vector[n : n + 12]) == list(m.pitch_classes)
    assert list(vector[n + 12 :]) == list(m.note_lengths)


# ---------------------------------------------------------------- random sets whose answer is known


def chorale(rng: np.random.Generator, columns: int = 64) -> np.ndarray:
    """Four-voice triads and sevenths held for 4 or 8 columns: a chorale in outline."""
    on = np.zeros((columns, PITCHES), dtype=bool)
    start = 0
    while start < columns:
        length = int(rng.choice([4, 8]))
        steps = [MAJOR, MINOR, DOMINANT_SEVENTH][rng.integers(3)]
        root = 48 + int(rng.integers(12))
        voices = [root] + [root + 12 + s for s in steps]
        on[start : start + length, np.array(voices) - LOWEST_PITCH] = True
        start += length
    return on


def clusters(rng: np.random.Generator, columns: int = 64) -> np.ndarray:
    """A new cluster of 5 to 9 adjacent semitones every column."""
    on = np.zeros((columns, PITCHES), dtype=bool)
    for column in range(columns):
        width = int(rng.integers(5, 10))
        low = int(rng.integers(20, 70))
        on[column, low : low + width] = True
    return on


def pieces(make, count: int, seed: int) -> list[measures.PieceMeasures]:
    rng = np.random.default_rng(seed)
    return [measures.piece_measures(make(rng), 0.25) for _ in range(count)]


@pytest.fixture(scope="module")
def chorales() -> list[measures.PieceMeasures]:
    return pieces(chorale, 20, seed=1)


@pytest.fixture(scope="module")
def more_chorales() -> list[measures.PieceMeasures]:
    return pieces(chorale, 20, seed=2)


@pytest.fixture(scope="module")
def cluster_pieces() -> list[measures.PieceMeasures]:
    return pieces(clusters, 20, seed=3)


def test_a_set_compared_with_itself_overlaps_fully(chorales):
    results = measures.compare_sets(chorales, chorales)
    assert [r.feature for r in results] == list(measures.FEATURES)
    for r in results:
        assert r.overlap > 0.85, r
        assert r.kl < 0.2, r
        assert (r.real_mean, r.real_std) == (r.generated_mean, r.generated_std)


def test_two_samples_of_one_process_overlap_more_than_different_processes(chorales, more_chorales, cluster_pieces):
    same = {r.feature: r for r in measures.compare_sets(more_chorales, chorales)}
    different = {r.feature: r for r in measures.compare_sets(cluster_pieces, chorales)}
    for feature in ("change_share", "density", "polyphony", "chord_share"):
        assert same[feature].overlap > 0.6, same[feature]
        assert different[feature].overlap < 0.1, different[feature]
        assert different[feature].kl > same[feature].kl
    assert different["chord_share"].generated_mean < 0.1 and different["chord_share"].real_mean == 1.0
    # chorales' longest notes vary (1 to 6 beats), so clusters' distances to them fall partly among their own
    assert 0.1 < different["longest_note_beats"].overlap < same["longest_note_beats"].overlap


def test_identical_pieces_zero_variance_do_not_break_the_densities():
    same = [measures.piece_measures(chord(16, 60, 64, 67), 0.25)] * 5
    for r in measures.compare_sets(same, same):
        assert r.overlap == pytest.approx(1.0, abs=1e-3) and r.kl == pytest.approx(0.0, abs=1e-6)
        assert r.real_std == 0.0
    other = [measures.piece_measures(chord(16, 60, 61, 62), 0.25)] * 5  # every distance from them 1 on chord_share
    chord_row = {r.feature: r for r in measures.compare_sets(other, same)}["chord_share"]
    assert chord_row.overlap < 1e-3 and chord_row.kl > 1.0


@pytest.mark.parametrize("generated_size, real_size", [(1, 1), (2, 2), (1, 5), (5, 2), (0, 5), (5, 0)])
def test_tiny_sets_report_nan_instead_of_failing(chorales, generated_size, real_size):
    results = measures.compare_sets(chorales[:generated_size], chorales[:real_size])
    assert len(results) == len(measures.FEATURES)
    enough = real_size >= measures.MIN_REAL_PIECES and generated_size > 0
    for r in results:
        assert math.isnan(r.overlap) != enough and math.isnan(r.kl) != enough
        assert math.isnan(r.real_mean) == (real_size == 0)
        json.dumps(r.to_dict())


def test_a_classifier_cannot_tell_two_samples_of_one_process_apart(chorales, more_chorales):
    assert measures.two_sample_accuracy(more_chorales, chorales) == pytest.approx(0.5, abs=0.2)


def test_a_classifier_tells_clusters_from_chorales(chorales, cluster_pieces):
    accuracy = measures.two_sample_accuracy(cluster_pieces, chorales)
    assert accuracy >= 0.95
    assert measures.two_sample_accuracy(cluster_pieces, chorales, seed=0) == accuracy  # seeded: repeatable


def test_the_two_sample_test_balances_sets_and_needs_two_pieces_each(chorales, cluster_pieces):
    assert measures.two_sample_accuracy(cluster_pieces[:3], chorales) >= 0.75  # 3 against 3 of 20, 3 folds of 4 to learn from
    assert 0.5 <= measures.two_sample_accuracy(cluster_pieces[:2], chorales[:2]) <= 1.0  # 2 folds of one each: a figure
    assert math.isnan(measures.two_sample_accuracy(cluster_pieces[:1], chorales))
    assert math.isnan(measures.two_sample_accuracy([], chorales))


def test_summarise_weighs_each_piece_the_same_and_serialises_to_plain_json():
    triad = measures.piece_measures(chord(16, 60, 64, 67), 0.25)
    fading = measures.piece_measures(frames(16, (60, 0, 4), (64, 0, 8), (67, 0, 12), (72, 0, 16)), 0.25)
    summary = measures.summarise([triad, fading])
    assert summary.pieces == 2
    assert summary.features["density"] == pytest.approx((3.0 + 2.5) / 2)
    assert summary.density_by_quarter == pytest.approx((3.5, 3.0, 2.5, 2.0))
    assert summary.pitch_classes[0] == pytest.approx((1 / 3 + 0.5) / 2)  # C: a third of one, half of the other
    assert sum(summary.note_lengths) == pytest.approx(1.0)
    data = summary.to_dict()
    assert set(data["features"]) == set(measures.FEATURES)
    assert isinstance(data["pitch_classes"], list) and all(type(v) is float for v in data["pitch_classes"])
    assert all(type(v) is float for v in data["features"].values())
    assert json.loads(json.dumps(data)) == data
    piece = triad.to_dict()
    assert type(piece["columns"]) is int and piece["note_lengths"] == list(triad.note_lengths)
    json.dumps(piece)


def test_summarise_of_nothing_is_nan():
    summary = measures.summarise([])
    assert summary.pieces == 0 and all(math.isnan(v) for v in summary.features.values())
    assert all(math.isnan(v) for v in summary.pitch_classes)


def test_survival_is_the_share_of_notes_lasting_at_least_so_many_columns():
    lengths = np.array([1, 1, 2, 4])
    assert measures.survival(lengths) == pytest.approx((1.0, 1.0, 0.5, 0.25, 0.25, 0.0))
    assert measures.survival(np.zeros(0, np.int64)) == (0.0, 0.0), "no notes: nothing lasts"
