"""The seed systems that read events, as Keras networks: tokens (seed 002), notes (seed 004), messages (seeds 000/001).

Each mirrors its seed's listing: the same layers, sizes, loss and optimiser
(``model.PRESETS`` holds the settings). Where a seed was a PyTorch listing,
its Keras twin has the same layers; a Keras LSTM keeps one bias vector where
PyTorch keeps two, so it has 4 × units fewer parameters. Differences that
change what is learned are in docs/seeds.md.

The networks are stepped with TensorFlow (``stepping.WindowStep``): each step reads the
whole window of the last events, as the seeds did, and ``generate`` turns the
outputs into the next event by the seed's rule or by sampling.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pianoroll import sequences
from pianoroll.model import ModelConfig
from pianoroll.roll import Note
from pianoroll.sequences import EventEncoding

if TYPE_CHECKING:
    import keras

ARCHS = sequences.KINDS  # an event network's arch names its encoding
TOKENS_DENSE = 256  # seed 002: Dense(256) between the last LSTM and the output
NOTES_LOSS_WEIGHTS = {"pitch": 0.1, "step": 20.0, "duration": 1.0}  # seed 004's loss_weight
POSITIVE_PRESSURE = 10.0  # seed 004's mse_with_positive_pressure: 10 × max(-prediction, 0)
SEED_TOKEN_BEATS = 1.0  # seed 002 writes each token 1 quarter note after the last (offset += 1), a quarter long
RULES = ("sample", "seed")
EVENTS_PER_BEAT_CAP = 16  # composing stops a piece that has not reached its length after this many events per beat


def tokens_network(window: int, vocabulary: int, units: int = 512, dropout: float = 0.3) -> "keras.Model":
    """Seed 002's network, line for line: three LSTMs of 512, Dense 256, Dense over the vocabulary, softmax."""
    import keras
    from keras.layers import LSTM, Activation, Dense, Dropout

    return keras.Sequential([
        keras.Input((window, 1)),  # the token's index / vocabulary size, one number per event
        LSTM(units, return_sequences=True),
        Dropout(dropout),
        LSTM(units, return_sequences=True),
        Dropout(dropout),
        LSTM(units),
        Dense(TOKENS_DENSE),
        Dropout(dropout),
        Dense(vocabulary),
        Activation("softmax"),
    ], name="tokens")


def notes_network(window: int, units: int = 128) -> "keras.Model":
    """Seed 004's network: an LSTM of 128 over (pitch / 128, step, duration), then three heads.

    The pitch head gives 128 logits for a softmax (the tutorial seed 004
    follows; the seed itself put a sigmoid before its cross-entropy), step
    and duration one number each.
    """
    import keras
    from keras import layers

    window_input = keras.Input((window, 3), name="window")
    context = layers.LSTM(units, name="lstm")(window_input)
    heads = {"pitch": layers.Dense(sequences.MIDI_PITCHES, name="pitch")(context),
             "step": layers.Dense(1, name="step")(context), "duration": layers.Dense(1, name="duration")(context)}
    return keras.Model(window_input, heads, name="notes")


def messages_network(window: int, units: int = 128, dropout: float = 0.2) -> "keras.Model":
    """Seed 000's network: an LSTM of 128 over the 229-wide slot vectors, dropout, one Dense of 229 split in three softmaxes.

    The Dense of 229 is written as three Dense heads of 89, 128 and 12: the
    same weights, cut where the seed cut its output.
    """
    import keras
    from keras import layers

    width = sequences.NOTE_CLASSES + sequences.VELOCITIES + sequences.TIME_CLASSES
    window_input = keras.Input((window, width), name="window")
    context = layers.Dropout(dropout)(layers.LSTM(units, name="lstm")(window_input))
    sizes = {"note": sequences.NOTE_CLASSES, "velocity": sequences.VELOCITIES, "time": sequences.TIME_CLASSES}
    heads = {name: layers.Dense(size, activation="softmax", name=name)(context) for name, size in sizes.items()}
    return keras.Model(window_input, heads, name="messages")


