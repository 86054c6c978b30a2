"""MIDI bytes ↔ notes in beats, through py_midicsv.

py_midicsv reads a file as plain event objects, about thirty times faster than
music21's MIDI parser, which builds a whole score first. Time is counted in
beats from the header's ticks per quarter note, so tempo changes never move a
note on the grid.

py_midicsv is the parser of record, but building an object per event from a
Python call per byte was half of ``make images``'s time. So ``read`` first
tries a decoder of its own that takes only the note events out of the bytes
(0.35 against 2.1 ms a chorale), and hands the file to py_midicsv the moment it
sees anything unusual: a data byte above 127, running status with no status
before it, an event that runs past its track, a meta event py_midicsv does not
know, an F7 escape, SMPTE time. Whatever py_midicsv then makes of the file,
notes or an error, is the answer; on every other file the two agree note for
note (the tests check it on every MIDI file they have).

Reading rules:

- every track and channel is merged, except channel 10 (index 9), which is
  drums and has no pitch;
- a note-on with velocity 0 is a note-off;
- a note struck again while it still sounds (on the same track and channel)
  ends the sounding note and starts a new one, and the key is released when
  the last of its note-offs arrives, so unison voices sharing a channel keep
  both their re-strike and their full length (two voices striking it at the
  same moment are one note);
- a note still held when the file ends lasts until the last event.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import operator
import struct
from pathlib import Path
from typing import Iterable

from py_midicsv import FileReader, FileWriter
from py_midicsv.midi.containers import Pattern, Track
from py_midicsv.midi.events import (
    EndOfTrackEvent,
    EventRegistry,
    NoteOffEvent,
    NoteOnEvent,
    ProgramChangeEvent,
    SetTempoEvent,
    TimeSignatureEvent,
    TrackNameEvent,
)

from pianoroll import PianorollError
from pianoroll.pages import write_atomic
from pianoroll.roll import Note

DRUM_CHANNEL = 9  # channel 10 as musicians count: General MIDI percussion
DEFAULT_BPM = 120.0
TICKS_PER_QUARTER = 480  # what we write: divisible by 2, 3, 4, 5, 6, 8, 10, 12, 16…
_START_PITCH = operator.itemgetter(0, 3)  # the order of notes: (start, stop, channel, pitch, velocity)
CHANNEL_DATA = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}  # data bytes per status, by its high nibble
HEADER = b"MThd"
TRACK = b"MTrk"
# The sixteen General MIDI families, eight programs each: names for the parts of a file.
FAMILIES = (
    "piano", "chromatic-percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth-lead", "synth-pad", "synth-effects", "ethnic", "percussive", "effects",
)  # fmt: skip


class MidiError(PianorollError):
    """A MIDI file that cannot be read or written; the message names the file and the reason."""


class UnusualMidi(Exception):
    """Something ``decode`` leaves to py_midicsv: odd or broken bytes, which it reads (or refuses) its own way."""


NoteEvent = tuple[int, int, int, int]  # (tick, channel, pitch, velocity); velocity 0 releases the key
TrackNotes = tuple[list[NoteEvent], int]  # a track's note events and the tick of its last event
Played = tuple[int, int, int, int, int]  # a note: (start, stop, channel, pitch, velocity) in ticks


def read(path: Path, allow_empty: bool = False) -> list[Note]:
    """All pitched notes of a file merged, in beats, sorted by start then pitch.

    Raises MidiError when the file cannot be read, and, unless ``allow_empty``,
    when it holds no pitched note (nothing, or only drums): such a file cannot
    become a piece.
    """
    path = Path(path)
    data, spans = _read_bytes(path)
    try:
        ticks, tracks = decode(data, spans)
    except UnusualMidi:
        pattern = _parse(data, path)
        ticks, tracks = pattern.resolution, _pattern_tracks(pattern, path)
    played = _pitched(path, tracks, allow_empty)
    played.sort(key=_START_PITCH)  # sorting plain tuples first is half the cost of sorting Notes
    return [_in_beats(note, ticks) for note in played]


def read_parts(path: Path) -> dict[str, list[Note]]:
    """The pitched notes of a file per instrument, as midi2img split them.

    An instrument is the General MIDI program a note was played with; parts
    are named after its family and number (``piano-0``, ``strings-40``) in
    the order of their first note.
    """
    path = Path(path)
    pattern = _parse(_read_bytes(path)[0], path)
    ticks, programs = pattern.resolution, _program_changes(pattern)
    tracks = _pattern_tracks(pattern, path)
    parts: dict[str, list[Note]] = {}
    for start, stop, channel, pitch, velocity in sorted(_pitched(path, tracks, False), key=_START_PITCH):
        program = _program_at(programs.get(channel), start)
        name = f"{FAMILIES[program // 8]}-{program}"
        parts.setdefault(name, []).append(_in_beats((start, stop, channel, pitch, velocity), ticks))
    return parts


def write(notes: Iterable[Note], path: Path, bpm: float = DEFAULT_BPM, program: int = 0) -> None:
    """Write notes (in beats) as a format-1 MIDI file: a tempo track and one instrument track.

    The file is written under a temporary name and renamed, so it is never
    half-written. Velocities are clamped to 1..127.
    """
    path = Path(path)
    notes = list(notes)
    _check(notes, path, bpm, program)
    data = io.BytesIO()
    # py_midicsv keeps "running status" as a class-wide switch that every read resets; set it
    # here so that the same notes always give the same bytes (every status byte written).
    Pattern.useRunningStatus = False
    FileWriter(data).write(_pattern(notes, bpm, program, path.stem))
    write_atomic(path, data.getvalue())


def _in_beats(played: Played, ticks: int) -> Note:
    start, stop, _, pitch, velocity = played
    return Note(pitch, start / ticks, stop / ticks, velocity)


def _pitched(path: Path, tracks: list[TrackNotes], allow_empty: bool) -> list[Played]:
    played = _played(tracks)
    pitched = [note for note in played if note[2] != DRUM_CHANNEL]
    if not pitched and not allow_empty:
        raise MidiError(f"{path}: only drum notes (channel 10)" if played else f"{path}: no notes")
    return pitched


def _played(tracks: list[TrackNotes]) -> list[Played]:
    """(start, stop, channel, pitch, velocity) in ticks for every note of every track."""
    played, held, end = [], [], 0
    for events, last in tracks:
        notes, still_held = _pair(events)
        played += notes
        held += still_held
        end = max(end, last)
    return played + [(start, end, channel, pitch, velocity) for start, channel, pitch, velocity in held]


def _read_bytes(path: Path) -> tuple[bytes, list[tuple[int, int]]]:
    """The file's bytes and its tracks' places; an empty, foreign or truncated file is named before any parser sees it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MidiError(f"{path}: cannot be read ({error.strerror or error})") from None
    return data, track_spans(data, path)


