"""The networks, as named configurations: the seed's, the independent ConvLSTM, and the default.

Every network reads a window of WINDOW columns shaped (batch, WINDOW, PITCHES)
and gives the next column as PITCHES sigmoid probabilities. They differ in
what a probability is conditioned on:

- ``seed`` and ``independent``: the window only, so the PITCHES outputs are
  independent guesses. Such a network cannot say "C–E–G or D–F–A but not a
  mix": deciding every likely note at once turns on pieces of every chord.
- ``convlstm`` (the default): the same encoder, and a NADE head (Larochelle
  and Murray 2011, as in Boulanger-Lewandowski's RNN-NADE) in which pitch i's
  sigmoid also reads the pitches below it already decided in the same column.
  The product of those conditionals is the probability of the whole column,
  so a chord is chosen as a chord. In training the true column is fed in
  (teacher forcing) and the summed binary cross-entropy is the exact NLL.
  The network also reads where the column falls in the bar (``BEAT_LEVELS``)
  and the pitch-class shares of the piece so far (``roll.key_memory``): the
  key it set out in, which a 9-column window cannot see.

The seed network keeps the seed's own (batch, 1, WINDOW, PITCHES) input by
reshaping first, which adds no parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from pianoroll.roll import BEAT_LEVELS, PITCH_CLASSES, PITCHES, WINDOW

if TYPE_CHECKING:  # Keras is imported where a network is built, so that importing this module stays cheap
    import keras

NOTES_PER_COLUMN = 4  # a chorale column holds about four sounding pitches: where the outputs start
HEADS = ("independent", "nade")
INPUTS = ("window", "beat", "key", "column")  # the names of a network's inputs, in this order


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that decides a network and how it is trained, in one place."""

    arch: str = "convlstm"
    head: str = "nade"  # "independent": PITCHES separate sigmoids; "nade": each reads the pitches below it
    loss: str = "bce"
    conv_filters: int = 16
    conv_kernel: int = 12  # an octave along the pitch axis: sees every interval and chord within it
    conv_layers: int = 1
    projection: int = 128  # each column's pitch features squeezed to this many before the LSTM
    lstm_units: int = 128
    nade_units: int = 128  # the NADE's hidden layer, shared by all pitches of a column
    beat: bool = True  # read the next column's place in the bar (BEAT_LEVELS)
    key: bool = False  # read the pitch-class shares of the piece so far (roll.key_memory)
    dropout: float = 0.2
    learning_rate: float = 3e-3
    batch_size: int = 128
    epochs: int = 4  # at most: each preset keeps `make train` on the built-in chorales within about six minutes on 2 cores
    patience: int = 2  # epochs without a better held-out loss before training stops
    events: int = 0  # the seed systems that read events (tokens, notes, messages): events per window; 0 for columns
    optimizer: str = "adam"  # "rmsprop" for seed 002's tokens network
    steps_per_epoch: int = 0  # batches an epoch holds when it stops short of all windows (0: every window once)

    def inputs(self) -> tuple[str, ...]:
        """The inputs the network reads: the window, and for ours the beat, the key and the teacher-forced column."""
        if self.arch == "seed":
            return ("window",)
        return tuple(name for name, used in zip(INPUTS, (True, self.beat, self.key, self.head == "nade")) if used)


PRESETS = {
    "seed": ModelConfig(arch="seed", head="independent", loss="mse", batch_size=32, dropout=0.0,
                        learning_rate=1e-3, beat=False),
    "independent": ModelConfig(arch="independent", head="independent", loss="mse", beat=False),  # before the NADE head
    "convlstm": ModelConfig(epochs=8, key=True),  # measured: reports/experiments.md; 8 epochs take about 5 minutes
    # the seed systems that read events (``event_networks``, docs/seeds.md): each seed's sizes, loss and optimiser
    "tokens": ModelConfig(arch="tokens", head="independent", loss="cce", lstm_units=512, dropout=0.3, beat=False,
                          optimizer="rmsprop", learning_rate=1e-3, batch_size=128, events=100, epochs=2,
                          steps_per_epoch=40),
    "notes": ModelConfig(arch="notes", head="independent", loss="cce+mse", dropout=0.0, beat=False,
                         learning_rate=5e-3, batch_size=64, events=25, epochs=15),
    "messages": ModelConfig(arch="messages", head="independent", loss="cce", dropout=0.2, beat=False,
                            learning_rate=1e-3, batch_size=30, events=30, epochs=3),
}
OPTIMIZERS = ("adam", "rmsprop")


def seed_network() -> "keras.Model":
    """Seed 003's network, line for line: TimeDistributed Conv1D + LSTM, 251,370 parameters.

    Its Conv1D layers have kernel 1 and run along the 9 columns, treating the
    106 pitches as channels, and its LSTM runs over a time axis of length 1:
    the recurrence never sees more than one step, which is part of why the
    seed learned little.
    """
    import keras
    from keras.layers import LSTM, BatchNormalization, Conv1D, Dense, Flatten, MaxPooling1D, Reshape, TimeDistributed

    return keras.Sequential([
        keras.Input((WINDOW, PITCHES)),
        Reshape((1, WINDOW, PITCHES)),  # the seed's input shape, (batch, 1, 9, 106)
        TimeDistributed(Conv1D(filters=128, kernel_size=1, activation="relu")),
        TimeDistributed(MaxPooling1D(pool_size=2, strides=None)),
        TimeDistributed(Conv1D(filters=128, kernel_size=1, activation="relu")),
        TimeDistributed(MaxPooling1D(pool_size=2, strides=None)),
        TimeDistributed(Conv1D(filters=128, kernel_size=1, activation="relu")),
        TimeDistributed(MaxPooling1D(pool_size=2, strides=None)),
        TimeDistributed(Conv1D(filters=128, kernel_size=1, activation="relu")),
        TimeDistributed(Flatten()),
        LSTM(128, return_sequences=True),
        LSTM(64),
        BatchNormalization(),
        Dense(PITCHES, activation="sigmoid"),
    ], name="seed")


