"""roll: notes in beats ↔ the quantised roll, with and without onset pixels."""

from __future__ import annotations

import numpy as np

from pianoroll import roll as rolls
from pianoroll.roll import LOWEST_PITCH, ON, ONSET, SILENCE, Note


def test_quantising_goes_to_the_nearest_step_and_a_note_lasts_at_least_one():
    roll, dropped = rolls.from_notes([Note(60, 0.12, 0.13), Note(62, 0.13, 0.62), Note(64, 1.0, 1.0)], 0.25)
    assert dropped == 0 and roll.shape == (5, rolls.PITCHES) and roll.dtype == np.uint8
    assert rolls.to_notes(roll, 0.25) == [Note(60, 0.0, 0.25), Note(62, 0.25, 0.5), Note(64, 1.0, 1.25)]


def test_halves_round_up_despite_float_noise():
    assert rolls.to_step(0.125, 0.25) == 1
    assert rolls.to_step(0.3 - 0.15, 0.1) == 2  # 0.15 in floating point is a hair under 1.5 steps


def test_notes_outside_the_piano_are_dropped_and_counted():
    roll, dropped = rolls.from_notes([Note(20, 0, 1), Note(21, 0, 1), Note(126, 0, 1), Note(127, 0, 1)], 0.5)
    assert dropped == 2
    assert rolls.is_on(roll[:, 0]).all() and rolls.is_on(roll[:, rolls.PITCHES - 1]).all()
    assert rolls.is_on(roll).sum() == 4


def test_onsets_mark_a_restrike_and_to_notes_splits_there():
    notes = [Note(60, 0, 1), Note(60, 1, 1.5), Note(60, 2, 3)]
    plain, _ = rolls.from_notes(notes, 0.5)
    marked, _ = rolls.from_notes(notes, 0.5, keep_onsets=True)
    column = marked[:, 60 - LOWEST_PITCH]
    assert list(column) == [ON, ON, ONSET, SILENCE, ON, ON]
    assert np.array_equal(rolls.is_on(marked), rolls.is_on(plain))
    assert [(n.start, n.end) for n in rolls.to_notes(plain, 0.5)] == [(0.0, 1.5), (2.0, 3.0)]
    assert [(n.start, n.end) for n in rolls.to_notes(marked, 0.5)] == [(0.0, 1.0), (1.0, 1.5), (2.0, 3.0)]


def test_an_overlapping_note_of_the_same_pitch_is_marked_as_a_restrike():
    marked, _ = rolls.from_notes([Note(67, 0, 2), Note(67, 1, 3)], 0.5, keep_onsets=True)
    assert list(marked[:, 67 - LOWEST_PITCH]) == [ON, ON, ONSET, ON, ON, ON]


def test_frames_are_zero_one_and_come_back_as_pixels():
    roll, _ = rolls.from_notes([Note(60, 0, 1), Note(60, 1, 2)], 0.25, keep_onsets=True)
    frames = rolls.as_frames(roll)
    assert frames.dtype == np.float32 and set(np.unique(frames)) == {0.0, 1.0}
    assert np.array_equal(rolls.from_frames(frames), np.where(rolls.is_on(roll), ON, SILENCE))


def test_an_empty_list_of_notes_is_an_empty_roll():
    roll, dropped = rolls.from_notes([], 0.25)
    assert roll.shape == (0, rolls.PITCHES) and dropped == 0 and rolls.to_notes(roll, 0.25) == []
