"""Composing: a primer window, then the network stepped forward one column at a time.

Each step gives the network the last WINDOW columns; a rule turns its
probabilities into a yes/no column, pitch by pitch from the lowest (with a
NADE head each decision conditions the pitches above it), and the window
slides on by that column (the decision, not the probabilities, as in the
seed). A batch of pieces is stepped together, so ``count`` pieces cost little
more than one.

The rules (``Decider`` and its subclasses):

- ``vanish`` (the default, ``Vanish``): the seed's offset lifts only the
  notes that would start (p + v >= 1); a held note goes on with probability
  p while the window shows its start, then with p weighed against how long
  the training music's notes last; starts and ends keep to the beat and the
  eighths, where a column that repeats the last is drawn again; and v is
  steered towards the training music's density. See ``Vanish``.
- ``seed-vanish`` is the seed's ``vanish_proof`` exactly: a pitch sounds when
  ``p + v >= 1``, where ``v`` starts at ``vanish`` and is multiplied by
  ``vanish_inc`` after every step, computed in float32 like the seed's
  ``(pred + vanish_proof).astype(np.uint8)``, so both give the same columns.
- ``threshold``: a pitch sounds when ``p >= threshold``.
- ``sample``: every pitch is a Bernoulli draw. Temperature acts on the logit,
  ``p' = sigmoid(logit(p) / temperature)``: 1 draws from the model as it is,
  lower is more conservative, higher more adventurous.

Any rule can be capped with ``max_notes``: with a NADE head a column stops
after that many notes; otherwise only the most probable are kept.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import threadpoolctl

from pianoroll import PianorollError, pages, stepping
from pianoroll import roll as rolls
from pianoroll.bundle import BundleConfig
from pianoroll.measures import THIN_SHARE
from pianoroll.roll import PITCHES, WINDOW

MODES = ("vanish", "seed-vanish", "threshold", "sample")
EVENT_MODES = ("sample", "seed")  # the event networks (tokens, notes, messages): a tempered draw, or the seed's own rule
SILENCE_PRIMER = "silence"
PNG_SUFFIXES = (".png",)
LOGIT_CLIP = 1e-7  # keeps logit(p) finite for p of exactly 0 or 1


class ComposeError(PianorollError):
    """Options or a primer that compose cannot use."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a column of probabilities becomes a column of notes."""

    mode: str = "vanish"
    vanish: float = 0.65
    vanish_inc: float = 1.015  # VANISH_INC gives the default per rule
    threshold: float = 0.5
    temperature: float = 1.0
    max_notes: int | None = None

    def problems(self) -> dict[str, str]:
        """Each setting that cannot make music, with what it must be instead."""
        bad = {
            "mode": self.mode not in (*MODES, *EVENT_MODES),
            "vanish": not 0 <= self.vanish < 1,
            "vanish_inc": not 0 < self.vanish_inc < 2,
            "threshold": not 0 < self.threshold <= 1,
            "temperature": not 0 < self.temperature < 1e6,
            "max_notes": self.max_notes is not None and not 1 <= self.max_notes <= PITCHES,
        }
        return {name: LIMITS[name] for name, wrong in bad.items() if wrong}

    def check(self) -> None:
        """Raise ComposeError naming the first setting that cannot make music."""
        for name, limit in self.problems().items():
            raise ComposeError(f"{name}={getattr(self, name)!r}: {limit}")


LIMITS = {
    "mode": f"must be one of {', '.join(MODES)} (event networks: {', '.join(EVENT_MODES)})",
    "vanish": "must be at least 0 and below 1",
    "vanish_inc": "must be above 0 and below 2",
    "threshold": "must be above 0 and at most 1",
    "temperature": "must be above 0",
    "max_notes": f"must be between 1 and {PITCHES}",
}


@dataclasses.dataclass
class Primer:
    """The window a piece starts from, and where it came from (for the piece's JSON)."""

    frames: np.ndarray  # (WINDOW, PITCHES) float32 0/1
    source: str
    padded: int = 0  # silent columns put in front because the source was shorter than WINDOW
    next_column: int = WINDOW  # where the first composed column falls in the piece (for the beat)


# --- deciding ------------------------------------------------------------------------------