def prior_logit() -> float:
    """The logit of a typical column's odds: where output biases start, sparing epochs of unlearning 0.5."""
    return math.log(NOTES_PER_COLUMN / (PITCHES - NOTES_PER_COLUMN))


def convlstm_network(config: ModelConfig) -> "keras.Model":
    """Ours: a Conv1D along the pitch axis of each column, an LSTM over the 9 columns, then the head.

    The convolution is shared by every column and every transposition, so a
    major third is the same feature wherever it is played. A Dense layer per
    column then squeezes the (pitch × filter) features to ``projection``
    numbers, which keeps the LSTM's input small enough to train in minutes
    on two CPU cores; the LSTM reads how those features move over time. Its
    last output, with the beat and the key, is the context the head predicts from.
    Output biases start at the odds of a typical column rather than at 0.5.
    """
    import keras
    from keras import layers

    window = keras.Input((WINDOW, PITCHES), name="window")
    x = layers.Reshape((WINDOW, PITCHES, 1), name="columns")(window)  # each column a 1-channel signal along pitch
    for index in range(config.conv_layers):
        x = layers.TimeDistributed(layers.Conv1D(config.conv_filters, config.conv_kernel, padding="same",
                                                 activation="relu"), name=f"conv{index}")(x)
    x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)
    x = layers.TimeDistributed(layers.Dense(config.projection, activation="relu"), name="projection")(x)
    x = layers.Dropout(config.dropout)(x)
    context = layers.LSTM(config.lstm_units, name="lstm")(x)
    widths = {"beat": len(BEAT_LEVELS), "key": PITCH_CLASSES}
    extras = [keras.Input((widths[name],), name=name) for name in config.inputs() if name in widths]
    inputs = [window, *extras]
    if extras:
        context = layers.Concatenate(name="context")([context, *extras])
    context = layers.Dropout(config.dropout)(context)
    start = keras.initializers.Constant(prior_logit())
    if config.head == "independent":
        probs = layers.Dense(PITCHES, activation="sigmoid", bias_initializer=start, name="output")(context)
    else:
        column = keras.Input((PITCHES,), name="column")
        inputs.append(column)
        hidden_bias = layers.Dense(config.nade_units, name="nade_hidden_bias")(context)
        output_bias = layers.Dense(PITCHES, bias_initializer=start, name="nade_output_bias")(context)
        probs = nade_layer()(config.nade_units, name="nade")([hidden_bias, output_bias, column])
    return keras.Model(inputs, probs, name=config.arch)


@functools.cache
def nade_layer() -> type:
    """The NADE layer class, defined (and registered with Keras) on first use, so this module imports without Keras."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="pianoroll", name="Nade")
    class Nade(keras.layers.Layer):
        """p(pitch i on | pitches below i in this column, context), for every i at once, given the column.

        hidden_i = sigmoid(c + Σ_{j<i} v_j W_j), p_i = sigmoid(b_i + hidden_i · V_i), with the
        biases c and b computed from the context. The sum over the pitches below
        is an exclusive cumulative sum, so the whole column costs one pass.
        """

        def __init__(self, units: int, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight((PITCHES, self.units), initializer="glorot_uniform", name="w")  # pitch → hidden
            self.v = self.add_weight((PITCHES, self.units), initializer="glorot_uniform", name="v")  # hidden → pitch

        def call(self, inputs):
            hidden_bias, output_bias, column = inputs
            contributions = column[:, :, None] * self.w[None]  # (batch, PITCHES, units)
            below = ops.cumsum(contributions, axis=1) - contributions  # Σ over the pitches below each pitch
            hidden = ops.sigmoid(hidden_bias[:, None, :] + below)
            return ops.sigmoid(output_bias + ops.sum(hidden * self.v[None], axis=-1))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Nade


def build(config: ModelConfig) -> "keras.Model":
    """The network of a configuration, compiled with its loss (MSE as in the seed, or BCE)."""
    import keras

    network = seed_network() if config.arch == "seed" else convlstm_network(config)
    loss = {"mse": "mean_squared_error", "bce": "binary_crossentropy"}[config.loss]
    network.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)
    return network


def export_weights(network: "keras.Model") -> dict[str, np.ndarray]:
    """Our network's weights by role, for composing in numpy (``stepping.ColumnNetwork``) without TensorFlow."""
    layer = {item.name: item for item in network.layers}
    convs = sorted((name for name in layer if name.startswith("conv")), key=lambda name: int(name[len("conv"):]))
    weights = {}
    for index, name in enumerate(convs):
        kernel, bias = layer[name].layer.get_weights()
        weights[f"conv{index}_kernel"], weights[f"conv{index}_bias"] = kernel, bias
    weights["projection_kernel"], weights["projection_bias"] = layer["projection"].layer.get_weights()
    weights["lstm_kernel"], weights["lstm_recurrent"], weights["lstm_bias"] = layer["lstm"].get_weights()
    if "output" in layer:
        weights["output_kernel"], weights["output_bias"] = layer["output"].get_weights()
    else:
        weights["nade_w"], weights["nade_v"] = layer["nade"].get_weights()
        weights["hidden_kernel"], weights["hidden_bias"] = layer["nade_hidden_bias"].get_weights()
        weights["bias_kernel"], weights["bias_bias"] = layer["nade_output_bias"].get_weights()
    return weights
