"""midi: real MIDI bytes (built with py_midicsv, and music21's own test files) ↔ notes in beats."""

from __future__ import annotations

import glob
import re
import warnings
from pathlib import Path

import music21
import numpy as np
import pretty_midi
import py_midicsv
import pytest

from pianoroll import midi
from pianoroll import roll as rolls
from pianoroll.roll import Note

MUSIC21_MIDI = sorted(glob.glob(str(Path(music21.__file__).parent / "midi" / "testPrimitive" / "*.mid")))
MUSIC21_OMR_MIDI = sorted(glob.glob(str(Path(music21.__file__).parent / "omr" / "*.mid")))  # Mozart's K525, not music21's writing


def on(tick: int, pitch: int, velocity: int = 80, channel: int = 0) -> str:
    return f"{tick}, Note_on_c, {channel}, {pitch}, {velocity}"


def off(tick: int, pitch: int, channel: int = 0) -> str:
    return f"{tick}, Note_off_c, {channel}, {pitch}, 0"


def tempo(tick: int, bpm: float) -> str:
    return f"{tick}, Tempo, {round(60_000_000 / bpm)}"


def cells(roll: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, np.argwhere(rolls.is_on(roll))))


# Reading files built event by event


def test_times_are_beats_from_ticks_per_quarter_whatever_the_tempo(make_midi):
    path = make_midi("tempo.mid", [
        [tempo(0, 60), tempo(97, 200), tempo(194, 33)],
        [on(0, 60), off(97, 60), on(97, 62), off(291, 62), on(291, 64, 100), off(340, 64)],
    ], ticks=97)  # fmt: skip
    assert midi.read(path) == [Note(60, 0.0, 1.0, 80), Note(62, 1.0, 3.0, 80), Note(64, 3.0, 340 / 97, 100)]


def test_velocity_zero_is_a_note_off_and_format_0_reads_like_format_1(make_midi):
    events = [on(0, 60), on(0, 64), on(480, 60, 0), on(960, 64, 0)]
    one = make_midi("one.mid", [[tempo(0, 120)], events])
    zero = make_midi("zero.mid", [[tempo(0, 120), *events]], format=0)
    assert midi.read(one) == midi.read(zero) == [Note(60, 0.0, 1.0, 80), Note(64, 0.0, 2.0, 80)]


def test_leading_silence_is_kept(make_midi):
    path = make_midi("late.mid", [[on(1920, 69), off(2400, 69)]])
    roll, _ = rolls.from_notes(midi.read(path), 0.25)
    assert roll.shape[0] == 20 and not rolls.is_on(roll[:16]).any() and rolls.is_on(roll[16:20, 69 - 21]).all()


def test_drums_are_left_out_and_a_file_of_drums_only_says_so(make_midi):
    mixed = make_midi("mixed.mid", [[on(0, 36, channel=9), off(480, 36, channel=9), on(0, 60), off(480, 60)]])
    assert [n.pitch for n in midi.read(mixed)] == [60]
    drums = make_midi("drums.mid", [[on(0, 36, channel=9), off(480, 36, channel=9)]])
    with pytest.raises(midi.MidiError, match=r"drums\.mid: only drum notes"):
        midi.read(drums)


def test_every_channel_and_track_is_merged(make_midi):
    path = make_midi("merge.mid", [[on(0, 60, channel=0), off(480, 60, channel=0)],
                                   [on(0, 64, channel=3), off(480, 64, channel=3)]])  # fmt: skip
    assert [n.pitch for n in midi.read(path)] == [60, 64]


def test_out_of_range_pitches_are_read_then_dropped_and_counted_by_the_roll(make_midi):
    path = make_midi("range.mid", [[on(0, 20), off(480, 20), on(0, 21), off(480, 21),
                                    on(0, 126), off(480, 126), on(0, 127), off(480, 127)]])  # fmt: skip
    roll, dropped = rolls.from_notes(midi.read(path), 0.25)
    assert dropped == 2 and rolls.is_on(roll[:, 0]).all() and rolls.is_on(roll[:, -1]).all()