def _parse(data: bytes, path: Path) -> Pattern:
    """The file through py_midicsv, which reads odd files leniently and fails on broken ones."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # py_midicsv prints its warnings
            pattern = FileReader().read(io.BytesIO(data), strict=False)
    except Exception as error:  # a malformed file can fail anywhere inside the parser
        raise MidiError(f"{path}: corrupt MIDI data ({error or type(error).__name__})") from None
    if pattern.resolution & 0x8000 or pattern.resolution == 0:
        raise MidiError(f"{path}: SMPTE time (frames per second) is not supported, only ticks per quarter note")
    return pattern


def _pattern_tracks(pattern: Pattern, path: Path) -> list[TrackNotes]:
    """Each track of a py_midicsv pattern as note events and the tick of its last event."""
    tracks = []
    for track in pattern:
        events, tick = [], 0
        for event in track:
            tick += event.tick
            kind = type(event)
            if kind is NoteOnEvent or kind is NoteOffEvent:
                pitch, velocity = event.data[0], event.data[1]
                if pitch > 127 or velocity > 127:  # a status byte where data should be: py_midicsv warns, goes on
                    raise MidiError(f"{path}: corrupt MIDI data (a note event with data above 127 at tick {tick})")
                events.append((tick, event.channel, pitch, velocity if kind is NoteOnEvent else 0))
        tracks.append((events, tick))
    return tracks


def track_spans(data: bytes, path: Path) -> list[tuple[int, int]]:
    """Where each track's events lie, (start, end) in ``data``, from the chunk headers.

    Raises MidiError naming an empty, foreign or truncated file as such.
    """
    if not data:
        raise MidiError(f"{path}: empty file")
    if data[:4] != HEADER:
        raise MidiError(f"{path}: not a MIDI file (it does not start with MThd)")
    if len(data) < 14:
        raise MidiError(f"{path}: truncated (the header is cut off)")
    length, _, tracks = struct.unpack(">LHH", data[4:12])
    spans, offset = [], 8 + length
    for index in range(tracks):
        if offset + 8 > len(data) or data[offset : offset + 4] != TRACK:
            found = "ends" if offset + 8 > len(data) else "has something else"
            raise MidiError(f"{path}: truncated (the file {found} where track {index + 1} of {tracks} should start)")
        size = struct.unpack(">L", data[offset + 4 : offset + 8])[0]
        if offset + 8 + size > len(data):
            raise MidiError(f"{path}: truncated (track {index + 1} of {tracks} is cut off)")
        spans.append((offset + 8, offset + 8 + size))
        offset += 8 + size
    return spans


def _program_changes(pattern: Pattern) -> dict[int, tuple[list[int], list[int]]]:
    """Per channel, the ticks at which its program changes and the programs, for bisecting."""
    changes: dict[int, list[tuple[int, int]]] = {}
    for track in pattern:
        tick = 0
        for event in track:
            tick += event.tick
            if isinstance(event, ProgramChangeEvent):
                changes.setdefault(event.channel, []).append((tick, event.data[0]))
    return {channel: tuple(map(list, zip(*sorted(pairs)))) for channel, pairs in changes.items()}


def _program_at(changes: tuple[list[int], list[int]] | None, tick: int) -> int:
    if not changes:
        return 0
    index = bisect.bisect_right(changes[0], tick) - 1
    return changes[1][max(index, 0)]


def decode(data: bytes, spans: list[tuple[int, int]]) -> tuple[int, list[TrackNotes]]:
    """Ticks per quarter note, and each track's note events and last tick, straight from the bytes.

    ``spans`` are the tracks' places, from ``track_spans``. Raises UnusualMidi
    for anything it leaves to py_midicsv (see the module's docstring).
    """
    length, _, _, ticks = struct.unpack(">LHHH", data[4:14])
    if length < 6 or ticks & 0x8000 or ticks == 0:
        raise UnusualMidi("header")
    return ticks, [_decode_track(data, start, end) for start, end in spans]


def _decode_track(data: bytes, position: int, end: int) -> TrackNotes:
    """The note events of the track chunk body ``data[position:end]``, by the rules of py_midicsv's reader:
    running status carries across meta and sysex events, and resets with each track."""
    events, tick, status = [], 0, 0
    try:
        while position < end:
            if data[position] & 0x80:
                delta, position = _varlen(data, position)
                tick += delta
            else:  # most deltas fit one byte
                tick += data[position]
                position += 1
            byte = data[position]
            if byte & 0x80:
                position += 1
                if byte == 0xFF:  # meta event: type, length, data
                    if data[position] not in EventRegistry.MetaEvents:
                        raise UnusualMidi("meta event")
                    length, position = _varlen(data, position + 1)
                    position += length
                    continue
                if byte == 0xF0:  # system exclusive: length, data
                    length, position = _varlen(data, position)
                    position += length
                    continue
                if byte >= 0xF0:
                    raise UnusualMidi("system event")
                status = byte
            elif not status:
                raise UnusualMidi("running status without a status")
            size = CHANNEL_DATA[status >> 4]
            if position + size > end or (data[position] | data[position + size - 1]) & 0x80:
                raise UnusualMidi("channel event data")
            if status < 0xA0:  # note off (0x8n) or note on (0x9n); velocity 0 releases the key
                events.append((tick, status & 0x0F, data[position], data[position + 1] if status >= 0x90 else 0))
            position += size
    except IndexError:
        raise UnusualMidi("an event runs past the end of the file") from None
    if position != end:
        raise UnusualMidi("an event runs past its track")
    return events, tick


def _varlen(data: bytes, position: int) -> tuple[int, int]:
    """A variable-length quantity: seven bits a byte, high bit set on every byte but the last."""
    value = 0
    while True:
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position


def _pair(events: list[NoteEvent]) -> tuple[list[Played], list[tuple[int, int, int, int]]]:
    """One track's note events paired into notes (start, stop, channel, pitch, velocity) in
    ticks, and the notes it never releases (start, channel, pitch, velocity)."""
    held: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> [start, velocity, depth]
    notes = []
    for tick, channel, pitch, velocity in events:
        key = (channel, pitch)
        sounding = held.get(key)
        if velocity:
            if sounding and sounding[0] == tick:  # struck twice at once: one note, released twice
                sounding[2] += 1
                continue
            if sounding:
                notes.append((sounding[0], tick, channel, pitch, sounding[1]))
            held[key] = [tick, velocity, sounding[2] + 1 if sounding else 1]
        elif sounding:
            sounding[2] -= 1
            if sounding[2] == 0:
                notes.append((sounding[0], tick, channel, pitch, sounding[1]))
                del held[key]
    return notes, [(start, *key, velocity) for key, (start, velocity, _) in held.items()]


def _check(notes: list[Note], path: Path, bpm: float, program: int) -> None:
    if not bpm > 0:
        raise MidiError(f"{path}: the tempo must be above 0 beats per minute, not {bpm}")
    if not 0 <= program <= 127:
        raise MidiError(f"{path}: a MIDI program is 0..127, not {program}")
    for note in notes:
        if not 0 <= note.pitch <= 127 or note.start < 0 or note.end < note.start:
            raise MidiError(f"{path}: cannot write {note}: pitch must be 0..127 and 0 <= start <= end")


def _pattern(notes: list[Note], bpm: float, program: int, name: str) -> Pattern:
    tempo = Track(tick_relative=False)
    tempo.append(TrackNameEvent(tick=0, data=list(name.encode("utf-8")[:127])))
    tempo.append(TimeSignatureEvent(tick=0, data=[4, 2, 24, 8]))  # 4/4, a click per quarter
    tempo.append(SetTempoEvent(tick=0, mpqn=round(60_000_000 / bpm)))
    tempo.append(EndOfTrackEvent(tick=0))
    tempo.make_ticks_rel()
    return Pattern(tracks=[tempo, _instrument_track(notes, program)], resolution=TICKS_PER_QUARTER, format=1)


def _instrument_track(notes: list[Note], program: int) -> Track:
    events = []  # (tick, 0 for off / 1 for on, pitch, event): offs first, so a re-strike reads as two notes
    for note in notes:
        start = _ticks(note.start)
        stop = max(_ticks(note.end), start + 1)  # a note-off in the same tick would come first
        velocity = min(max(int(note.velocity), 1), 127)
        events.append((start, 1, note.pitch, NoteOnEvent(tick=start, data=[note.pitch, velocity])))
        events.append((stop, 0, note.pitch, NoteOffEvent(tick=stop, data=[note.pitch, 0])))
    events.sort(key=lambda e: e[:3])
    track = Track(tick_relative=False)
    track.append(ProgramChangeEvent(tick=0, data=[program]))
    track.extend(event for *_, event in events)
    track.append(EndOfTrackEvent(tick=events[-1][0] if events else 0))
    track.make_ticks_rel()
    return track


def _ticks(beats: float) -> int:
    return round(beats * TICKS_PER_QUARTER)
