"""model: the seed network exactly as the seed built it, and ours, as named configurations."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from pianoroll import model
from pianoroll.roll import PITCHES, WINDOW, beat_features


def test_seed_network_has_the_seeds_251370_parameters():
    network = model.seed_network()
    assert network.count_params() == 251_370
    trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
    assert trainable == 251_242  # the seed's summary: 128 non-trainable (BatchNormalization's moving statistics)


def test_seed_network_mirrors_the_seeds_layers():
    layers = [layer for layer in model.seed_network().layers if isinstance(layer, keras.layers.TimeDistributed)]
    convs = [layer.layer for layer in layers if isinstance(layer.layer, keras.layers.Conv1D)]
    assert [(conv.filters, conv.kernel_size) for conv in convs] == [(128, (1,))] * 4
    lstms = [layer for layer in model.seed_network().layers if isinstance(layer, keras.layers.LSTM)]
    assert [(lstm.units, lstm.return_sequences) for lstm in lstms] == [(128, True), (64, False)]


@pytest.mark.parametrize("arch, inputs", [("seed", ("window",)), ("independent", ("window",)),
                                          ("convlstm", ("window", "beat", "column"))])
def test_every_network_maps_its_inputs_to_probabilities_of_the_next_column(arch, inputs):
    config = model.PRESETS[arch]
    assert config.inputs() == inputs
    network = model.build(config)
    rng = np.random.default_rng(0)
    given = {"window": (rng.random((3, WINDOW, PITCHES)) > 0.9).astype(np.float32),
             "beat": beat_features(np.arange(3), 0.25), "column": (rng.random((3, PITCHES)) > 0.9).astype(np.float32)}
    probs = network.predict(given["window"] if inputs == ("window",) else given, verbose=0)
    assert probs.shape == (3, PITCHES) and np.all((probs > 0) & (probs < 1))
    expected = {"mse": "mean_squared_error", "bce": "binary_crossentropy"}[config.loss]
    assert network.loss == expected


def test_the_nade_head_conditions_each_pitch_on_the_pitches_below_only():
    network = model.build(dataclasses.replace(model.PRESETS["convlstm"], nade_units=8, lstm_units=8))
    rng = np.random.default_rng(1)
    window = (rng.random((1, WINDOW, PITCHES)) > 0.9).astype(np.float32)
    beat = beat_features(np.array([4]), 0.25)
    column = np.zeros((1, PITCHES), np.float32)
    changed = column.copy()
    changed[0, 50] = 1  # a note at pitch row 50 may change the probabilities above it, never those at or below
    before = network.predict({"window": window, "beat": beat, "column": column}, verbose=0)
    after = network.predict({"window": window, "beat": beat, "column": changed}, verbose=0)
    assert np.array_equal(before[0, :51], after[0, :51]) and not np.allclose(before[0, 51:], after[0, 51:])


def test_beat_features_mark_eighths_beats_half_bars_and_bars():
    assert beat_features(np.array([0, 1, 2, 4, 8, 16]), 0.25).tolist() == [
        [1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert beat_features(np.array([1, 2, 3, 4]), 1.0)[:, 2:].tolist() == [[0, 0], [1, 0], [0, 0], [1, 1]]
