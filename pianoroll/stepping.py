"""The network stepped forward one column at a time, on a batch of pieces, as fast as the CPU allows.

Composing asks the network for one column per step, each time on the last
WINDOW columns. The seed called ``model.predict`` for that, which builds a data
pipeline around every call and costs far more than the network.

Our networks (``convlstm`` and ``independent``) are stepped in numpy from the
weights their bundle exports (``ColumnNetwork`` and ``NumpyStep``), so
composing never imports TensorFlow: each column is encoded once, when it
enters the window, and a step runs the LSTM's recurrence over the kept
projections and then the head. A NADE head decides its column pitch by pitch,
lowest first, each decision conditioning the next; since the NADE's hidden
layer changes only when a pitch is turned on, every run of pitches up to the
next note is decided in one vectorised pass. ``train`` checks these
probabilities against Keras's when it writes a bundle.

Other networks (the seed's) go through TensorFlow: ``WindowStep`` runs the
whole network as one traced graph on the (count, WINDOW, PITCHES) window.

State is passed in and out, so one stepper serves any number of compositions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from pianoroll.roll import PITCHES, WINDOW, beat_features, key_shares, pitch_class_counts

# A composed piece's key (roll.key_memory) counts its primer this many times over, as if the primer
# had opened the piece this many times: counted once, it was soon outweighed by whatever key the piece
# drifted to, and the memory followed the drift instead of holding the piece home (reports/experiments.md).
PRIMER_KEY_WEIGHT = 16

Rule = Callable[[np.ndarray], np.ndarray]  # (count, PITCHES) probabilities → (count, PITCHES) decisions, pitch by pitch
Most = int | np.ndarray | None  # the most notes a column may hold: one for all, (count,) one per piece, or no cap


@dataclasses.dataclass(frozen=True)
class Reach:
    """Where a NADE's next note lands when a rule starts one: not always on the lowest pitch the rule allows.

    Decided lowest first, a threshold takes the lowest pitch that clears it,
    though the NADE may give a pitch a step higher better odds of being the
    column's next note: the upper voices of pieces composed so sat a
    semitone low and their range was narrower. Instead, of the pitches the
    rule would start from that lowest one f up to ``semitones`` above it, one
    is drawn by the NADE's odds that the next note is there,
    p_k·∏(1 − p_j) over f <= j < k. A held note (``held``: sounding in the
    column before) is never moved, and a start never passes one. Nor is a
    column's lowest note: the threshold passes over the low pitches of a bass
    that the NADE spreads over several, so the bass sat high, not low.
    """

    semitones: int
    held: np.ndarray  # (count, PITCHES) bool: the notes sounding in the column before
    draws: np.ndarray  # (count, PITCHES) uniforms in [0, 1): a start found at pitch f is placed by draws[:, f]

    def place(self, first: np.ndarray, p: np.ndarray, on: np.ndarray, above: np.ndarray) -> np.ndarray:
        """(count,): each piece's next note, given the lowest pitch ``first`` the rule turns ``on`` (PITCHES: none).

        ``above`` (count,) bool: whether the piece's column already has a note below; if not, the note stays.
        """
        rows = np.arange(len(first))[:, None]
        found = np.minimum(first, PITCHES - 1)
        starts = above & (first < PITCHES) & ~self.held[rows[:, 0], found]
        if not starts.any():  # most passes: a column's lowest note, a held note, or no note left
            return first
        span = first[:, None] + np.arange(self.semitones + 1)[None]
        inside = span < PITCHES
        span = np.minimum(span, PITCHES - 1)
        past_held = np.cumsum(self.held[rows, span] & inside, axis=1) > 0  # from the first held note on
        allowed = on[rows, span] & inside & ~past_held
        chance = p[rows, span].astype(np.float64)
        not_before = np.cumprod(np.concatenate([np.ones_like(chance[:, :1]), 1 - chance[:, :-1]], axis=1), axis=1)
        odds = np.cumsum(np.where(allowed, chance * not_before, 0.0), axis=1)
        total = odds[:, -1:]
        drawn = self.draws[rows[:, 0], found][:, None]
        step = np.sum(odds < drawn * total, axis=1)  # the first place where the cumulative odds reach the draw
        return np.where(starts, first + step, first)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class ColumnNetwork:
    """Our network in numpy, from ``model.export_weights``: the column encoder, the LSTM, and the head.

    ``inputs`` names what the network reads besides the window (``ModelConfig.inputs``):
    the beat and the key are appended to the LSTM's output in that order.
    """

    def __init__(self, weights: dict[str, np.ndarray], resolution: float, inputs: tuple[str, ...]):
        self.weights = {name: np.asarray(value, np.float32) for name, value in weights.items()}
        self.resolution = resolution
        self.convs = sorted((name[:-len("_kernel")] for name in self.weights
                             if name.startswith("conv") and name.endswith("_kernel")),
                            key=lambda name: int(name[len("conv"):]))  # conv0, conv1, … conv10 in order
        self.units = self.weights["lstm_recurrent"].shape[0]
        self.nade = "nade_w" in self.weights
        self.beat, self.key = "beat" in inputs, "key" in inputs

    def project(self, columns: np.ndarray) -> np.ndarray:
        """(count, PITCHES) columns → (count, 4 × units): the convolutions, the projection, the LSTM's input kernel."""
        features = np.asarray(columns, np.float32)[:, :, None]
        for name in self.convs:
            kernel, bias = self.weights[f"{name}_kernel"], self.weights[f"{name}_bias"]
            width = kernel.shape[0]
            left = (width - 1) // 2  # "same" padding, as TensorFlow splits it
            padded = np.pad(features, ((0, 0), (left, width - 1 - left), (0, 0)))
            spans = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (count, PITCHES, in, width)
            features = np.maximum(np.einsum("npiw,wio->npo", spans, kernel, optimize=True) + bias, 0)
        flat = features.reshape(features.shape[0], -1)
        hidden = np.maximum(flat @ self.weights["projection_kernel"] + self.weights["projection_bias"], 0)
        return hidden @ self.weights["lstm_kernel"]

    def context(self, projections: np.ndarray, next_columns: np.ndarray, key: np.ndarray | None) -> np.ndarray:
        """The LSTM over (count, WINDOW, 4 × units) projections from zero state, with the next column's beat and the key.

        ``key`` holds the pitch-class shares of each piece before the next column (``roll.key_memory``);
        a network that does not read the key ignores it (it may be None).
        """
        count = projections.shape[0]
        h = np.zeros((count, self.units), np.float32)
        c = h
        for t in range(WINDOW):
            z = projections[:, t] + h @ self.weights["lstm_recurrent"] + self.weights["lstm_bias"]
            z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)
            c = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
            h = sigmoid(z_o) * np.tanh(c)
        extras = [beat_features(next_columns, self.resolution)] if self.beat else []
        extras += [np.asarray(key, np.float32)] if self.key else []
        return np.concatenate([h, *extras], axis=1)

    def biases(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A NADE head's hidden bias (count, units) and output bias (count, PITCHES) for each context."""
        w = self.weights
        return context @ w["hidden_kernel"] + w["hidden_bias"], context @ w["bias_kernel"] + w["bias_bias"]

    def probabilities(self, window: np.ndarray, next_columns: np.ndarray, key: np.ndarray,
                      column: np.ndarray) -> np.ndarray:
        """(count, PITCHES): the network's output for windows and, for a NADE, the given next column."""
        projections = np.stack([self.project(window[:, t]) for t in range(WINDOW)], axis=1)
        context = self.context(projections, next_columns, key)
        if not self.nade:
            return sigmoid(context @ self.weights["output_kernel"] + self.weights["output_bias"])
        hidden_bias, output_bias = self.biases(context)
        contributions = np.asarray(column, np.float32)[:, :, None] * self.weights["nade_w"][None]
        below = np.cumsum(contributions, axis=1) - contributions
        hidden = sigmoid(hidden_bias[:, None, :] + below)
        return sigmoid(output_bias + np.sum(hidden * self.weights["nade_v"][None], axis=-1))

    def decide(self, context: np.ndarray, rule: Rule, most: Most = None,
               reach: Reach | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One column per piece, decided by ``rule``; returns (decisions, the probability each pitch was decided at).

        With a NADE head, pitches are decided lowest first, each conditioned on
        the ones below; ``most`` stops a column after that many notes (per piece
        when it is an array), and ``reach`` places each note the rule starts.
        An independent head decides every pitch at once: no order, no reach.
        """
        if not self.nade:
            probs = sigmoid(context @ self.weights["output_kernel"] + self.weights["output_bias"])
            return keep_most_probable(rule(probs), probs, most), probs
        w, v = self.weights["nade_w"], self.weights["nade_v"]
        activation, output_bias = self.biases(context)
        count = context.shape[0]
        pitches = np.arange(PITCHES)
        decided = np.zeros((count, PITCHES), bool)
        probs = np.zeros((count, PITCHES), np.float32)
        start = np.zeros(count, np.intp)  # each piece's lowest pitch not yet decided
        while (start < PITCHES).any():
            p = sigmoid(output_bias + sigmoid(activation) @ v.T)  # right for every pitch up to the next note
            open_ = pitches[None] >= start[:, None]
            on = rule(p) & open_
            first = np.where(on.any(axis=1), on.argmax(axis=1), PITCHES)  # the next note of each piece
            if reach is not None:
                first = reach.place(first, p, on, start > 0)  # past the first pass, a note lies below
            settled = open_ & (pitches[None] <= first[:, None])
            probs[settled] = p[settled]
            playing = first < PITCHES
            decided[playing, first[playing]] = True
            activation[playing] += w[first[playing]]
            start = first + 1
            if most is not None:
                start[decided.sum(axis=1) >= most] = PITCHES
        return decided, probs


def keep_most_probable(on: np.ndarray, probs: np.ndarray, most: Most) -> np.ndarray:
    """Of the pitches on in each column, only the ``most`` most probable (ties: the lower pitch)."""
    if most is None:
        return on
    ranked = np.argsort(np.where(on, -probs, np.inf), axis=1, kind="stable")
    rank = np.empty_like(ranked)
    np.put_along_axis(rank, ranked, np.arange(on.shape[1])[None], axis=1)  # each pitch's place in its column
    return on & (rank < np.reshape(most, (-1, 1)))


@dataclasses.dataclass
class Steps:
    """Where a batch of compositions stands: the kept column projections, the next column's index, the LSTM's output."""

    projections: np.ndarray  # (count, WINDOW, 4 × units)
    next_columns: np.ndarray  # (count,) the next column's index in its piece, for the beat
    pitch_classes: np.ndarray  # (count, 12) sounding cells per pitch class so far, the primer's PRIMER_KEY_WEIGHT times
    context: np.ndarray  # (count, units [+ beat] [+ key]): what the head reads; a column drawn again reuses it


class NumpyStep:
    """Our networks stepped in numpy: each column projected once, the LSTM once per step, the head per decision."""

    def __init__(self, network: ColumnNetwork):
        self.network = network

    def start(self, window: np.ndarray, next_columns: np.ndarray) -> Steps:
        projections = np.stack([self.network.project(window[:, t]) for t in range(WINDOW)], axis=1)
        primer_key = pitch_class_counts(window).sum(axis=1) * PRIMER_KEY_WEIGHT
        return self.steps(projections, np.asarray(next_columns, np.int64), primer_key)

    def decide(self, steps: Steps, rule: Rule, most: Most = None,
               reach: Reach | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.network.decide(steps.context, rule, most, reach)

    def advance(self, steps: Steps, columns: np.ndarray) -> Steps:
        projections = np.concatenate([steps.projections[:, 1:], self.network.project(columns)[:, None]], axis=1)
        pitch_classes = steps.pitch_classes + pitch_class_counts(columns) if self.network.key else steps.pitch_classes
        return self.steps(projections, steps.next_columns + 1, pitch_classes)

    def steps(self, projections: np.ndarray, next_columns: np.ndarray, pitch_classes: np.ndarray) -> Steps:
        key = key_shares(pitch_classes) if self.network.key else None  # counted only for a network that reads it
        return Steps(projections, next_columns, pitch_classes, self.network.context(projections, next_columns, key))


AGREEMENT = 1e-5  # the most a numpy probability may differ from Keras's


class WindowStep:
    """Any network, one traced graph call per step on the whole window.

    The graph is traced once per window shape and called as that concrete
    function: the tf.function's own dispatch (binding and hashing the call's
    signature on every step) cost about a fifth of a step of the seed's network.
    """

    def __init__(self, model: Any):
        import tensorflow as tf

        self._tf = tf
        self._graph = tf.function(lambda window: model(window, training=False), autograph=False)
        self.traced: dict[tuple[int, ...], Any] = {}  # window shape → its concrete function

    def start(self, window: np.ndarray) -> tuple[Any, np.ndarray]:
        """The state for a (count, WINDOW, PITCHES) primer window, and the probabilities of the next column."""
        window = np.asarray(window, dtype=np.float32)
        return window, self.probabilities(window)

    def advance(self, window: Any, columns: np.ndarray) -> tuple[Any, np.ndarray]:
        """Append the decided (count, PITCHES) columns; the new state and the next probabilities."""
        window = np.concatenate([window[:, 1:], np.asarray(columns, np.float32)[:, None]], axis=1)
        return window, self.probabilities(window)

    def probabilities(self, window: np.ndarray) -> Any:
        """The network's outputs for a window: an array, or a dict of arrays for a network of several heads."""
        window = np.asarray(window, np.float32)
        graph = self.traced.get(window.shape)
        if graph is None:
            graph = self.traced[window.shape] = self._graph.get_concrete_function(
                self._tf.TensorSpec(window.shape, self._tf.float32))
        outputs = graph(self._tf.constant(window))
        if isinstance(outputs, dict):
            return {name: value.numpy() for name, value in outputs.items()}
        return outputs.numpy()


class KerasStep:
    """Any Keras network (the seed's), stepped by WindowStep behind NumpyStep's interface."""

    def __init__(self, model: Any):
        self.inner = WindowStep(model)

    def start(self, window: np.ndarray, next_columns: np.ndarray) -> tuple[Any, np.ndarray]:
        return self.inner.start(window)

    def decide(self, steps: tuple[Any, np.ndarray], rule: Rule, most: Most = None,
               reach: Reach | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All pitches at once (the seed's network has independent outputs), so ``reach`` has nothing to place."""
        probs = steps[1]
        return keep_most_probable(rule(probs), probs, most), probs

    def advance(self, steps: tuple[Any, np.ndarray], columns: np.ndarray) -> tuple[Any, np.ndarray]:
        return self.inner.advance(steps[0], columns)