@functools.cache
def positive_pressure_loss() -> Any:
    """Seed 004's ``mse_with_positive_pressure``, registered with Keras so that a saved model names it."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="pianoroll", name="mse_with_positive_pressure")
    def mse_with_positive_pressure(y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        return ops.mean((y_true - y_pred) ** 2 + POSITIVE_PRESSURE * ops.maximum(-y_pred, 0.0), axis=-1)

    return mse_with_positive_pressure


def build(config: ModelConfig, encoding: EventEncoding) -> "keras.Model":
    """The event network of a preset, compiled with its seed's loss and optimiser."""
    import keras

    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[config.optimizer]
    if config.arch == "tokens":
        network = tokens_network(encoding.window, len(encoding.vocabulary), config.lstm_units, config.dropout)
        network.compile(optimizer=optimizer(config.learning_rate), loss="sparse_categorical_crossentropy")
        return network
    if config.arch == "notes":
        network = notes_network(encoding.window, config.lstm_units)
        pressure = positive_pressure_loss()
        network.compile(optimizer=optimizer(config.learning_rate), loss_weights=NOTES_LOSS_WEIGHTS,
                        loss={"pitch": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              "step": pressure, "duration": pressure})
        return network
    network = messages_network(encoding.window, config.lstm_units, config.dropout)
    network.compile(optimizer=optimizer(config.learning_rate),
                    loss={name: "sparse_categorical_crossentropy" for name in ("note", "velocity", "time")})
    return network


# --- held-out figures ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Figures:
    """A network's held-out figures per event: its own loss as trained, and the NLL of its categorical heads."""

    loss: float  # the training loss (notes: 0.1 × pitch NLL + 20 × step + 1 × duration, each with positive pressure)
    nll: float  # nats per event: the token; the pitch (notes); note + velocity + time (messages)
    events: int  # held-out events predicted


def figures(network: "keras.Model", data: Any, stream: sequences.EventStream, kind: str) -> Figures:
    """The held-out figures from the network's predictions on every window of the held-out stream."""
    outputs = network.predict(data, verbose=0)
    targets = {head: values[stream.starts + stream.window] for head, values in stream.targets.items()}
    if kind == "tokens":
        nll = _nll(outputs, targets["token"])
        return Figures(nll, nll, len(stream.starts))
    if kind == "messages":
        nll = sum(_nll(outputs[head], targets[head]) for head in ("note", "velocity", "time"))
        return Figures(nll, nll, len(stream.starts))
    nll = _nll(softmax(outputs["pitch"]), targets["pitch"])
    pressure = {head: _pressured_mse(outputs[head][:, 0], targets[head]) for head in ("step", "duration")}
    loss = NOTES_LOSS_WEIGHTS["pitch"] * nll + sum(NOTES_LOSS_WEIGHTS[h] * v for h, v in pressure.items())
    return Figures(loss, nll, len(stream.starts))