def pretty_midi_roll(path: Path, resolution: float) -> np.ndarray:
    """pretty_midi's notes of a file, in beats through its own tick map, on our grid: the reference reading."""
    with warnings.catch_warnings():  # it warns of tempo events outside the first track, and reads them
        warnings.simplefilter("ignore", RuntimeWarning)
        pm = pretty_midi.PrettyMIDI(str(path))
    beats = [Note(n.pitch, pm.time_to_tick(n.start) / pm.resolution, pm.time_to_tick(n.end) / pm.resolution)
             for part in pm.instruments if not part.is_drum for n in part.notes]  # fmt: skip
    return rolls.from_notes(beats, resolution)[0]


def test_a_restruck_key_is_released_by_its_first_note_off_as_pretty_midi_reads_it(make_midi):
    # Alto holds C from beat 0 to 2, tenor strikes C at beat 1 and would hold it to beat 3; E sounds to beat 4.
    # One channel sounds a key once (FluidSynth cuts the sound at the first note-off: scripts/bench_readers.py):
    # the tenor's strike ends the alto's note, the alto's note-off the key.
    path = make_midi("unison.mid", [[on(0, 60), on(480, 60), off(960, 60), off(1440, 60), on(0, 64), off(1920, 64)]])
    assert midi.read(path) == [Note(60, 0.0, 1.0, 80), Note(64, 0.0, 4.0, 80), Note(60, 1.0, 2.0, 80)]
    roll, _ = rolls.from_notes(midi.read(path), 0.25, keep_onsets=True)
    c = 60 - rolls.LOWEST_PITCH
    assert list(roll[:, c]) == [rolls.ON] * 4 + [rolls.ONSET] + [rolls.ON] * 3 + [rolls.SILENCE] * 8
    np.testing.assert_array_equal(rolls.is_on(roll), rolls.is_on(pretty_midi_roll(path, 0.25)))


def test_a_key_struck_twice_at_once_is_one_note_released_by_the_first_note_off(make_midi):
    path = make_midi("double.mid", [[on(0, 57), on(0, 57), off(240, 57), off(480, 57)]])
    assert midi.read(path) == [Note(57, 0.0, 0.5, 80)]


@pytest.mark.parametrize("path", MUSIC21_MIDI + MUSIC21_OMR_MIDI, ids=lambda p: Path(p).name)
def test_music21_midi_files_give_pretty_midis_roll_cell_for_cell(path):
    ours = rolls.is_on(rolls.from_notes(midi.read(path), 0.25)[0])
    theirs = rolls.is_on(pretty_midi_roll(path, 0.25))
    np.testing.assert_array_equal(ours, theirs)


def test_as_played_keeps_unison_voices_sounding_through_a_file(tmp_path):
    """Overlapping notes of one pitch, written as they are, are cut at the first note-off when read (or played);
    written ``as_played``, they read back as the notes' own roll."""
    notes = [Note(60, 0, 2), Note(60, 1, 3), Note(64, 0, 1), Note(64, 0, 2), Note(67, 0, 1), Note(67, 1, 2)]
    expected = rolls.from_notes(notes, 0.25, keep_onsets=True)[0]
    midi.write(notes, tmp_path / "as-is.mid")
    assert rolls.from_notes(midi.read(tmp_path / "as-is.mid"), 0.25)[0].shape[0] == 8  # C cut at beat 2
    midi.write(midi.as_played(notes), tmp_path / "played.mid")
    np.testing.assert_array_equal(rolls.from_notes(midi.read(tmp_path / "played.mid"), 0.25, keep_onsets=True)[0],
                                  expected)  # fmt: skip
    assert midi.as_played(notes) == [Note(60, 0, 1), Note(64, 0, 2), Note(67, 0, 1), Note(60, 1, 3), Note(67, 1, 2)]