def vanish_offsets(settings: Settings) -> Iterator[np.float32]:
    """The seed's vanish_proof per step: a Python float grown by repeated multiplication, used as float32."""
    offset = settings.vanish
    while True:
        yield np.float32(offset)
        offset *= settings.vanish_inc


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """sigmoid(logit(p) / temperature), in float64."""
    return 0.5 * (1 + np.tanh(logit(probs) / temperature / 2))  # the sigmoid, without overflow


def logit(probs: np.ndarray) -> np.ndarray:
    """log(p / (1 − p)) in float64, p clipped to [LOGIT_CLIP, 1 − LOGIT_CLIP] so that it stays finite."""
    p = np.clip(np.asarray(probs, dtype=np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(p) - np.log1p(-p)


@dataclasses.dataclass(frozen=True)
class Targets:
    """What the training music was like: the bounds the vanish rule keeps a piece within."""

    density: float = 4.0  # sounding notes per column (a chorale's four voices)
    longest_note: int = 100  # columns
    span: int = 16  # columns the running density is taken over: a 4/4 bar at the default resolution
    resolution: float = 0.25  # beats per column: where the beats and eighths fall
    survival: tuple[float, ...] = ()  # share of training notes lasting at least a columns, a = 0, 1, …; () = unknown

    def onsets(self) -> float | None:
        """Notes starting per column in the training music: its density over its mean note length; None if unknown.

        The mean length in columns is the sum of the survival shares from one
        column on (a note of n columns is counted in S(1) … S(n)).
        """
        length = float(np.sum(self.survival[1:]))
        return self.density / length if length > 0 else None


def targets(config: BundleConfig) -> Targets:
    """The vanish rule's bounds from a bundle's record of its training music (defaults for older bundles)."""
    music = config.data.music
    default = Targets()
    resolution = config.resolution
    longest = music.longest_note_beats if music else None
    return Targets(density=music.density if music else default.density,
                   longest_note=max(1, round(longest / resolution)) if longest else default.longest_note,
                   span=max(1, round(BAR_BEATS / resolution)), resolution=resolution,
                   survival=music.note_survival if music else ())


BAR_BEATS = 4.0  # the vanish rule's running density covers a 4/4 bar
EIGHTH_BEATS = rolls.BEAT_LEVELS[0]  # the finest place in the bar the beat input knows


class Decider:
    """Turns each column's probabilities into notes for a batch of pieces, pitch by pitch; may keep state."""

    def __init__(self, settings: Settings, targets: Targets, count: int, rng: np.random.Generator):
        self.settings, self.targets, self.count, self.rng = settings, targets, count, rng

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        """The rule for the next column, given the (count, PITCHES) column before it and its (count,) index in its piece."""
        raise NotImplementedError

    def again(self, before: np.ndarray, column: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """(count,) bool: the pieces whose decided column is drawn once more (by a fresh ``rule``); none by default."""
        return np.zeros(self.count, bool)

    def most(self, sounding: np.ndarray) -> np.ndarray | None:
        """(count,): the most notes each piece's next column may hold after ``sounding``; None (no cap) by default."""
        return None

    def reach(self, sounding: np.ndarray) -> stepping.Reach | None:
        """Where a NADE's starts may land after ``sounding`` (``stepping.Reach``); None (the lowest pitch) by default."""
        return None

    def record(self, column: np.ndarray) -> None:
        """Called with every decided (count, PITCHES) column."""


class Threshold(Decider):
    """A pitch sounds when p >= threshold."""

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        return lambda p: p >= self.settings.threshold


class Sample(Decider):
    """Each pitch a Bernoulli draw at its tempered probability."""

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        draws = self.rng.random((self.count, PITCHES))  # drawn per column, so a NADE's pitch order cannot change them
        return lambda p: draws < tempered(p, self.settings.temperature)


class SeedVanish(Decider):
    """The seed's vanish_proof exactly: a pitch sounds when p + v >= 1, v grown by vanish_inc every step."""

    def __init__(self, *args):
        super().__init__(*args)
        self.offsets = vanish_offsets(self.settings)

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        offset = next(self.offsets)
        return lambda p: p + offset >= 1


class Vanish(Decider):
    """vanish_proof that neither freezes nor floods: the default rule.

    The seed added its offset v to every probability: a pitch sounded when
    p + v >= 1. With a network that knows a sixteenth-note grid, "the same
    column again" is always the likeliest, so that rule holds one chord for
    ever. Here the offset lifts only the notes that would start, and a held
    note has to be chosen again:

    - a pitch not sounding starts when p + v >= 1 (the seed's rule, decided
      pitch by pitch, so the NADE picks a chord, not pieces of several);
      above a column's lowest note, a start lands on one of the pitches up to
      START_REACH semitones (an octave) above the lowest that clears it,
      drawn by the NADE's odds that the column's next note is there
      (``reach``): taking the lowest every time, the upper voices sat
      0.6–1.1 semitones low; within a minor third the range, register, pitch
      classes and polyphony still read a little off, and the classifier 0.654
      against 0.630 within an octave (80 composing seeds);
    - a pitch sounding goes on with probability p while the window still
      shows where the note began; after that the network cannot tell a long
      note from a new one, and the note goes on with √(p·h), h the chance
      that a training note of its age goes on (``Targets.survival``): the
      network knows the harmony, the training music how long notes last, and
      the geometric mean lets either end the note (p² for a bundle without h);
    - a start or an end falls where the chorales put theirs: on a beat as
      decided, on an off-beat eighth with OFF_BEAT_START (OFF_BEAT_END) of
      that chance, between eighths with BETWEEN_EIGHTHS_CHANGE. The network
      follows the rhythm of its 2¼-beat window rather than its beat input
      (moving the beat input by a column moves its expected onsets by under
      1%), so left alone a piece drifts off the beat: 13% of the onsets fell
      between eighths, against 2% in the chorales (1.1% with this rule);
    - a column on a beat or an off-beat eighth that repeats the one before
      is drawn once more (``again``): the chorales change on 92% of their
      beats and 56% of their off-beat eighths, and drawn once this rule
      changed on 87% and 46% — all the voices held on together too often;
    - a note as long as the longest note of the training music ends;
    - each piece keeps a pace of its own (``keep_pace``): its onsets per column
      over two bars are steered towards an aim drawn once per piece, the
      training music's onsets per column times e^(PACE_SPREAD·z), by raising
      the chance that a held note goes on to a power (above 1 notes end
      sooner, below 1 later). The rhythm was otherwise what the network
      happened to learn: two networks trained alike by `make train` (seeds 0
      and 1) came out at 3.45 and 3.83 notes a beat against the chorales'
      3.67; and every piece aimed at one pace, so the pieces were more alike
      than chorales (the spread of notes per beat between pieces 0.55 of
      theirs; with the drawn aim 0.95–0.97). The classifier read both;
    - a phrase may breathe: after a chord of PHRASE_NOTES or more held
      PHRASE_HOLD_BEATS beats from a beat, the next beat is silent with chance
      BREATH_CHANCE (``breathes``). In 11 of the 40 held-out chorales all
      the voices stop for a beat or more between phrases; without this no
      composed piece ever rested, and the classifier read it (empty columns
      and, with them, density against notes per beat). The offset holds
      still while a piece rests, or it would fill the next bar to make up
      (the running density still counts the rest, so voices that come back
      thin are called back);
    - after a thin column, one sounding n notes with 1 <= n <= THIN_SHARE·d
      (d the training music's density), a start needs only p >= (1 - v)·n/d:
      the voices are called back at once. A voice ends at random but a new
      note starts only above the threshold, so now and then a voice goes
      and nothing takes its place (of the voices lost where a piece thinned
      out, 80% had p > 0.5 to go on); the network, seeing it gone, gives it
      back too little for the offset to reach in time, and 3 to 5 in 10
      pieces of 424 columns had a bar or more of one or two voices.

    The key is the network's: the default network reads the pitch-class
    shares of the whole piece so far (``roll.key_memory``), its primer
    counted ``stepping.PRIMER_KEY_WEIGHT`` times over, so a piece comes home
    without help from the rule.

    The offset v of each piece is steered like Johnson's conservativity:
    multiplied by vanish_inc after every column while the piece's density
    over the last bar (a running mean) is below the training music's, and
    divided by it while above, within [0, VANISH_MAX]. So a piece that thins
    out lifts its new notes and a piece that fills up holds them back, over
    any length.
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.offset = np.full((self.count, 1), self.settings.vanish)
        self.held = np.zeros((self.count, PITCHES), np.int64)  # columns each pitch has sounded for
        self.density = np.full((self.count, 1), float(self.targets.density))  # notes per column over about a bar
        self.lasting = np.concatenate([self.targets.survival, [0.0]]) if self.targets.survival else None
        self.unchanged = np.zeros(self.count, np.int64)  # columns the last column has sounded as it is
        self.rest_left = np.zeros(self.count, np.int64)  # columns of a breath still to come
        self.breath_columns = max(1, round(BREATH_BEATS / self.targets.resolution))
        self.resting = np.zeros(self.count, bool)  # whether the column being decided is a breath
        onsets = self.targets.onsets()
        spread = np.exp(PACE_SPREAD * self.rng.standard_normal((self.count, 1)))
        self.pace_aim = None if onsets is None else onsets * spread  # each piece's onsets per column; None: no pace
        self.pace = np.full((self.count, 1), onsets or 0.0)  # onsets per column over about PACE_BARS bars
        self.hold_power = np.ones((self.count, 1))  # a held note goes on with its chance to this power
        self.pace_span = PACE_BARS * self.targets.span

    def rule(self, sounding: np.ndarray, columns: np.ndarray) -> stepping.Rule:
        draws = self.rng.random((self.count, PITCHES))
        allowed = self.held < self.targets.longest_note
        young = self.held < WINDOW
        start_weight, end_weight = change_weights(columns, self.targets.resolution)
        cap = None if self.lasting is None else self.going_on(columns)
        share = sounding.sum(axis=1, keepdims=True) / self.targets.density
        start_at = (1 - self.offset) * np.where(self.thin(sounding), share, 1.0)
        self.resting = (self.rest_left > 0) | self.breathes(sounding, columns)
        allowed &= ~self.resting[:, None]

        def decide(p: np.ndarray) -> np.ndarray:
            goes_on = np.where(young, p, p * p if cap is None else np.sqrt(p * cap)) ** self.hold_power
            chance = np.where(sounding, 1 - end_weight * (1 - goes_on), start_weight * (p >= start_at))
            return (draws < chance) & allowed
        return decide

    def breathes(self, sounding: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """(count,) bool: the pieces whose next column, on a beat, starts a breath after a phrase's held chord.

        Drawn afresh with every draw of the column, so where the network
        would hold the chord on still (the column is drawn again, ``again``)
        the piece breathes with chance 1 − (1 − BREATH_CHANCE)²: a breath
        comes where the music itself has stopped.
        """
        beats = rolls.beat_features(np.concatenate([columns, columns - self.unchanged]), self.targets.resolution)
        on_beat, began_on_beat = np.split(beats[:, 1] > 0, 2)  # this column, and where the chord before it began
        held_long = self.unchanged * self.targets.resolution >= PHRASE_HOLD_BEATS
        chord = sounding.sum(axis=1) >= PHRASE_NOTES
        draws = self.rng.random(self.count) < BREATH_CHANCE
        return draws & on_beat & began_on_beat & held_long & chord

    def thin(self, sounding: np.ndarray) -> np.ndarray:
        """(count, 1) bool: whether each piece's column sounds 1 to THIN_SHARE·d notes, its last bar below d.

        A silent column is not thin: a piece starting from silence, or
        resting, starts as usual. Nor is one after a bar fuller than the
        training music: there the offset is low, as it should be.
        """
        notes = sounding.sum(axis=1, keepdims=True)
        return (notes >= 1) & (notes <= THIN_SHARE * self.targets.density) & (self.density < self.targets.density)

    def most(self, sounding: np.ndarray) -> np.ndarray | None:
        """After a thin column, the voices come back up to the training music's usual number and no further.

        A network unsure of its notes gives many pitches the lowered
        threshold at once: an untrained one started clusters of 23 to 44 notes.
        None while no piece is thin, so the step's loop counts no notes.
        """
        thin = self.thin(sounding)[:, 0]
        return np.where(thin, max(1, round(self.targets.density)), PITCHES) if thin.any() else None

    def reach(self, sounding: np.ndarray) -> stepping.Reach:
        return stepping.Reach(START_REACH, sounding, self.rng.random(sounding.shape))

    def again(self, before: np.ndarray, column: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """A column on a beat or an eighth that only repeats the one before: drawn once more (and the new draw stands)."""
        on_eighth = rolls.beat_features(columns, self.targets.resolution)[:, 0] > 0
        return on_eighth & (column == before).all(axis=1) & ~self.resting

    def going_on(self, columns: np.ndarray) -> np.ndarray:
        """(count, PITCHES): the chance that a training note as old as each held note lasts to this column.

        Taken over the columns since the last eighth, since between eighths a
        note hardly ever ends. Only for a bundle with the figures (``lasting``).
        """
        last = len(self.lasting) - 1
        since = columns_since_eighth(columns, self.targets.resolution)[:, None]
        reached = self.lasting[np.minimum(self.held + 1, last)]
        before = self.lasting[np.clip(self.held + 1 - since, 0, last)]
        return reached / np.maximum(before, SURVIVAL_FLOOR)

    def record(self, column: np.ndarray) -> None:
        self.keep_pace(column)  # before ``held`` moves on: it tells which of the column's notes start
        same = (column == (self.held > 0)).all(axis=1)
        self.unchanged = np.where(same, self.unchanged + 1, 1)
        self.held = np.where(column, self.held + 1, 0)
        starting = self.resting & (self.rest_left == 0)
        self.rest_left = np.where(starting, self.breath_columns, self.rest_left) - self.resting
        self.density += (column.sum(axis=1, keepdims=True) - self.density) / self.targets.span
        growth = np.where(self.density < self.targets.density, self.settings.vanish_inc, 1 / self.settings.vanish_inc)
        steered = np.clip(self.offset * growth, 0.0, VANISH_MAX)
        self.offset = np.where(self.resting[:, None], self.offset, steered)  # a breath is no reason to fill the next bar

    def keep_pace(self, column: np.ndarray) -> None:
        """Steer each piece's hold power by the notes that start in the (count, PITCHES) ``column`` just decided.

        Too few notes starting over the last two bars: held notes end a
        little sooner (the power grows by PACE_INC), too many: later. Not
        while a piece rests, and not for a bundle without the training
        music's note lengths (no aim).
        """
        if self.pace_aim is None:
            return
        onsets = (column & (self.held == 0)).sum(axis=1, keepdims=True)
        self.pace += (onsets - self.pace) / self.pace_span
        growth = np.where(self.pace < self.pace_aim, PACE_INC, 1 / PACE_INC)
        steered = np.clip(self.hold_power * growth, *HOLD_POWER_LIMITS)
        self.hold_power = np.where(self.resting[:, None], self.hold_power, steered)


START_REACH = 12  # semitones above the lowest pitch a start clears where it may land instead: an octave (3 read 2.4 points worse)
OFF_BEAT_START = 0.6  # a start on an eighth between beats is drawn at this share of its chance
OFF_BEAT_END = 0.95  # … an end: the two chosen so that notes have the chorales' length and number
BETWEEN_EIGHTHS_CHANGE = 0.3  # … between eighths (a sixteenth): 1.1% of onsets land there (chorales 2%; at 0.05, 0.1%)
PHRASE_NOTES = 3  # a phrase ends on a chord of at least this many notes …
PHRASE_HOLD_BEATS = 2  # … held this many beats or more from a beat (the chorales' fermatas)
BREATH_BEATS = 1  # a breath lasts a beat
BREATH_CHANCE = 0.3  # classifier 0.658 / 0.668 over composing seeds 0–39 / 40–79, against 0.681 / 0.681 without
PACE_SPREAD = 0.25  # log-normal spread of each piece's onset aim (the chorales' notes per beat: 0.19 in log, SD)
PACE_INC = 1.01  # the hold power's growth per column while a piece starts too few notes (its fall while too many)
PACE_BARS = 2  # the running onsets cover this many bars
HOLD_POWER_LIMITS = (0.5, 2.0)  # the hold power stays within these: from √chance to chance²
SURVIVAL_FLOOR = 1e-12  # no training note lasted this long: the ratio stays finite (and the note ends)


def change_weights(columns: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """(count, 1) each: how much of its chance a start, and an end, keeps at each column's place in the beat."""
    eighth, beat = rolls.beat_features(columns, resolution)[:, :2].T > 0

    def at(off_beat: float) -> np.ndarray:
        return np.where(beat, 1.0, np.where(eighth, off_beat, BETWEEN_EIGHTHS_CHANGE))[:, None]
    return at(OFF_BEAT_START), at(OFF_BEAT_END)


def columns_since_eighth(columns: np.ndarray, resolution: float) -> np.ndarray:
    """(count,) columns from the last column on an eighth before each column, that one counted: 1 at an eighth or coarser."""
    per_eighth = max(1, round(EIGHTH_BEATS / resolution))
    since = np.asarray(columns, np.int64) % per_eighth
    return np.where(since == 0, per_eighth, since)


VANISH_MAX = 0.9  # a thin piece lifts its starts to p >= 0.1 at most: beyond, it burst into clusters of 7+ notes
DECIDERS = {"vanish": Vanish, "seed-vanish": SeedVanish, "threshold": Threshold, "sample": Sample}
VANISH_INC = {"vanish": 1.015, "seed-vanish": 1.001}  # the default per rule: steering within a bar or two; the seed's


def generate(
    step: Any,
    primers: np.ndarray,
    length: int,
    settings: Settings = Settings(),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    next_columns: np.ndarray | None = None,
    targets: Targets = Targets(),
) -> np.ndarray:
    """Compose ``length`` new columns after each (WINDOW, PITCHES) primer; returns (count, length, PITCHES) frames.

    ``step`` is a stepper (``bundle.stepper``). The primers are not part of
    the result, as in the seed. ``next_columns`` gives, per piece, the index
    of the first composed column in its piece (for the beat; default WINDOW).
    ``seed`` drives every random draw; ``progress`` is called with the number
    of columns done after every step.
    """
    settings.check()
    window = np.array(primers, dtype=np.float32)
    if window.ndim != 3 or window.shape[1:] != (WINDOW, PITCHES):
        raise ComposeError(f"primers must be shaped (count, {WINDOW}, {PITCHES}), not {window.shape}")
    count = window.shape[0]
    columns = np.full(count, WINDOW) if next_columns is None else np.asarray(next_columns)
    if settings.mode not in DECIDERS:
        raise ComposeError(f"--mode {settings.mode}: for the event networks only (tokens, notes, messages)")
    decider = DECIDERS[settings.mode](settings, targets, count, np.random.default_rng([seed, 1]))
    song = np.zeros((count, length, PITCHES), dtype=np.float32)
    with threadpoolctl.threadpool_limits(1):  # a step's products are small: BLAS threads only fight for the cores
        state = step.start(window, columns)
        sounding = window[:, -1] > 0.5
        for index in range(length):
            sounding = decide_column(step, state, decider, sounding, columns + index, settings.max_notes)
            decider.record(sounding)
            song[:, index] = sounding
            if index + 1 < length:
                state = step.advance(state, song[:, index])
            if progress is not None:
                progress(index + 1)
    return song


def decide_column(step: Any, state: Any, decider: Decider, before: np.ndarray, columns: np.ndarray,
                  most: int | None) -> np.ndarray:
    """The next (count, PITCHES) column; the pieces the decider sends back draw theirs once more, and that draw stands.

    ``most`` (``--max-notes``) caps every column, the decider's ``most`` some.
    """
    capped = decider.most(before)
    if capped is not None:
        most = np.minimum(capped, PITCHES if most is None else most)
    column, _ = step.decide(state, decider.rule(before, columns), most, decider.reach(before))
    again = decider.again(before, column, columns)
    if again.any():
        redrawn, _ = step.decide(state, decider.rule(before, columns), most, decider.reach(before))
        column = np.where(again[:, None], redrawn, column)
    return column


# --- primers -------------------------------------------------------------------------------


def fit_window(roll: np.ndarray, source: str, start: int = 0) -> Primer:
    """WINDOW columns of a roll from ``start`` as frames; a shorter roll gets silence in front, as before a piece."""
    frames = rolls.as_frames(roll[start:start + WINDOW])
    padded = WINDOW - frames.shape[0]
    if padded:
        frames = np.concatenate([np.zeros((padded, PITCHES), np.float32), frames])
    return Primer(frames, source, padded, start + WINDOW - padded)


def silence_primer() -> Primer:
    return Primer(np.zeros((WINDOW, PITCHES), np.float32), SILENCE_PRIMER, next_column=0)


def file_primer(path: Path, resolution: float) -> Primer:
    """The first WINDOW columns of a PNG page or a MIDI / score file, quantised at the bundle's resolution."""
    path = Path(path)
    if not path.is_file():
        raise ComposeError(f"{path}: no such primer file (give a MIDI file, a score, a PNG page or `silence`)")
    if path.suffix.lower() in PNG_SUFFIXES:
        roll = pages.read_image(path)
    else:
        roll, _ = rolls.from_notes(opening(_read_notes(path), WINDOW * resolution), resolution)
    return fit_window(roll, printable(path))


def opening(notes: list[rolls.Note], beats: float) -> list[rolls.Note]:
    """The notes as heard in the first ``beats``, cut off there: a primer never costs more than its window."""
    return [note._replace(end=min(note.end, beats)) for note in notes if note.start < beats]


def printable(path: Path) -> str:
    """A file name as text that any JSON or HTML writer takes (bytes that are not UTF-8 shown as �)."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def _read_notes(path: Path) -> list[rolls.Note]:
    from pianoroll import images

    if path.suffix.lower() not in images.SUFFIXES:
        known = ", ".join((*PNG_SUFFIXES, *images.SUFFIXES))
        raise ComposeError(f"{path}: not a primer compose can read (use {known} or `{SILENCE_PRIMER}`)")
    return images.read_parts(path, split_instruments=False)[""]


def training_primers(config: BundleConfig, count: int, rng: np.random.Generator) -> list[Primer]:
    """``count`` random windows of the bundle's training pieces, each window equally likely (the seed's way)."""
    from pianoroll import dataset

    images = Path(config.data.images)
    try:
        usable = dataset.load_split(images, sorted(config.data.train_pieces), (), config.resolution).train
    except PianorollError as error:
        raise ComposeError(f"{error}; the bundle's training pages are needed for a random primer, "
                           f"or give --primer FILE or --primer {SILENCE_PRIMER}") from None
    names = list(usable)
    starts = np.array([max(1, usable[name].shape[0] - WINDOW + 1) for name in names])
    chosen = []
    for index in rng.integers(starts.sum(), size=count):
        piece = int(np.searchsorted(np.cumsum(starts), index, side="right"))
        start = int(index - (starts[:piece].sum()))
        chosen.append(fit_window(usable[names[piece]], f"{names[piece]}@{start}", start))
    return chosen


def choose_primers(spec: str | None, config: BundleConfig, count: int, seed: int) -> list[Primer]:
    """The primer of every piece: random training windows (no spec), silence, or a file's opening."""
    if spec is None or spec == "":
        return training_primers(config, count, np.random.default_rng([seed, 0]))
    if spec == SILENCE_PRIMER:
        return [silence_primer() for _ in range(count)]
    primer = file_primer(Path(spec), config.resolution)
    return [primer] * count


# --- the event networks ---------------------------------------------------------------------


def event_pieces(path: Path, config: BundleConfig, settings: Settings, length: int, count: int, seed: int,
                 spec: str | None) -> tuple[np.ndarray, list[Primer]]:
    """``count`` pieces of ``length`` columns from an event network (tokens, notes, messages), as (count, length, PITCHES).

    The network is stepped event by event from a primer of its window's
    length (the first events of a training piece, or of a file); the events
    it composes become notes and then a roll at the bundle's resolution, so
    that every page, MIDI, WAV and measure applies unchanged.
    """
    from pianoroll import bundle, event_networks

    if settings.mode not in EVENT_MODES:
        raise ComposeError(f"--mode {settings.mode}: the {config.arch} network composes with "
                           f"{' or '.join(f'--mode {mode}' for mode in EVENT_MODES)}")
    primers, windows = event_primers(spec, config, count, seed)
    step = stepping.WindowStep(bundle.load(path).model).probabilities  # the seeds stepped theirs the same way
    with threadpoolctl.threadpool_limits(1):
        notes = event_networks.generate(step, config.encoding, windows, length * config.resolution, settings.mode,
                                        settings.temperature, seed)
    return np.stack([fit_length(rolls.from_notes(piece, config.resolution)[0], length) for piece in notes]), primers


def fit_length(roll: np.ndarray, length: int) -> np.ndarray:
    """A roll's first ``length`` columns as 0/1 frames, silence after its end."""
    frames = np.zeros((length, PITCHES), np.float32)
    kept = rolls.as_frames(roll[:length])
    frames[:len(kept)] = kept
    return frames


def event_primers(spec: str | None, config: BundleConfig, count: int, seed: int) -> tuple[list[Primer], np.ndarray]:
    """Each piece's primer record and its window of events: a random training piece's first events, or a file's."""
    from pianoroll import dataset, sequences

    encoding = config.encoding
    if spec == SILENCE_PRIMER:
        raise ComposeError(f"--primer {SILENCE_PRIMER}: the {config.arch} network starts from events; "
                           "give a file, or leave --primer out for a training piece")
    silent = np.zeros((WINDOW, PITCHES), np.float32)
    if spec:
        path = Path(spec)
        if not path.is_file():
            raise ComposeError(f"{path}: no such primer file (give a MIDI file, a score or a PNG page)")
        notes = (rolls.to_notes(pages.read_image(path), config.resolution) if path.suffix.lower() in PNG_SUFFIXES
                 else _read_notes(path))
        stream = sequences.encode_pieces(encoding.kind, {"primer": notes}, encoding)
        if len(stream.inputs) < encoding.window:
            raise ComposeError(f"{path}: {len(stream.inputs)} events, the {config.arch} network starts from "
                               f"{encoding.window}")
        return [Primer(silent, printable(path))] * count, np.stack([stream.primer("primer")] * count)
    images = Path(config.data.images)
    try:
        pieces = dataset.load_split(images, sorted(config.data.train_pieces), (), config.resolution).train
    except PianorollError as error:
        raise ComposeError(f"{error}; the bundle's training pages are needed for a primer, or give --primer FILE") from None
    notes, _ = sequences.load_notes(images, pieces, config.resolution, velocity=encoding.kind == "messages")
    stream = sequences.encode_pieces(encoding.kind, notes, encoding)
    names = np.random.default_rng([seed, 0]).choice(sorted(notes), size=count)
    return ([Primer(silent, f"{name} (its first {encoding.window} events)") for name in names],
            np.stack([stream.primer(str(name)) for name in names]))


# --- what comes out ------------------------------------------------------------------------


def piece_names(base: str, count: int) -> list[str]:
    """One name per piece: the base alone for one piece, numbered from 1 for several."""
    return [base] if count == 1 else [f"{base}-{index}" for index in range(1, count + 1)]


def bundle_summary(path: Path, config: BundleConfig) -> dict[str, Any]:
    """What a listener may want to know about the model that composed a piece."""
    return {
        "path": str(path),
        **{key: getattr(config, key) for key in ("arch", "loss", "epochs", "seed", "resolution", "version")},
        **{key: getattr(config.data, key) for key in ("images", "pieces", "frames")},
        "held_out": config.metrics.figures() if config.metrics else None,
    }


NO_AUDIO = "not rendered (--no-audio)"


def write_pieces(out_dir: Path, pieces: list[tuple[str, np.ndarray, dict[str, Any]]],
                 resolution: float, bpm: float, sound: bool = True) -> list[dict[str, Any]]:
    """Write each (name, frames, record) as <name>.mid .png .wav .json; returns the records as written.

    Everything is made in a hidden folder inside ``out_dir`` and moved into
    place only when every piece is complete, JSON last, so a failure leaves
    nothing partial behind and a gallery never lists a piece whose files are
    missing. A piece without audio says why in its record's ``audio`` field;
    one with audio names what played it in ``renderer``. ``sound=False`` skips the WAV.
    """
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    for name, _, _ in pieces:
        if Path(name).name != name or name.startswith("."):
            raise ComposeError(f"{name}: not a file name for a piece")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".compose-", dir=out_dir))
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # fluidsynth is one process a piece
            records = list(pool.map(lambda piece: _stage(staging, *piece, resolution, bpm, sound), pieces))
        for path in sorted(staging.iterdir(), key=lambda p: (p.suffix == ".json", p.name)):
            os.replace(path, out_dir / path.name)  # every file was made readable as the umask allows
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return records


