"""scores: MusicXML, ABC and kern through music21, and the built-in Bach chorales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pianoroll import midi, scores
from pianoroll import roll as rolls
from pianoroll.roll import Note

FIXTURES = Path(__file__).parent / "fixtures"


def test_musicxml_ties_merge_chords_expand_grace_notes_go():
    parts = scores.read_parts(FIXTURES / "duet.musicxml")
    assert parts == {
        "Flute": [Note(69, 0.0, 1.5), Note(72, 1.5, 2.0)],
        "Cello": [Note(48, 1.0, 2.0), Note(55, 1.0, 2.0)],
    }
    assert scores.read(FIXTURES / "duet.musicxml") == [Note(69, 0.0, 1.5), Note(48, 1.0, 2.0), Note(55, 1.0, 2.0), Note(72, 1.5, 2.0)]


def test_abc_reads_its_first_tune():
    assert scores.read(FIXTURES / "tunes.abc") == [
        Note(60, 0.0, 1.0), Note(62, 1.0, 3.0), Note(64, 3.0, 4.0), Note(67, 3.0, 4.0), Note(72, 4.0, 8.0),
    ]  # fmt: skip


def test_kern_spines_are_parts():
    parts = scores.read_parts(FIXTURES / "two_voices.krn")
    assert [[n.pitch for n in notes] for notes in parts.values()] == [[64, 65, 67, 72], [48, 50, 52]]
    assert parts["part-1"][1] == Note(65, 1.0, 1.5)


def test_a_broken_score_is_named(tmp_path):
    (tmp_path / "broken.musicxml").write_text("<score-partwise><part-list>")
    with pytest.raises(scores.ScoreError, match=r"broken\.musicxml: not a readable MusicXML file"):
        scores.read(tmp_path / "broken.musicxml")
    (tmp_path / "empty.abc").write_text("X:1\nT:nothing\nK:C\n")
    with pytest.raises(scores.ScoreError, match=r"empty\.abc: no notes"):
        scores.read(tmp_path / "empty.abc")


def test_the_built_in_chorales_are_the_bach_folder_less_the_prelude():
    chorales = scores.chorales()
    names = [p.stem for p in chorales]
    assert len(chorales) == 409 and len(set(names)) == len(names)
    assert "bwv66.6" in names and "bwv846" not in names
    assert all(p.suffix in (".mxl", ".xml") and p.is_file() for p in chorales)


def test_a_chorale_exports_as_midi_with_every_note(tmp_path):
    [source] = [p for p in scores.chorales() if p.stem == "bwv66.6"]
    notes = scores.read(source)
    assert len(scores.read_parts(source)) == 4 and len(notes) == 163
    assert scores.export(source, tmp_path / "bwv66.6.mid") == 163
    exported = midi.read(tmp_path / "bwv66.6.mid")
    # Unison voices share a key in MIDI, so compare what sounds and where notes start.
    for resolution in (0.25, 0.125):
        np.testing.assert_array_equal(rolls.from_notes(exported, resolution, keep_onsets=True)[0],
                                      rolls.from_notes(notes, resolution, keep_onsets=True)[0])  # fmt: skip


def test_an_unknown_corpus_is_named():
    with pytest.raises(scores.ScoreError, match="mozart: no such built-in corpus"):
        scores.corpus("mozart")


def test_two_parts_of_one_name_stay_two_parts(tmp_path):
    from music21 import note, stream

    score = stream.Score()
    for pitch in (60, 67):
        part = stream.Part()
        part.partName = "Piano"
        part.append(note.Note(pitch, quarterLength=2))
        score.insert(0, part)
    score.write("musicxml", fp=tmp_path / "pianos.musicxml")
    assert scores.read_parts(tmp_path / "pianos.musicxml") == {"Piano": [Note(60, 0.0, 2.0)], "Piano-2": [Note(67, 0.0, 2.0)]}