def test_a_note_never_released_lasts_to_the_last_event(make_midi):
    path = make_midi("held.mid", [[on(0, 60), on(0, 67), off(960, 67), "1920, Marker_t, \"end\""]])
    assert midi.read(path) == [Note(60, 0.0, 4.0, 80), Note(67, 0.0, 2.0, 80)]


def test_read_parts_splits_by_program(make_midi):
    path = make_midi("band.mid", [
        ["0, Program_c, 0, 0", on(0, 60), off(480, 60)],
        ["0, Program_c, 1, 40", on(0, 67, channel=1), off(480, 67, channel=1), on(0, 38, channel=9), off(480, 38, channel=9)],
    ])  # fmt: skip
    parts = midi.read_parts(path)
    assert list(parts) == ["piano-0", "strings-40"]
    assert [n.pitch for n in parts["strings-40"]] == [67]


# The fast decoder against py_midicsv, the parser of record


def through_py_midicsv(path: Path) -> tuple[int, list]:
    data = path.read_bytes()
    pattern = midi._parse(data, path)
    return pattern.resolution, midi._pattern_tracks(pattern, path)


def decoded(data: bytes) -> tuple[int, list]:
    return midi.decode(data, midi.track_spans(data, Path("test.mid")))


def track(*events: bytes) -> bytes:
    body = b"".join(events)
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def smf(*tracks: bytes, ticks: int = 96) -> bytes:
    return b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big") \
        + ticks.to_bytes(2, "big") + b"".join(tracks)


END = b"\x00\xff\x2f\x00"


def test_the_fast_decoder_agrees_with_py_midicsv_on_every_file_it_takes(tmp_path):
    """music21's test files and files we write are all decoded on the fast path, note for note as py_midicsv
    reads them; of 300 damaged files, those it does not hand to py_midicsv agree too."""
    midi.write([Note(40 + i % 50, i / 3, i / 3 + 1 + i % 4, 1 + i % 127) for i in range(300)], tmp_path / "ours.mid")
    for path in [*map(Path, MUSIC21_MIDI), tmp_path / "ours.mid"]:
        assert decoded(path.read_bytes()) == through_py_midicsv(path), path.name
    good = (tmp_path / "ours.mid").read_bytes()
    rng = np.random.default_rng(5)
    taken = 0
    for trial in range(300):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(14, len(data)))] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{trial}.mid"
        path.write_bytes(bytes(data))
        try:
            fast = decoded(bytes(data))
        except (midi.MidiError, midi.UnusualMidi):
            continue
        taken += 1
        try:
            assert fast == through_py_midicsv(path)
        except midi.MidiError as error:
            pytest.fail(f"the fast path read {path.name}, py_midicsv refused it: {error}")
    assert taken > 20


def test_running_status_meta_and_sysex_events_stay_on_the_fast_path(tmp_path):
    notes = track(b"\x00\xff\x03\x02hi",  # a track name
                  b"\x00\x90\x3c\x40", b"\x00\x40\x40",  # C4, then E4 by running status
                  b"\x00\xf0\x03\x7e\x7f\xf7",  # system exclusive
                  b"\x60\x3c\x00",  # running status goes on after it: C4 released by velocity 0
                  b"\x81\x40\x80\x40\x00",  # a two-byte delta (192), then a plain note-off for E4
                  END)  # fmt: skip
    path = tmp_path / "running.mid"
    path.write_bytes(smf(notes))
    assert decoded(path.read_bytes()) == through_py_midicsv(path)
    assert midi.read(path) == [Note(60, 0.0, 1.0, 64), Note(64, 0.0, 3.0, 64)]


