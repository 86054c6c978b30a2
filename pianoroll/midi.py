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

Two libraries were measured in its place (``scripts/bench_readers.py``,
``reports/readers.md``): mido is no faster than py_midicsv, and symusic, far
faster, hands over notes it has paired by its own rule (a note-off ends the
earliest open note; a note never released is dropped), not events, so the
rules below could not be kept: on MIDI files music21 wrote, its rolls differ
from ours in about as many cells as ours sound.

Reading rules:

- every track and channel is merged, except channel 10 (index 9), which is
  drums and has no pitch;
- a note-on with velocity 0 is a note-off;
- a key sounds once at most on a track and channel, as a synthesizer plays
  it: struck again while it sounds, it ends the sounding note and starts a
  new one, and its first note-off releases it (FluidSynth, pretty_midi and
  music21 agree; ``as_played`` writes unison voices so that they survive
  it); two strikes at the same moment are one note;
- a note still held when the file ends lasts until the last event.

Hostile files are refused by name: a variable-length quantity of more than
four bytes (the standard's limit; py_midicsv would read any length, and a
delta of 2^35 ticks is one way to ask for a piece of a billion columns) and a
header of 0 ticks per quarter note are errors on both paths.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
import operator
import struct
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from py_midicsv import FileReader, FileWriter
from py_midicsv.midi import fileio
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
from pianoroll.files import write_atomic
from pianoroll.roll import Note

DRUM_CHANNEL = 9  # channel 10 as musicians count: General MIDI percussion
DEFAULT_BPM = 120.0
TICKS_PER_QUARTER = 480  # what we write: divisible by 2, 3, 4, 5, 6, 8, 10, 12, 16…
_START_PITCH = operator.itemgetter(0, 3)  # the order of notes: (start, stop, channel, pitch, velocity)
CHANNEL_DATA = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}  # data bytes per status, by its high nibble
HEADER = b"MThd"
TRACK = b"MTrk"
QUANTITY_BYTES = 4  # the longest variable-length quantity the standard allows: 28 bits
LONGEST_DELTA = (1 << 7 * QUANTITY_BYTES) - 1  # ticks: the longest gap one delta can say
MAX_TEMPO = 0xFFFFFF  # microseconds per quarter note: a Set Tempo event has three bytes for it
MIN_BPM = 60_000_000 / MAX_TEMPO  # about 3.58: the slowest tempo a MIDI file can hold
MAX_BPM = 120_000_000 - 1  # the fastest: 0.5 µs a quarter note still rounds to 1, not to a tempo of 0
NOTE_ON, NOTE_OFF, PROGRAM_CHANGE = 0x90, 0x80, 0xC0  # status bytes, channel 0
END_OF_TRACK = b"\x00\xff\x2f\x00"  # delta 0, meta event 2F, no data
# The sixteen General MIDI families, eight programs each: names for the parts of a file.
FAMILIES = (
    "piano", "chromatic-percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth-lead", "synth-pad", "synth-effects", "ethnic", "percussive", "effects",
)  # fmt: skip


class MidiError(PianorollError):
    """A MIDI file that cannot be read or written; the message names the file and the reason."""


class UnusualMidi(Exception):
    """Something ``decode`` leaves to py_midicsv: odd or broken bytes, which it reads (or refuses) its own way."""


