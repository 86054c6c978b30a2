"""stepping: the column-cached stepper gives the whole network's probabilities, step after step."""

from __future__ import annotations

import numpy as np
import pytest

from pianoroll import model, stepping
from pianoroll.roll import PITCHES, WINDOW

STEPS = 10


def network(preset: str, **changes):
    import keras

    keras.utils.set_random_seed(1)
    config = model.PRESETS[preset]
    if changes:
        import dataclasses

        config = dataclasses.replace(config, **changes)
    return model.build(config)


def columns(rng: np.random.Generator, count: int) -> np.ndarray:
    return (rng.random((count, PITCHES)) < 0.08).astype(np.float32)


@pytest.mark.parametrize("count", [1, 3])
def test_column_step_follows_the_whole_network(count):
    net = network("convlstm", conv_filters=4, conv_kernel=5, lstm_units=24)
    step = stepping.stepper(net)
    assert isinstance(step, stepping.ColumnStep)
    rng = np.random.default_rng(count)
    window = np.stack([columns(rng, count) for _ in range(WINDOW)], axis=1)
    state, probs = step.start(window)
    assert state[0] == "columns", "the cached path must agree with the network on the primer"
    for _ in range(STEPS):
        expected = np.asarray(net(window, training=False))  # Keras's own path, eagerly
        assert np.max(np.abs(probs - expected)) <= 1e-6
        new = columns(rng, count)
        window = np.concatenate([window[:, 1:], new[:, None]], axis=1)
        state, probs = step.advance(state, new)


def test_other_shapes_of_network_step_the_whole_window():
    seed_net = network("seed")
    assert stepping.column_lstm_parts(seed_net) is None, "the seed's LSTM runs over a time axis of one"
    step = stepping.stepper(seed_net)
    assert isinstance(step, stepping.WindowStep)
    window = columns(np.random.default_rng(0), WINDOW)[None]
    _, probs = step.start(window)
    assert np.allclose(probs, seed_net.predict(window, verbose=0), atol=1e-6)
