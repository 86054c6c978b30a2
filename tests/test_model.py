"""model: the seed network exactly as the seed built it, and ours, as named configurations."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from pianoroll import model
from pianoroll.roll import PITCHES, WINDOW, beat_features, key_memory


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


HELD_CHORDS, FIT_STEPS = 16, 40  # about 4 s of CPU per network


@pytest.mark.parametrize("arch, inputs", [("seed", ("window",)), ("independent", ("window",)),
                                          ("convlstm", ("window", "beat", "key", "column"))])
def test_every_network_learns_that_a_held_chord_goes_on(arch, inputs):
    """Each network, fitted a few steps on windows of one held chord each, gives the chord's pitches the
    higher probability: its inputs reach its output and its loss trains it. The seed's starts from 0.5
    and learns slowly (batch normalisation, MSE, a rate of 1e-3); ours start from a typical column's odds."""
    keras.utils.set_random_seed(0)
    config = model.PRESETS[arch]
    assert config.inputs() == inputs
    network = model.build(config)
    assert network.loss == {"mse": "mean_squared_error", "bce": "binary_crossentropy"}[config.loss]
    rng = np.random.default_rng(0)
    target = np.zeros((HELD_CHORDS, PITCHES), np.float32)
    for row in target:
        row[rng.choice(np.arange(30, 60), 4, replace=False)] = 1  # four pitches around middle C
    given = {"window": np.repeat(target[:, None], WINDOW, axis=1), "beat": beat_features(np.arange(HELD_CHORDS), 0.25),
             "key": key_memory(target)[-1:].repeat(HELD_CHORDS, axis=0), "column": target}
    x = given["window"] if inputs == ("window",) else {name: given[name] for name in inputs}
    before = network.evaluate(x, target, verbose=0)
    for _ in range(FIT_STEPS):
        network.train_on_batch(x, target)
    probs = network.predict(x, verbose=0)
    held, others = probs[target == 1].mean(), probs[target == 0].mean()
    assert network.evaluate(x, target, verbose=0) < before and held > others
    if arch != "seed":
        assert held > 0.5 > 10 * others


def test_the_nade_head_conditions_each_pitch_on_the_pitches_below_only():
    network = model.build(dataclasses.replace(model.PRESETS["convlstm"], nade_units=8, lstm_units=8))
    rng = np.random.default_rng(1)
    window = (rng.random((1, WINDOW, PITCHES)) > 0.9).astype(np.float32)
    given = {"beat": beat_features(np.array([4]), 0.25), "key": key_memory(window[0])[-1:]}
    column = np.zeros((1, PITCHES), np.float32)
    changed = column.copy()
    changed[0, 50] = 1  # a note at pitch row 50 may change the probabilities above it, never those at or below
    before = network.predict({"window": window, **given, "column": column}, verbose=0)
    after = network.predict({"window": window, **given, "column": changed}, verbose=0)
    assert np.array_equal(before[0, :51], after[0, :51]) and not np.allclose(before[0, 51:], after[0, 51:])


def test_beat_features_mark_eighths_beats_half_bars_and_bars():
    assert beat_features(np.array([0, 1, 2, 4, 8, 16]), 0.25).tolist() == [
        [1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert beat_features(np.array([1, 2, 3, 4]), 1.0)[:, 2:].tolist() == [[0, 0], [1, 0], [0, 0], [1, 1]]



def test_key_memory_gives_the_pitch_class_shares_of_every_column_before():
    frames = np.zeros((4, PITCHES), np.float32)
    c4, e4, g4, c5 = (pitch - 21 for pitch in (60, 64, 67, 72))
    frames[0, [c4, e4]] = 1  # C and E
    frames[1, [g4, c5]] = 1  # G and C an octave up
    frames[2, c4] = 1
    key = key_memory(frames)
    assert key[0].tolist() == [0.0] * 12  # nothing before the first column
    assert key[1][[0, 4]].tolist() == [0.5, 0.5]
    assert key[2][[0, 4, 7]].tolist() == [0.5, 0.25, 0.25]
    assert np.allclose(key[3][[0, 4, 7]], [0.6, 0.2, 0.2]) and np.isclose(key[3].sum(), 1)