class CorruptMidi(Exception):
    """Bytes that no reader may accept (``decode`` and py_midicsv alike); ``read`` names the file."""


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
    except CorruptMidi as error:
        raise MidiError(f"{path}: corrupt MIDI data ({error})") from None
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
    half-written. Velocities are clamped to 1..127. The instrument track is
    encoded with numpy: a page of a million notes is seconds, where an object
    per event through py_midicsv was half a minute. Overlapping notes of one
    pitch are written as they are, and a synthesizer cuts them at the first
    note-off: ``as_played`` first gives a file that sounds as they read.
    """
    path = Path(path)
    table = _note_table(list(notes), path)
    _check(table, path, bpm, program)
    data = io.BytesIO()
    # py_midicsv keeps "running status" as a class-wide switch that every read resets; set it
    # here so that the same notes always give the same bytes (every status byte written).
    Pattern.useRunningStatus = False
    writer = FileWriter(data)
    writer.write_file_header(Pattern(resolution=TICKS_PER_QUARTER, format=1), length=2)
    writer.write_track(_tempo_track(bpm, path.stem))
    body = _instrument_track(table, program, path)
    data.write(TRACK + struct.pack(">L", len(body)) + body)
    write_atomic(path, data.getvalue())


def as_played(notes: Iterable[Note]) -> list[Note]:
    """The notes as a synthesizer plays them from one channel, sorted by start then pitch.

    A channel sounds each key once at most, and the first note-off releases
    it, so notes of one pitch that overlap (unison voices of a score) would
    be cut short when played from a file. Here a note struck while its pitch
    sounds ends the sounding note, and the key is held until the last of the
    overlapping notes ends; notes of one pitch starting together are one.
    Written with ``write`` and read back, they give the roll the notes give.
    """
    played: list[Note] = []
    sounding: dict[int, tuple[int, float]] = {}  # pitch -> (index in played, when its key is released)
    for note in sorted(notes, key=lambda n: (n.start, n.pitch)):
        index, release = sounding.get(note.pitch, (-1, -math.inf))
        end = max(release, note.end)
        if index >= 0 and note.start == played[index].start:  # struck together: one note, as long as the longer
            played[index] = played[index]._replace(end=end)
        else:
            if note.start < release:  # struck again while it sounds: the sounding note ends here
                played[index] = played[index]._replace(end=note.start)
            index = len(played)
            played.append(note._replace(end=end))
        sounding[note.pitch] = (index, end)
    return played


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
        with contextlib.redirect_stderr(io.StringIO()), _quantities_checked():  # py_midicsv prints its warnings
            pattern = FileReader().read(io.BytesIO(data), strict=False)
    except Exception as error:  # a malformed file can fail anywhere inside the parser
        raise MidiError(f"{path}: corrupt MIDI data ({error or type(error).__name__})") from None
    if pattern.resolution & 0x8000:
        raise MidiError(f"{path}: SMPTE time (frames per second) is not supported, only ticks per quarter note")
    if pattern.resolution == 0:
        raise MidiError(f"{path}: ticks per quarter note is 0 (the header's time division)")
    return pattern


@contextlib.contextmanager
def _quantities_checked() -> Iterator[None]:
    """py_midicsv reading variable-length quantities as the standard bounds them, as ``decode`` does.

    Its reader looks ``read_varlen`` up in its module on every call and takes
    any length; a subclass cannot reach it, so it is swapped for the span of
    one parse (parses never overlap within a process).
    """
    lenient = fileio.read_varlen
    fileio.read_varlen = _bounded_varlen
    try:
        yield
    finally:
        fileio.read_varlen = lenient


def _bounded_varlen(data: Iterator[int]) -> int:
    """py_midicsv's ``read_varlen`` over its byte iterator, refusing a quantity longer than QUANTITY_BYTES."""
    value = 0
    for _ in range(QUANTITY_BYTES):
        byte = next(data)
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value
    raise CorruptMidi(f"a variable-length quantity longer than {QUANTITY_BYTES} bytes")


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
    length, _, tracks, division = struct.unpack(">LHHH", data[4:14])
    if division == 0:
        raise MidiError(f"{path}: ticks per quarter note is 0 (the header's time division)")
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
    """A variable-length quantity: seven bits a byte, high bit set on every byte but the last.

    At most QUANTITY_BYTES bytes: a longer one is corrupt (CorruptMidi), not
    something to clamp or to read as a delta of years.
    """
    value = 0
    for _ in range(QUANTITY_BYTES):
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position
    raise CorruptMidi(f"a variable-length quantity longer than {QUANTITY_BYTES} bytes at byte {position - QUANTITY_BYTES}")


def _pair(events: list[NoteEvent]) -> tuple[list[Played], list[tuple[int, int, int, int]]]:
    """One track's note events paired into notes (start, stop, channel, pitch, velocity) in
    ticks, and the notes it never releases (start, channel, pitch, velocity).

    A key of a channel sounds once at most, as a synthesizer plays it: a
    re-strike ends the sounding note and starts the next, and the first
    note-off releases the key (FluidSynth's behaviour, measured in
    ``scripts/bench_readers.py``); note-offs with nothing sounding are ignored.
    """
    held: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (start, velocity)
    notes = []
    for tick, channel, pitch, velocity in events:
        key = (channel, pitch)
        sounding = held.pop(key, None)
        if sounding:
            if velocity and sounding[0] == tick:  # struck twice at once: one note
                held[key] = sounding
                continue
            notes.append((sounding[0], tick, channel, pitch, sounding[1]))
        if velocity:
            held[key] = (tick, velocity)
    return notes, [(start, *key, velocity) for key, (start, velocity) in held.items()]


def _note_table(notes: list[Note], path: Path) -> np.ndarray:
    """Notes as rows of (pitch, start, end, velocity), float64, for checking and encoding them whole."""
    try:
        return np.array([tuple(note[:4]) for note in notes], dtype=np.float64).reshape(-1, 4)
    except (TypeError, ValueError, IndexError) as error:
        raise MidiError(f"{path}: cannot write these notes ({error})") from None


