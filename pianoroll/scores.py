"""MusicXML, ABC and kern files, and the built-in Bach chorales, through music21.

Scores are notation, so a note's time is its offset in quarter notes: beats,
as everywhere in the package. Tied notes become one note (music21's
stripTies), chords become their notes, grace notes (no duration) and
unpitched percussion are left out, and repeats are not expanded. An ABC file
holding several tunes is read as its first tune.

music21 is imported inside the functions: it costs about half a second, which
a run that only reads MIDI should not pay.
"""

from __future__ import annotations

from pathlib import Path

from pianoroll import PianorollError, midi
from pianoroll.roll import Note

SUFFIXES = {".xml": "MusicXML", ".mxl": "MusicXML", ".musicxml": "MusicXML", ".abc": "ABC", ".krn": "kern"}
MUSICXML = (".mxl", ".xml")
NOT_CHORALES = {"bwv846"}
CORPORA = ("bach",)


class ScoreError(PianorollError):
    """A score music21 cannot read, or one without notes; the message names the file and the reason."""


def read(path: Path) -> list[Note]:
    """All notes of a score, every part merged, sorted by start then pitch."""
    return _merged(read_parts(path))


def read_parts(path: Path) -> dict[str, list[Note]]:
    """The notes of each part, named after the part (``Soprano``…) or its place (``part-2``)."""
    return _parts(Path(path), _parse(Path(path)))


def export(path: Path, target: Path) -> int:
    """Write a score as a MIDI file a user can play (its first tempo mark, else 120 bpm); returns its notes."""
    score = _parse(Path(path))
    notes = _merged(_parts(Path(path), score))
    midi.write(midi.as_played(n for n in notes if 0 <= n.pitch <= 127), target, bpm=_tempo(score) or midi.DEFAULT_BPM)
    return len(notes)


def try_export(job: tuple[Path, Path]) -> tuple[Path, str]:
    """``export(score, target)`` for a pool of processes: the target, and why it failed ("" if it did not)."""
    score, target = job
    try:
        export(score, target)
        return target, ""
    except PianorollError as error:
        return target, str(error)


def chorales() -> list[Path]:
    """The Bach chorales bundled with music21: every MusicXML file of its ``bach`` folder, sorted.

    The one work there that is not a chorale, the C major prelude of the
    Well-Tempered Clavier (BWV 846), is left out; the three chorales that are
    also there in kern are taken once, as MusicXML. music21's own chorale
    iterator is not used: it follows Riemenschneider's 371 and misses 60
    files of the folder, bwv66.6 among them.
    """
    from music21 import corpus

    return [Path(p) for p in sorted(corpus.getComposer("bach")) if p.suffix in MUSICXML and p.stem not in NOT_CHORALES]


def corpus(name: str) -> list[Path]:
    """The score files of a built-in corpus."""
    if name == "bach":
        return chorales()
    raise ScoreError(f"{name}: no such built-in corpus (there is: {', '.join(CORPORA)})")


def _merged(parts: dict[str, list[Note]]) -> list[Note]:
    return sorted((note for part in parts.values() for note in part), key=lambda n: (n.start, n.pitch))


def _parse(path: Path):
    from music21 import converter, stream

    if path.suffix.lower() not in SUFFIXES:
        raise ScoreError(f"{path}: not a score music21 reads here ({', '.join(sorted(SUFFIXES))})")
    try:
        score = converter.parse(path)
    except Exception as error:  # music21 fails in many ways on a bad file
        kind = SUFFIXES[path.suffix.lower()]
        raise ScoreError(f"{path}: not a readable {kind} file ({type(error).__name__}: {error})") from None
    if isinstance(score, stream.Opus):
        if not score.scores:
            raise ScoreError(f"{path}: no notes")
        score = score.scores[0]
    return score


def _parts(path: Path, score) -> dict[str, list[Note]]:
    parts = {}
    for index, part in enumerate(score.parts or [score]):
        name = part.partName or f"part-{index + 1}"
        if name in parts:  # two parts of one name (two "Piano" staves): number the second
            name = f"{name}-{index + 1}"
        notes = _notes(part)
        if notes:
            parts[name] = notes
    if not parts:
        raise ScoreError(f"{path}: no notes")
    return parts


def _notes(part) -> list[Note]:
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0 or not hasattr(element, "pitches"):
            continue
        start = float(element.offset)
        velocity = element.volume.velocity if element.hasVolumeInformation() else None
        for pitch in element.pitches:
            note = Note(int(pitch.midi), start, start + length)
            notes.append(note._replace(velocity=velocity) if velocity else note)
    return notes


def _tempo(score) -> float | None:
    from music21 import tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        if bpm:
            return float(bpm)
    return None
