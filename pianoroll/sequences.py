"""Pieces as sequences of events: the encodings of the three seed systems that read events, not columns.

The column networks read a roll; seeds 002, 004 and 000/001 read a piece as a
list of events and predict the next one from a window of the last few:

- ``tokens`` (seed 002): every onset is one token, a single pitch by name
  ("C#4") or a chord as its pitch classes in normal order joined by dots
  ("0.4.7", music21's ``Chord.normalOrder``). The token says nothing about
  time; ``TokenEvent`` keeps each onset's step and length beside it, so that
  composing can draw them from the training music.
- ``notes`` (seed 004): every note in order of onset as (pitch, step = beats
  since the previous onset, duration in beats).
- ``messages`` (seeds 000/001): every note-on message as (note, velocity,
  time since the previous message); a note's end is a note-on of velocity 0,
  as in the seed's MIDI file. Time falls into ``TIME_CLASSES`` classes:
  0 on its own, the rest ten equal ranges between the shortest and the longest
  non-zero time of the training music (``TimeClasses``).

Time is in beats, as everywhere in the pipeline (the seeds counted seconds).
Pages carry no velocity: it is read from a piece's source where the manifest
names a MIDI file, and is ``FIXED_VELOCITY`` for anything else.

As in the seeds, the events of a set of pieces lie end to end in one sequence
and a window may run from one piece into the next; ``EventStream`` keeps
them once, with windows as start offsets (like ``dataset.Stream``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple

import numpy as np

from pianoroll import PianorollError, midi, pages
from pianoroll import roll as rolls
from pianoroll.dataset import gathered
from pianoroll.roll import Note

if TYPE_CHECKING:  # TensorFlow is imported only where a tf.data pipeline is built
    import tensorflow as tf

KINDS = ("tokens", "notes", "messages")
FIXED_VELOCITY = 90  # where a source has no velocities (scores, the built-in chorales): roll.Note's default
LOWEST_NOTE, NOTE_CLASSES = 24, 89  # seed 000: "note is between 24 and 112", a one-hot of 89
VELOCITIES = 128
TIME_RANGES = 10  # seed 000: ten equal ranges of non-zero time ...
TIME_CLASSES = TIME_RANGES + 2  # ... numbered from 1, the longest time landing in 11, with 0 its own class: 12
MIDI_PITCHES = 128  # seed 004: the pitch head's classes, and the pitch input divided by it
TIMINGS_KEPT = 16  # most frequent (step, length) pairs a token's record keeps
CHORD_OCTAVE_C = 60  # a chord token names pitch classes only; seed 002 plays them from C4 up (music21's Note(int))
EPSILON = 1e-9


class SequenceError(PianorollError):
    """Pieces that cannot become events, or events that do not fit an encoding."""


class TokenEvent(NamedTuple):
    """One onset of a piece: its token, beats since the previous onset, and its longest note in beats."""

    token: str
    step: float
    length: float


# --- a piece's notes -------------------------------------------------------------------------------


def piece_notes(roll: np.ndarray, resolution: float, velocities: Mapping[tuple[int, int], int] | None = None) -> list[Note]:
    """A roll's notes sorted by onset then pitch, each with its source velocity where known (by pitch and column)."""
    found = rolls.to_notes(roll, resolution, FIXED_VELOCITY)
    if not velocities:
        return found
    return [note._replace(velocity=velocities.get((note.pitch, rolls.to_step(note.start, resolution)), FIXED_VELOCITY))
            for note in found]


def source_velocities(source: str, resolution: float) -> dict[tuple[int, int], int]:
    """{(pitch, column): velocity} of a MIDI source, quantised as its pages were; empty for any other source.

    A source that is gone or unreadable gives none: its notes take FIXED_VELOCITY.
    """
    from pianoroll.images import MIDI_SUFFIXES

    path = Path(source)
    if path.suffix.lower() not in MIDI_SUFFIXES or not path.is_file():
        return {}
    try:
        notes = midi.read(path, allow_empty=True)
    except PianorollError:
        return {}
    return {(note.pitch, rolls.to_step(note.start, resolution)): int(note.velocity) for note in notes}


