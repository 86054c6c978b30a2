"""model: the seed network exactly as the seed built it, and ours, as named configurations."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from pianoroll import model
from pianoroll.roll import PITCHES, WINDOW


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


@pytest.mark.parametrize("arch", sorted(model.PRESETS))
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_every_network_maps_a_window_to_probabilities_of_the_next_column(arch, loss):
    config = dataclasses.replace(model.PRESETS[arch], loss=loss)
    network = model.build(config)
    windows = (np.random.default_rng(0).random((3, WINDOW, PITCHES)) > 0.9).astype(np.float32)
    probs = network.predict(windows, verbose=0)
    assert probs.shape == (3, PITCHES) and np.all((probs >= 0) & (probs <= 1))
    expected = {"mse": "mean_squared_error", "bce": "binary_crossentropy"}[loss]
    assert network.loss == expected