def _nll(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean -log p(target) in nats, with p kept above float32's smallest step from 0."""
    if len(targets) == 0:
        return float("nan")
    chosen = np.asarray(probs, np.float64)[np.arange(len(targets)), np.asarray(targets, np.int64)]
    return float(-np.log(np.maximum(chosen, 1e-7)).mean())


def _pressured_mse(predicted: np.ndarray, target: np.ndarray) -> float:
    predicted = np.asarray(predicted, np.float64)
    return float(np.mean((np.asarray(target, np.float64) - predicted) ** 2 + POSITIVE_PRESSURE * np.maximum(-predicted, 0)))


# --- composing -------------------------------------------------------------------------------------


def tempered_choice(probs: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One class per row drawn from p^(1/T), renormalised; T=1 draws from the network as it is."""
    logs = np.log(np.maximum(np.asarray(probs, np.float64), 1e-12)) / temperature
    weights = np.exp(logs - logs.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((len(cumulative), 1))
    return np.minimum((cumulative < draws).sum(axis=1), cumulative.shape[1] - 1)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(np.asarray(logits, np.float64) - np.max(logits, axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _pick(probs: np.ndarray, rule: str, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """The seed's argmax, or a tempered draw."""
    return np.argmax(probs, axis=1) if rule == "seed" else tempered_choice(probs, temperature, rng)


def next_events(outputs: Any, encoding: EventEncoding, rule: str, temperature: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    """The next event of every piece: its window features (count, features), its beats forward, and the event itself.

    tokens: ``seed`` takes the most probable token, 1 beat after the last and
    1 beat long (seed 002); ``sample`` draws it at the temperature with a
    (step, length) drawn from that token's record in the training music.
    notes: ``seed`` takes the most probable pitch (seed 004's WeightedRandom
    is an argmax), ``sample`` draws it; step and duration come from the
    heads, below 0 taken as 0. messages: the seed draws all three heads
    (``torch.multinomial``), so ``seed`` is a draw at temperature 1.
    """
    if encoding.kind == "tokens":
        chosen = _pick(outputs, rule, temperature, rng)
        timings = [_timing(encoding.timings[index], rule, rng) for index in chosen]
        events = [sequences.TokenEvent(encoding.vocabulary[index], step, length)
                  for index, (step, length) in zip(chosen, timings)]
        return (chosen / len(encoding.vocabulary))[:, None], np.array([e.step for e in events]), events
    if encoding.kind == "notes":
        pitch = _pick(softmax(outputs["pitch"]), rule, temperature, rng)
        step, duration = (np.maximum(outputs[head][:, 0].astype(np.float64), 0.0) for head in ("step", "duration"))
        events = np.stack([pitch, step, duration], axis=1)
        return events / np.array([sequences.MIDI_PITCHES, 1, 1]), step, list(events)
    heat = 1.0 if rule == "seed" else temperature
    indices = np.stack([tempered_choice(outputs[head], heat, rng) for head in ("note", "velocity", "time")], axis=1)
    time = encoding.time_classes.times(indices[:, 2])
    messages = np.stack([indices[:, 0] + sequences.LOWEST_NOTE, indices[:, 1], time], axis=1)
    return sequences.one_hot_messages(indices), time, list(messages)


def _timing(record: tuple[sequences.Timing, ...], rule: str, rng: np.random.Generator) -> tuple[float, float]:
    if rule == "seed" or not record:
        return SEED_TOKEN_BEATS, SEED_TOKEN_BEATS
    counts = np.array([timing.count for timing in record], np.float64)
    chosen = record[int(rng.choice(len(record), p=counts / counts.sum()))]
    return chosen.step, chosen.length


def generate(step: Callable[[np.ndarray], Any], encoding: EventEncoding, primers: np.ndarray, beats: float, rule: str = "sample",
             temperature: float = 1.0, seed: int = 0) -> list[list[Note]]:
    """The notes of each piece composed after its primer window (count, window, features), ``beats`` long.

    Every piece is stepped until its events reach ``beats`` past the primer
    (or EVENTS_PER_BEAT_CAP events per beat, for a network that stops time);
    the primer is not part of the result.
    """
    if rule not in RULES:
        raise sequences.SequenceError(f"--mode {rule}: an event network composes with {' or '.join(RULES)}")
    rng = np.random.default_rng([seed, 2])
    window = np.array(primers, np.float32)
    count = len(window)
    elapsed = np.zeros(count)
    composed: list[list] = [[] for _ in range(count)]
    for _ in range(int(EVENTS_PER_BEAT_CAP * max(beats, 1.0))):
        if (elapsed >= beats).all():
            break
        features, forward, events = next_events(step(window), encoding, rule, temperature, rng)
        for piece in np.flatnonzero(elapsed < beats):
            composed[piece].append(events[piece])
        elapsed += forward
        window = np.concatenate([window[:, 1:], features[:, None].astype(np.float32)], axis=1)
    return [decode(encoding.kind, events) for events in composed]


def decode(kind: str, events: list) -> list[Note]:
    """Composed events back into notes, from beat 0."""
    if kind == "tokens":
        return sequences.from_tokens(events)
    if kind == "notes":
        return sequences.from_note_events(np.array(events).reshape(-1, 3))
    return sequences.from_messages(np.array(events).reshape(-1, 3))