def manifest_velocities(images_dir: Path, names: Iterable[str]) -> dict[str, dict[tuple[int, int], int]]:
    """The source velocities of the named pieces of an images folder, read from the sources its manifest names."""
    wanted = set(names)
    return {entry.piece: source_velocities(entry.source, entry.resolution)
            for entry in pages.read_manifest(images_dir) if entry.ok and entry.piece in wanted}


# --- tokens (seed 002) -----------------------------------------------------------------------------


def token_of(pitches: tuple[int, ...]) -> str:
    """The seed's token for the pitches struck at one onset: a pitch name, or a chord's normal order."""
    if len(pitches) == 1:
        return pitch_name(pitches[0])
    return chord_token(tuple(sorted({p % 12 for p in pitches})))


@functools.lru_cache(maxsize=None)
def pitch_name(number: int) -> str:
    from music21 import pitch

    return pitch.Pitch(midi=number).nameWithOctave


@functools.lru_cache(maxsize=None)
def chord_token(classes: tuple[int, ...]) -> str:
    """A chord's normal order depends on its pitch classes only: cached by them, music21 computes each once."""
    from music21 import chord

    return ".".join(str(number) for number in chord.Chord(list(classes)).normalOrder)


@functools.lru_cache(maxsize=None)
def token_pitches(token: str) -> tuple[int, ...]:
    """The pitches a token plays: a named pitch, or a chord's pitch classes from C4 up, as seed 002 plays them."""
    from music21 import pitch

    if "." in token or token.isdigit():
        return tuple(CHORD_OCTAVE_C + int(number) for number in token.split("."))
    return (int(pitch.Pitch(token).midi),)


def to_tokens(notes: list[Note]) -> list[TokenEvent]:
    """Every onset of the notes as a token, with its step from the previous onset and its longest note."""
    onsets: dict[float, list[Note]] = defaultdict(list)
    for note in notes:
        onsets[note.start].append(note)
    events, previous = [], 0.0
    for start in sorted(onsets):
        struck = onsets[start]
        events.append(TokenEvent(token_of(tuple(sorted({n.pitch for n in struck}))), start - previous,
                                 max(n.end - n.start for n in struck)))
        previous = start
    return events


def from_tokens(events: Iterable[TokenEvent]) -> list[Note]:
    """Tokens back into notes: each onset ``step`` after the one before, every pitch of it ``length`` long."""
    notes, start = [], 0.0
    for event in events:
        start += event.step
        notes.extend(Note(pitch, start, start + event.length) for pitch in token_pitches(event.token))
    return notes


# --- notes (seed 004) ------------------------------------------------------------------------------


def to_note_events(notes: list[Note]) -> np.ndarray:
    """(n, 3) float32: pitch, beats since the previous onset (0 for the first), duration in beats."""
    table = np.array([(n.pitch, n.start, n.end - n.start) for n in notes], dtype=np.float64).reshape(-1, 3)
    starts = table[:, 1]
    table[:, 1] = np.diff(starts, prepend=starts[:1])
    return table.astype(np.float32)


def from_note_events(events: np.ndarray, first_start: float = 0.0) -> list[Note]:
    """(n, 3) pitch, step, duration back into notes; steps and durations below 0 count as 0."""
    events = np.asarray(events, dtype=np.float64).reshape(-1, 3)
    starts = first_start + np.cumsum(np.maximum(events[:, 1], 0.0))
    ends = starts + np.maximum(events[:, 2], 0.0)
    return [Note(int(p), float(s), float(e)) for p, s, e in zip(events[:, 0], starts, ends)]


# --- messages (seeds 000/001) ---------------------------------------------------------------------