@pytest.mark.parametrize(("event", "why"), [
    (b"\x00\xff\x60\x01\x00", "meta event"),  # a meta type py_midicsv does not know
    (b"\x00\xf7\x01\x00", "system event"),  # an F7 escape
    (b"\x00\x3c\x40", "running status"),  # data with no status before it (py_midicsv refuses the file)
    (b"\x00\x90\x3c\xc0", "channel event data"),  # a velocity above 127
])
def test_what_the_fast_decoder_does_not_take_goes_to_py_midicsv(tmp_path, event, why):
    path = tmp_path / "odd.mid"
    path.write_bytes(smf(track(event, b"\x00\x90\x3e\x40", b"\x60\x80\x3e\x00", END)))
    with pytest.raises(midi.UnusualMidi, match=why):
        decoded(path.read_bytes())
    try:
        expected = through_py_midicsv(path)
    except midi.MidiError as error:
        with pytest.raises(midi.MidiError, match=re.escape(str(error))):
            midi.read(path, allow_empty=True)
    else:
        ticks, tracks = expected
        played = sorted((start / ticks, pitch) for start, _, _, pitch, _ in midi._played(tracks))
        assert [(n.start, n.pitch) for n in midi.read(path, allow_empty=True)] == played


# Bad files: one clear reason each


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"hello, this is a text file\n", "not a MIDI file"),
        (bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)), "not a MIDI file"),
        (b"MThd\x00\x00", r"truncated \(the header"),
    ],
)
def test_unreadable_bytes_are_named(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(midi.MidiError, match=rf"^{path}: {reason}"):
        midi.read(path)


def test_a_truncated_file_is_named(make_midi):
    path = make_midi("cut.mid", [[on(0, 60), off(480, 60)], [on(0, 64), off(480, 64)]])
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(midi.MidiError, match=r"truncated \(track 2 of 2 is cut off\)"):
        midi.read(path)


def test_damaged_bytes_give_notes_or_a_midi_error_never_anything_else(tmp_path):
    midi.write([Note(60 + i % 12, i / 2, i / 2 + 1) for i in range(40)], tmp_path / "good.mid")
    good = (tmp_path / "good.mid").read_bytes()
    rng = np.random.default_rng(3)
    reasons = set()
    for trial in range(80):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 12))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{trial}.mid"
        path.write_bytes(bytes(data[: int(rng.integers(len(data) // 2, len(data) + 1))]))
        try:
            notes = midi.read(path)
            assert all(0 <= n.start <= n.end and 0 <= n.pitch <= 127 for n in notes)
        except midi.MidiError as error:
            assert str(error).startswith(f"{path}: ")
            reasons.add(str(error).split(": ")[1].split(" (")[0])
    known = {"truncated", "corrupt MIDI data", "not a MIDI file", "no notes", "only drum notes", "SMPTE time"}
    assert "truncated" in reasons and all(any(r.startswith(k) for k in known) for r in reasons), reasons


def test_a_file_without_notes_is_named_unless_allowed(make_midi):
    path = make_midi("silent.mid", [[tempo(0, 90)]])
    with pytest.raises(midi.MidiError, match=r"silent\.mid: no notes"):
        midi.read(path)
    assert midi.read(path, allow_empty=True) == []


def test_smpte_time_is_refused(make_midi):
    path = make_midi("smpte.mid", [[on(0, 60), off(40, 60)]], ticks=0xE728)
    with pytest.raises(midi.MidiError, match="SMPTE"):
        midi.read(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(midi.MidiError, match=r"nothing\.mid: cannot be read"):
        midi.read(tmp_path / "nothing.mid")


# Writing


def test_write_puts_tempo_time_signature_and_program_as_meta_events(tmp_path):
    path = tmp_path / "out" / "piece.mid"
    midi.write([Note(60, 0, 1, 100), Note(64, 0.5, 2, 300)], path, bpm=100, program=19)
    text = "".join(py_midicsv.midi_to_csv(str(path)))
    assert "Tempo, 600000" in text and "Time_signature, 4, 2, 24, 8" in text and "Program_c, 0, 19" in text
    assert "Header, 1, 2, 480" in text
    assert midi.read(path) == [Note(60, 0.0, 1.0, 100), Note(64, 0.5, 2.0, 127)]
    assert [p.name for p in path.parent.iterdir()] == ["piece.mid"]  # no temporary file left


def test_write_refuses_what_midi_cannot_hold(tmp_path):
    for notes, kwargs in (([Note(128, 0, 1)], {}), ([Note(60, -1, 1)], {}), ([], {"bpm": 0}), ([], {"program": 128})):
        with pytest.raises(midi.MidiError, match="x.mid"):
            midi.write(notes, tmp_path / "x.mid", **kwargs)
    assert not (tmp_path / "x.mid").exists()


# Round trips


def random_roll(rng: np.random.Generator, columns: int) -> np.ndarray:
    """A random roll in canonical form: ONSET only where the pitch already sounds in the step before."""
    on = rng.random((columns, rolls.PITCHES)) < 0.15
    on[-1, rng.integers(rolls.PITCHES)] = True  # the roll ends with sound, as a roll read from notes does
    restrike = on & np.roll(on, 1, axis=0) & (rng.random(on.shape) < 0.3)
    restrike[0] = False
    return np.where(restrike, rolls.ONSET, np.where(on, rolls.ON, rolls.SILENCE)).astype(np.uint8)


@pytest.mark.parametrize("resolution", [0.25, 1 / 3, 0.1, 1.0])
def test_roll_to_midi_to_roll_is_identical(tmp_path, resolution):
    rng = np.random.default_rng(7)
    for trial in range(4):
        roll = random_roll(rng, int(rng.integers(1, 250)))
        path = tmp_path / f"random{trial}.mid"
        midi.write(rolls.to_notes(roll, resolution), path, bpm=float(rng.uniform(40, 200)))
        back, dropped = rolls.from_notes(midi.read(path), resolution, keep_onsets=True)
        assert dropped == 0
        np.testing.assert_array_equal(back, roll)
        plain, _ = rolls.from_notes(midi.read(path), resolution)
        np.testing.assert_array_equal(rolls.is_on(plain), rolls.is_on(roll))


@pytest.mark.parametrize("path", MUSIC21_MIDI, ids=lambda p: Path(p).name)
def test_music21_test_files_keep_every_note_on_the_grid(tmp_path, path):
    notes = midi.read(path)
    roll, dropped = rolls.from_notes(notes, 0.25, keep_onsets=True)
    on_grid = rolls.to_notes(roll, 0.25)
    midi.write(on_grid, tmp_path / "trip.mid")
    back = midi.read(tmp_path / "trip.mid")
    assert [(n.pitch, n.start, n.end) for n in back] == [(n.pitch, n.start, n.end) for n in on_grid]
    again, _ = rolls.from_notes(back, 0.25, keep_onsets=True)
    np.testing.assert_array_equal(again, roll)
    # every note of the file starts a note on the grid and sounds for its whole quantised length
    starts = {(n.pitch, n.start) for n in on_grid}
    for note in notes:
        if rolls.in_range(note.pitch):
            start = rolls.to_step(note.start, 0.25)
            end = max(rolls.to_step(note.end, 0.25), start + 1)
            assert (note.pitch, start * 0.25) in starts
            assert rolls.is_on(roll[start:end, note.pitch - rolls.LOWEST_PITCH]).all()
    assert dropped == sum(not rolls.in_range(n.pitch) for n in notes)


def test_without_onsets_only_touching_restrikes_merge(make_midi, tmp_path):
    path = make_midi("repeat.mid", [[on(0, 60), off(480, 60), on(480, 60), off(960, 60), on(1440, 60), off(1920, 60)]])
    plain, _ = rolls.from_notes(midi.read(path), 0.25)
    assert [(n.start, n.end) for n in rolls.to_notes(plain, 0.25)] == [(0.0, 2.0), (3.0, 4.0)]
    kept, _ = rolls.from_notes(midi.read(path), 0.25, keep_onsets=True)
    assert [(n.start, n.end) for n in rolls.to_notes(kept, 0.25)] == [(0.0, 1.0), (1.0, 2.0), (3.0, 4.0)]
