"""sequences: the seed systems' event encodings on a real chorale page, their windows, and velocities from MIDI sources."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from pianoroll import pages, roll, scores, sequences
from pianoroll.roll import DEFAULT_RESOLUTION as RES


@functools.cache
def chorale_page() -> np.ndarray:
    """The first page of a built-in chorale, through a real PNG: what `make images` writes and training reads."""
    import tempfile
    from pathlib import Path

    notes = scores.read(scores.chorales()[0])
    with tempfile.TemporaryDirectory() as folder:
        written = pages.write_pages(roll.from_notes(notes, RES)[0], Path(folder), "chorale")
        return pages.read_page(written[0])


def test_notes_round_trip_exactly_on_a_real_chorale_page():
    page = chorale_page()
    notes = sequences.piece_notes(page, RES)
    events = sequences.to_note_events(notes)
    assert events.shape == (len(notes), 3) and (events[:, 1] >= 0).all() and (events[:, 2] > 0).all()
    back = roll.from_notes(sequences.from_note_events(events, first_start=notes[0].start), RES)[0]
    assert np.array_equal(roll.is_on(back), roll.is_on(page)[: len(back)])
    assert not roll.is_on(page)[len(back):].any()  # only the page's silent padding is left out


def test_messages_round_trip_exactly_on_a_real_chorale_page():
    page = chorale_page()
    messages = sequences.to_messages(sequences.piece_notes(page, RES))
    notes = sequences.piece_notes(page, RES)
    assert len(messages) == 2 * len(notes)  # one message to start each note, one (velocity 0) to end it
    assert set(messages[messages[:, 1] > 0, 1]) == {sequences.FIXED_VELOCITY}
    back = roll.from_notes(sequences.from_messages(messages), RES)[0]
    assert np.array_equal(roll.is_on(back), roll.is_on(page)[: len(back)]) and not roll.is_on(page)[len(back):].any()


def test_tokens_keep_every_onset_and_its_pitch_classes_on_a_real_chorale_page():
    page = chorale_page()
    notes = sequences.piece_notes(page, RES)
    tokens = sequences.to_tokens(notes)
    onsets = sorted({n.start for n in notes})
    assert len(tokens) == len(onsets)
    back = sequences.from_tokens(tokens)
    assert sorted({n.start for n in back}) == pytest.approx(onsets)
    for onset in onsets:
        struck = {n.pitch for n in notes if n.start == onset}
        played = {n.pitch for n in back if abs(n.start - onset) < 1e-9}
        if len(struck) == 1:
            assert played == struck  # a single note keeps its octave
        else:
            assert {p % 12 for p in played} == {p % 12 for p in struck}  # a chord keeps its pitch classes, from C4 up
            assert min(played) >= sequences.CHORD_OCTAVE_C and max(played) < sequences.CHORD_OCTAVE_C + 12


def test_a_chord_token_is_musics21_normal_order_and_a_note_token_its_name():
    assert sequences.token_of((52, 60, 67, 76)) == "0.4.7"  # E3 C4 G4 E5: a C major triad
    assert sequences.token_of((62, 65, 69, 72)) == "9.0.2.5"  # D F A C: the most compact rotation starts on A
    assert sequences.token_of((61,)) == "C#4"
    assert sequences.token_pitches("C#4") == (61,) and sequences.token_pitches("0.4.7") == (60, 64, 67)


def test_time_classes_follow_the_seed_zero_alone_then_ten_ranges():
    classes = sequences.TimeClasses.fit(np.array([0.0, 0.25, 0.5, 2.75, 0.0]))
    assert (classes.low, classes.high) == (0.25, 2.75)
    found = classes.classes(np.array([0.0, 0.25, 0.5, 2.75, 9.0]))
    assert found.tolist() == [0, 1, 2, 11, 11]  # int((t - low) / 0.25 + 1); beyond the longest stays in 11
    assert classes.times(np.array([0, 1, 11])) == pytest.approx([0.0, 0.5, 3.0])  # the seed's class × width + low


def test_a_message_is_three_one_hots_of_89_128_and_12():
    classes = sequences.TimeClasses(0.25, 2.75)
    indices = sequences.message_indices(np.array([[60, 90, 0.0], [60, 0, 0.5], [112, 127, 2.75]]), classes)
    slots = sequences.one_hot_messages(indices)
    assert slots.shape == (3, 89 + 128 + 12) and (slots.sum(axis=1) == 3).all()
    assert slots[2, 112 - 24] == 1 and slots[2, 89 + 127] == 1 and slots[2, 89 + 128 + 11] == 1


def test_windows_run_across_pieces_and_a_primer_is_a_pieces_first_events():
    notes = {"a": [roll.Note(60 + i % 5, i, i + 1) for i in range(30)], "b": [roll.Note(67, i, i + 0.5) for i in range(10)]}
    encoding = sequences.fit_encoding("notes", 25, notes)
    stream = sequences.encode_pieces("notes", notes, encoding)
    assert stream.windows == 40 - 25 and stream.firsts == {"a": 0, "b": 30}
    assert stream.primer("a")[:, 0] * sequences.MIDI_PITCHES == pytest.approx([60 + i % 5 for i in range(25)])
    assert len(stream.primer("b")) == 25  # shorter than the window: it starts early enough to hold one


def test_event_batches_are_not_autotuned_and_hold_every_window_once():
    notes = {"a": [roll.Note(60 + i % 5, i, i + 1) for i in range(30)]}
    stream = sequences.encode_pieces("notes", notes, sequences.fit_encoding("notes", 10, notes))
    data = sequences.dataset(stream, 4, shuffle=True, seed=2)
    assert data.options().autotune.enabled is False
    assert sum(len(windows) for windows, _ in data) == stream.windows == 20


def test_velocity_is_read_from_a_midi_source_and_fixed_for_others(make_midi, tmp_path):
    source = make_midi("played.mid", [["0, Note_on_c, 0, 60, 33", "480, Note_off_c, 0, 60, 0",
                                       "480, Note_on_c, 0, 64, 101", "960, Note_off_c, 0, 64, 0"]])
    played = roll.from_notes([roll.Note(60, 0, 1), roll.Note(64, 1, 2)], RES)[0]
    pages.write_pages(played, tmp_path, "played")
    pages.write_pages(played, tmp_path, "scored")
    pages.write_manifest(tmp_path, [pages.Entry(str(source), "played", pages=1, columns=len(played)),
                                    pages.Entry(str(tmp_path / "score.mxl"), "scored", pages=1, columns=len(played))])
    notes, sourced = sequences.load_notes(tmp_path, {"played": played, "scored": played}, RES, velocity=True)
    assert [n.velocity for n in notes["played"]] == [33, 101] and sourced == 1
    assert [n.velocity for n in notes["scored"]] == [sequences.FIXED_VELOCITY] * 2
    messages = sequences.to_messages(notes["played"])
    assert messages[:, 1].tolist() == [33, 0, 101, 0]  # the second note starts as the first ends: off, then on