def _check(table: np.ndarray, path: Path, bpm: float, program: int) -> None:
    """Refuse what MIDI cannot hold, before a byte is written: NaN and infinity included."""
    if not (MIN_BPM <= bpm < math.inf and round(60_000_000 / bpm) >= 1):
        raise MidiError(f"{path}: the tempo must be from {MIN_BPM:.2f} to {MAX_BPM:,} beats per minute "
                        f"(what MIDI's microseconds per quarter note can say), not {bpm}")
    if not 0 <= program <= 127:
        raise MidiError(f"{path}: a MIDI program is 0..127, not {program}")
    pitch, start, end, velocity = table.T
    wrong = ~((pitch >= 0) & (pitch <= 127) & (pitch == np.floor(pitch)) & (start >= 0) & (end >= start)
              & (end * TICKS_PER_QUARTER < 2**53) & np.isfinite(velocity))
    if wrong.any():
        bad = table[np.argmax(wrong)]
        raise MidiError(f"{path}: cannot write the note (pitch {bad[0]:g}, {bad[1]:g} to {bad[2]:g} beats, "
                        f"velocity {bad[3]:g}): pitch must be 0..127 and 0 <= start <= end")


def _tempo_track(bpm: float, name: str) -> Track:
    tempo = Track(tick_relative=False)
    tempo.append(TrackNameEvent(tick=0, data=list(name.encode("utf-8", "surrogateescape")[:127])))
    tempo.append(TimeSignatureEvent(tick=0, data=[4, 2, 24, 8]))  # 4/4, a click per quarter
    tempo.append(SetTempoEvent(tick=0, mpqn=round(60_000_000 / bpm)))
    tempo.append(EndOfTrackEvent(tick=0))
    tempo.make_ticks_rel()
    return tempo


def _instrument_track(table: np.ndarray, program: int, path: Path) -> bytes:
    """The body of the instrument track: the program, then every note-on and note-off, then its end.

    Events go in order of (tick, off before on, pitch), ties in the order of
    the notes, so a re-strike reads as two notes and the same notes always
    give the same bytes. Every event carries its status byte.
    """
    pitch = table[:, 0].astype(np.int64)
    start = np.rint(table[:, 1] * TICKS_PER_QUARTER).astype(np.int64)
    stop = np.maximum(np.rint(table[:, 2] * TICKS_PER_QUARTER).astype(np.int64), start + 1)  # an off in the same tick would come first
    velocity = np.clip(np.trunc(table[:, 3]), 1, 127).astype(np.int64)
    ticks = np.stack([start, stop], axis=1).ravel()  # each note's on, then its off, as the notes come
    is_on = np.tile([1, 0], len(table))
    pitches = np.repeat(pitch, 2)
    order = np.lexsort((pitches, is_on, ticks))  # stable: ties keep the notes' order
    ticks, is_on, pitches = ticks[order], is_on[order], pitches[order]
    data2 = np.stack([velocity, np.zeros_like(velocity)], axis=1).ravel()[order]  # a note-off's velocity is 0
    deltas = np.diff(ticks, prepend=0)
    if deltas.size and deltas.max() > LONGEST_DELTA:
        raise MidiError(f"{path}: a silence of {deltas.max() / TICKS_PER_QUARTER:g} beats between two events "
                        f"is longer than MIDI can say ({LONGEST_DELTA / TICKS_PER_QUARTER:g})")
    status = np.where(is_on == 1, NOTE_ON, NOTE_OFF)
    events = _encode_events(deltas, status, pitches, data2)
    return bytes([0, PROGRAM_CHANGE, program]) + events + END_OF_TRACK


def _encode_events(deltas: np.ndarray, status: np.ndarray, first: np.ndarray, second: np.ndarray) -> bytes:
    """Channel events of two data bytes, each after its delta as a variable-length quantity, laid out at once."""
    lengths = 1 + sum((deltas >= 1 << 7 * k).astype(np.int64) for k in range(1, QUANTITY_BYTES))
    ends = np.cumsum(lengths + 3)
    offsets = ends - lengths - 3
    out = np.empty(int(ends[-1]) if ends.size else 0, dtype=np.uint8)
    for k in range(QUANTITY_BYTES):  # byte k of each quantity: seven bits, the high bit on all but its last
        has = lengths > k
        remaining = lengths[has] - 1 - k
        out[offsets[has] + k] = ((deltas[has] >> (7 * remaining)) & 0x7F) | np.where(remaining > 0, 0x80, 0)
    at = offsets + lengths
    out[at], out[at + 1], out[at + 2] = status, first, second
    return out.tobytes()