def to_messages(notes: list[Note]) -> np.ndarray:
    """(n, 3) float64: note, velocity (0 ends a note), beats since the previous message, in order of time.

    At one time, notes end before notes start, as a MIDI file writes them.
    Pitches outside the seed's 24..112 are left out.
    """
    kept = [n for n in notes if LOWEST_NOTE <= n.pitch < LOWEST_NOTE + NOTE_CLASSES]
    rows = [(n.end, 0, n.pitch, 0) for n in kept] + [(n.start, 1, n.pitch, max(1, min(int(n.velocity), 127))) for n in kept]
    rows.sort()
    table = np.array([(pitch, velocity, time) for time, _, pitch, velocity in rows], np.float64).reshape(-1, 3)
    table[:, 2] = np.diff(table[:, 2], prepend=0.0)
    return table


def from_messages(messages: np.ndarray) -> list[Note]:
    """(n, 3) note, velocity, time messages back into notes, sorted by onset.

    A note-on starts a pitch (ending it first if it sounds), velocity 0 ends
    it; an end without a start is ignored and a pitch still sounding at the
    last message ends there.
    """
    sounding: dict[int, tuple[float, int]] = {}
    notes, now = [], 0.0
    for pitch, velocity, time in np.asarray(messages, np.float64).reshape(-1, 3):
        now += max(float(time), 0.0)
        pitch = int(pitch)
        if pitch in sounding:
            start, struck = sounding.pop(pitch)
            notes.append(Note(pitch, start, now, struck))
        if velocity > 0:
            sounding[pitch] = (now, int(velocity))
    notes.extend(Note(pitch, start, now, struck) for pitch, (start, struck) in sounding.items())
    return sorted(notes, key=lambda n: (n.start, n.pitch))


@dataclasses.dataclass(frozen=True)
class TimeClasses:
    """Seed 000's classes of time between messages: 0 its own class, then ten equal ranges from ``low`` to ``high``."""

    low: float  # the shortest non-zero time of the training music, in beats
    high: float  # the longest

    @classmethod
    def fit(cls, times: np.ndarray) -> TimeClasses:
        positive = np.asarray(times, np.float64)[np.asarray(times) > EPSILON]
        if positive.size == 0:
            raise SequenceError("the training music has no time between messages to make classes of")
        return cls(float(positive.min()), float(positive.max()))

    @property
    def width(self) -> float:
        return max((self.high - self.low) / TIME_RANGES, EPSILON)

    def classes(self, times: np.ndarray) -> np.ndarray:
        """The class of each time: 0 for none, else int((t - low) / width + 1), kept within 1..11."""
        times = np.asarray(times, np.float64)
        ranged = np.clip(((times - self.low) / self.width + 1).astype(np.int64), 1, TIME_CLASSES - 1)
        return np.where(times > EPSILON, ranged, 0)

    def times(self, classes: np.ndarray) -> np.ndarray:
        """A class back into beats as the seed does: 0, or class × width + low."""
        classes = np.asarray(classes)
        return np.where(classes > 0, classes * self.width + self.low, 0.0)


def message_indices(messages: np.ndarray, time_classes: TimeClasses) -> np.ndarray:
    """(n, 3) int64 class indices of messages: note - 24, velocity, time class."""
    messages = np.asarray(messages, np.float64).reshape(-1, 3)
    return np.stack([messages[:, 0].astype(np.int64) - LOWEST_NOTE, messages[:, 1].astype(np.int64),
                     time_classes.classes(messages[:, 2])], axis=1)


def one_hot_messages(indices: np.ndarray) -> np.ndarray:
    """(n, 89 + 128 + 12) uint8: the seed's slot vector, three one-hots side by side."""
    indices = np.asarray(indices, np.int64).reshape(-1, 3)
    slots = np.zeros((len(indices), NOTE_CLASSES + VELOCITIES + TIME_CLASSES), np.uint8)
    rows = np.arange(len(indices))
    for offset, column in zip((0, NOTE_CLASSES, NOTE_CLASSES + VELOCITIES), indices.T):
        slots[rows, offset + column] = 1
    return slots