def _stage(folder: Path, name: str, frames: np.ndarray, record: dict[str, Any],
           resolution: float, bpm: float, sound: bool = True) -> dict[str, Any]:
    from pianoroll import audio, bundle, measures, metrics, midi

    roll = rolls.from_frames(frames)
    midi.write(rolls.to_notes(roll, resolution), folder / f"{name}.mid", bpm=bpm, program=0)
    pages.write_image(pages.to_image(roll), folder / f"{name}.png")
    files = {"midi": f"{name}.mid", "png": f"{name}.png", "wav": f"{name}.wav"}
    record = {**record, "name": name, "files": files, "audio": None, "renderer": None,
              "statistics": metrics.piece_statistics(roll, resolution),
              "measures": measures.piece_measures(roll, resolution).to_dict()}
    if not sound:
        record.update(audio=NO_AUDIO, files={**files, "wav": None})
        bundle.write_json(folder / f"{name}.json", record)
        return record
    try:
        record["renderer"] = audio.render(folder / files["midi"], folder / files["wav"])
    except (audio.AudioUnavailable, audio.AudioError) as error:
        record.update(audio=str(error).replace(str(folder / files["midi"]), files["midi"]), files={**files, "wav": None})
    bundle.write_json(folder / f"{name}.json", record)
    return record
