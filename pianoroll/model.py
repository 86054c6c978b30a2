"""The networks, as named configurations: the seed's, and ours.

Every network reads a window of WINDOW columns shaped (batch, WINDOW, PITCHES)
and predicts the next column as PITCHES independent probabilities (sigmoid).
The seed network keeps the seed's own (batch, 1, WINDOW, PITCHES) input by
reshaping first, which adds no parameters.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pianoroll.roll import PITCHES, WINDOW

if TYPE_CHECKING:  # Keras is imported where a network is built, so that importing this module stays cheap
    import keras

NOTES_PER_COLUMN = 4  # a chorale column holds about four sounding pitches: where the outputs start


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that decides a network and how it is trained, in one place."""

    arch: str = "convlstm"
    loss: str = "mse"
    conv_filters: int = 16
    conv_kernel: int = 12  # an octave along the pitch axis: sees every interval and chord within it
    conv_layers: int = 1
    projection: int = 128  # each column's pitch features squeezed to this many before the LSTM
    lstm_units: int = 128
    dropout: float = 0.2
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 4  # at most: `make train` on the built-in chorales stays within about six minutes on 2 cores
    patience: int = 2  # epochs without a better held-out loss before training stops


PRESETS = {
    "seed": ModelConfig(arch="seed", loss="mse", batch_size=32, dropout=0.0),
    "convlstm": ModelConfig(learning_rate=3e-3, batch_size=128),  # measured: reports/experiments.md
}


def seed_network() -> "keras.Model":
    """Seed 003's network, line for line: TimeDistributed Conv1D + LSTM, 251,370 parameters.

    Its Conv1D layers have kernel 1 and run along the 9 columns, treating the
    106 pitches as channels, and its LSTM runs over a time axis of length 1:
    the recurrence never sees more than one step, which is part of why the
    seed learned little.
    """
    import keras
    from keras.layers import (LSTM, BatchNormalization, Conv1D, Dense, Flatten, MaxPooling1D,
                              Reshape, TimeDistributed)

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


def convlstm_network(config: ModelConfig) -> "keras.Model":
    """Ours: a Conv1D along the pitch axis of each column, then an LSTM over the 9 columns.

    The convolution is shared by every column and every transposition, so a
    major third is the same feature wherever it is played. A Dense layer per
    column then squeezes the (pitch × filter) features to ``projection``
    numbers, which keeps the LSTM's input small enough to train in minutes
    on two CPU cores; the LSTM reads how those features move over time.
    The outputs start at the odds of a typical column rather than at 0.5,
    which spares the first epochs of unlearning 100 notes per column (with
    MSE a sigmoid near 0.5 learns "silence" slowly).
    """
    import math

    import keras
    from keras.layers import LSTM, Conv1D, Dense, Dropout, Flatten, Reshape, TimeDistributed

    convolutions = [TimeDistributed(Conv1D(config.conv_filters, config.conv_kernel, padding="same",
                                           activation="relu")) for _ in range(config.conv_layers)]
    return keras.Sequential([
        keras.Input((WINDOW, PITCHES)),
        Reshape((WINDOW, PITCHES, 1)),  # each column becomes a 1-channel signal along pitch
        *convolutions,
        TimeDistributed(Flatten()),
        TimeDistributed(Dense(config.projection, activation="relu")),
        Dropout(config.dropout),
        LSTM(config.lstm_units),
        Dropout(config.dropout),
        Dense(PITCHES, activation="sigmoid", bias_initializer=keras.initializers.Constant(
            math.log(NOTES_PER_COLUMN / (PITCHES - NOTES_PER_COLUMN)))),
    ], name="convlstm")


def build(config: ModelConfig) -> "keras.Model":
    """The network of a configuration, compiled with its loss (MSE as in the seed, or BCE)."""
    import keras

    network = seed_network() if config.arch == "seed" else convlstm_network(config)
    loss = {"mse": "mean_squared_error", "bce": "binary_crossentropy"}[config.loss]
    network.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)
    return network