# --- what a bundle keeps of an encoding ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """How often a token was struck ``step`` beats after the onset before it and held ``length`` beats."""

    step: float
    length: float
    count: int


@dataclasses.dataclass(frozen=True)
class EventEncoding:
    """What compose needs to turn a network's outputs back into music, fitted on the training pieces.

    ``vocabulary`` and ``timings`` (one tuple per token) for tokens,
    ``time_low``/``time_high`` (``TimeClasses``) for messages;
    ``velocity_pieces`` counts the pieces whose velocities came from MIDI
    sources, the others played at ``fixed_velocity``.
    """

    kind: str
    window: int
    vocabulary: tuple[str, ...] = ()
    timings: tuple[tuple[Timing, ...], ...] = ()
    time_low: float = 0.0
    time_high: float = 0.0
    fixed_velocity: int = FIXED_VELOCITY
    velocity_pieces: int = 0

    @property
    def time_classes(self) -> TimeClasses:
        return TimeClasses(self.time_low, self.time_high)

    @property
    def features(self) -> int:
        """Numbers per event in a window: the token's scaled index, (pitch, step, duration), or the slot vector."""
        return {"tokens": 1, "notes": 3, "messages": NOTE_CLASSES + VELOCITIES + TIME_CLASSES}[self.kind]


def token_timings(events: Iterable[TokenEvent], vocabulary: tuple[str, ...]) -> tuple[tuple[Timing, ...], ...]:
    """Per token, its most frequent (step, length) pairs in the training music, with their counts."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for event in events:
        seen[event.token][(round(event.step, 6), round(event.length, 6))] += 1
    return tuple(tuple(Timing(step, length, count) for (step, length), count in seen[token].most_common(TIMINGS_KEPT))
                 for token in vocabulary)


# --- windows ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class EventStream:
    """The events of some pieces end to end, as network inputs and targets, and where each window starts.

    ``inputs`` (events, features) is what a window reads; ``targets`` one
    array per head, (events,) each; ``firsts`` the index of each piece's
    first event. A window starting at s reads inputs[s : s + window] and
    predicts the targets at s + window.
    """

    inputs: np.ndarray
    targets: dict[str, np.ndarray]
    firsts: dict[str, int]
    window: int

    @property
    def starts(self) -> np.ndarray:
        return np.arange(max(len(self.inputs) - self.window, 0), dtype=np.int64)

    @property
    def windows(self) -> int:
        return len(self.starts)

    def primer(self, piece: str) -> np.ndarray:
        """The ``window`` events from a piece's first, running on into the pieces after it when it is shorter."""
        first = min(self.firsts[piece], max(len(self.inputs) - self.window, 0))
        return self.inputs[first:first + self.window]


def encode_pieces(kind: str, notes: Mapping[str, list[Note]], encoding: EventEncoding) -> EventStream:
    """The pieces' notes (in the given order) as one stream of events under ``encoding``."""
    inputs, targets, firsts, offset = [], defaultdict(list), {}, 0
    for name, piece in notes.items():
        features, heads = _encode(kind, piece, encoding)
        firsts[name] = offset
        offset += len(features)
        inputs.append(features)
        for head, values in heads.items():
            targets[head].append(values)
    width = encoding.features
    joined = np.concatenate(inputs) if inputs else np.zeros((0, width), np.float32)
    return EventStream(joined, {head: np.concatenate(values) for head, values in targets.items()}, firsts, encoding.window)


