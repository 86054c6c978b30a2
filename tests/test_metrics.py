"""metrics: each figure against its closed form on frames small enough to count by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pianoroll import metrics, roll


def test_frame_nll_of_a_constant_probability_is_the_binomial_closed_form():
    targets = np.zeros((4, roll.PITCHES))
    targets[:, [39, 43, 46]] = 1  # a C major triad held for four frames
    nll = metrics.frame_nll(np.full_like(targets, 0.25), targets)
    assert nll == pytest.approx(-(3 * math.log(0.25) + (roll.PITCHES - 3) * math.log(0.75)))


def test_frame_nll_averages_over_frames_and_sums_over_pitches():
    targets = np.array([[1.0, 0.0], [0.0, 0.0]])
    probs = np.array([[0.5, 0.5], [0.1, 0.2]])
    expected = (-(math.log(0.5) + math.log(0.5)) - (math.log(0.9) + math.log(0.8))) / 2
    assert metrics.frame_nll(probs, targets) == pytest.approx(expected)


def test_frame_nll_clips_a_certain_miss_to_a_finite_cost():
    assert metrics.frame_nll(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])) == pytest.approx(-2 * math.log(metrics.CLIP))


def test_brier_is_the_mean_squared_error_per_cell():
    assert metrics.brier(np.array([[0.5, 0.0], [1.0, 0.25]]), np.array([[1.0, 0.0], [0.0, 0.0]])) == \
        pytest.approx((0.25 + 0 + 1 + 0.0625) / 4)


def test_frame_f1_counts_cells_at_the_threshold():
    probs = np.array([[0.9, 0.6, 0.1], [0.5, 0.2, 0.7]])
    targets = np.array([[1, 0, 1], [1, 0, 0]])
    # predicted on: (0,0) (0,1) (1,0) (1,2); true positives (0,0) (1,0); misses (0,2); false alarms (0,1) (1,2)
    assert metrics.frame_f1(probs, targets) == pytest.approx(2 * 2 / (2 * 2 + 3))
    assert metrics.frame_f1(np.zeros((2, 3)), np.zeros((2, 3))) == 1.0


def test_quarters_averages_each_quarter_and_keeps_short_series():
    assert metrics.quarters(np.arange(1, 9)) == [1.5, 3.5, 5.5, 7.5]
    assert metrics.quarters(np.array([4.0, 8.0])) == [4.0, 8.0, 0.0, 0.0]


def test_piece_statistics_of_a_hand_made_roll():
    frames = np.zeros((8, roll.PITCHES))
    c4, e4, g4 = (p - roll.LOWEST_PITCH for p in (60, 64, 67))
    frames[0:4, [c4, e4, g4]] = 1  # a triad held for four columns
    frames[4:6, c4] = 1  # then C alone for two, then two empty columns
    stats = metrics.piece_statistics(roll.from_frames(frames), resolution=0.5)
    assert stats["columns"] == 8 and stats["beats"] == 4.0
    assert stats["notes"] == 3  # C held through six columns is one note, E and G one each
    assert stats["density"] == pytest.approx((4 * 3 + 2) / 8)
    assert stats["mean_polyphony"] == pytest.approx((4 * 3 + 2) / 6)
    assert stats["empty_fraction"] == pytest.approx(2 / 8)
    assert stats["repeated_fraction"] == pytest.approx(5 / 7)  # 3 in the triad, 1 in the C, 1 in the silence
    assert (stats["lowest_pitch"], stats["highest_pitch"]) == (60, 67)
    assert stats["density_by_quarter"] == [3.0, 3.0, 1.0, 0.0]
    assert stats["fade_ratio"] == 0.0
    expected = np.zeros(12)
    expected[[0, 4, 7]] = [6, 4, 4]
    assert stats["pitch_classes"] == pytest.approx((expected / 14).tolist())


def test_piece_statistics_of_silence_has_no_range_and_no_fade():
    stats = metrics.piece_statistics(roll.empty(12), resolution=0.25)
    assert stats["density"] == 0.0 and stats["empty_fraction"] == 1.0
    assert stats["lowest_pitch"] is None and stats["fade_ratio"] is None
    assert stats["pitch_classes"] == [0.0] * 12