def _encode(kind: str, notes: list[Note], encoding: EventEncoding) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One piece's window inputs (events, features) and targets per head."""
    if kind == "tokens":
        index = {token: number for number, token in enumerate(encoding.vocabulary)}
        tokens = np.array([index.get(event.token, -1) for event in to_tokens(notes)], np.int64)
        tokens = tokens[tokens >= 0]  # a token the training music never struck has no class: left out
        return (tokens / len(encoding.vocabulary)).astype(np.float32)[:, None], {"token": tokens}
    if kind == "notes":
        events = to_note_events(notes)
        scaled = events / np.array([MIDI_PITCHES, 1, 1], np.float32)
        return scaled.astype(np.float32), {"pitch": events[:, 0].astype(np.int64), "step": events[:, 1],
                                           "duration": events[:, 2]}
    indices = message_indices(to_messages(notes), encoding.time_classes)
    return one_hot_messages(indices), {"note": indices[:, 0], "velocity": indices[:, 1], "time": indices[:, 2]}


def fit_encoding(kind: str, window: int, notes: Mapping[str, list[Note]], velocity_pieces: int = 0) -> EventEncoding:
    """The encoding's data-fitted parts from the training pieces: a token vocabulary and timings, or time classes."""
    if kind not in KINDS:
        raise SequenceError(f"{kind}: not an event encoding ({', '.join(KINDS)})")
    base = EventEncoding(kind, window, velocity_pieces=velocity_pieces)
    if kind == "tokens":
        events = [event for piece in notes.values() for event in to_tokens(piece)]
        vocabulary = tuple(sorted({event.token for event in events}))
        return dataclasses.replace(base, vocabulary=vocabulary, timings=token_timings(events, vocabulary))
    if kind == "messages":
        times = np.concatenate([to_messages(piece)[:, 2] for piece in notes.values()] or [np.zeros(0)])
        classes = TimeClasses.fit(times)
        return dataclasses.replace(base, time_low=classes.low, time_high=classes.high)
    return base


def dataset(stream: EventStream, batch_size: int, shuffle: bool = False, seed: int = 0) -> "tf.data.Dataset":
    """Batches of (windows, targets per head) as a tf.data pipeline gathered from the stream on the fly."""
    import tensorflow as tf

    inputs = tf.constant(stream.inputs)
    targets = {head: tf.constant(values) for head, values in stream.targets.items()}
    steps = tf.range(stream.window, dtype=tf.int64)
    data = tf.data.Dataset.from_tensor_slices(stream.starts)
    if shuffle:
        data = data.shuffle(max(stream.windows, 1), seed=seed, reshuffle_each_iteration=True)

    def gather(starts):
        window = tf.cast(tf.gather(inputs, starts[:, None] + steps), tf.float32)
        given = {head: tf.gather(values, starts + stream.window) for head, values in targets.items()}
        return window, (given["token"] if list(given) == ["token"] else given)

    return gathered(data, batch_size, gather)


def load_notes(images_dir: Path, pieces: Mapping[str, np.ndarray], resolution: float,
               velocity: bool) -> tuple[dict[str, list[Note]], int]:
    """The pieces' notes, with velocities from their MIDI sources when ``velocity``; and how many pieces had them."""
    found = manifest_velocities(images_dir, pieces) if velocity else {}
    notes = {name: piece_notes(roll, resolution, found.get(name)) for name, roll in pieces.items()}
    return notes, sum(1 for velocities in found.values() if velocities)


def split_streams(kind: str, window: int, images_dir: Path, pieces: Mapping[str, np.ndarray], resolution: float,
                  train: list[str], held_out: list[str]) -> tuple[EventEncoding, EventStream, EventStream]:
    """The encoding fitted on the training pieces, and the training and held-out pieces as event streams."""
    notes, sourced = load_notes(images_dir, pieces, resolution, velocity=kind == "messages")
    train_notes = {name: notes[name] for name in train}
    encoding = fit_encoding(kind, window, train_notes, sourced)
    return (encoding, encode_pieces(kind, train_notes, encoding),
            encode_pieces(kind, {name: notes[name] for name in held_out}, encoding))
