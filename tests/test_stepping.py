"""stepping: the numpy network gives Keras's probabilities, and a NADE column is decided pitch by pitch."""

from __future__ import annotations

import numpy as np
import pytest

from pianoroll import model, stepping
from pianoroll.roll import PITCHES, WINDOW, beat_features, key_memory, key_shares, pitch_class_counts


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


def test_the_seed_network_steps_through_keras():
    seed_net = network("seed")
    step = stepping.KerasStep(seed_net)
    window = columns(np.random.default_rng(0), WINDOW)[None]
    state = step.start(window, np.array([WINDOW]))
    on, probs = step.decide(state, lambda p: p >= 0.5)
    assert np.allclose(probs, seed_net.predict(window, verbose=0), atol=1e-6) and np.array_equal(on, probs >= 0.5)
    moved = np.concatenate([window[:, 1:], on[:, None].astype(np.float32)], axis=1)
    _, probs = step.advance(state, on.astype(np.float32))
    assert np.allclose(probs, seed_net.predict(moved, verbose=0), atol=1e-6)


def test_a_window_step_is_traced_once_per_shape_and_gives_predicts_probabilities():
    seed_net = network("seed")
    step = stepping.WindowStep(seed_net)
    rng = np.random.default_rng(2)
    for count in (1, 3, 1):
        window = np.stack([columns(rng, WINDOW) for _ in range(count)])
        assert np.array_equal(step.probabilities(window), seed_net.predict(window, verbose=0))
    assert sorted(step.traced) == [(1, WINDOW, PITCHES), (3, WINDOW, PITCHES)]


def tiny(preset: str, **changes) -> model.ModelConfig:
    import dataclasses

    return dataclasses.replace(model.PRESETS[preset], conv_filters=4, conv_kernel=5, lstm_units=24, nade_units=20,
                               **changes)


def window_key(window: np.ndarray) -> np.ndarray:
    """The key a composition primed with these windows starts from: the pitch-class shares of the window."""
    return key_shares(pitch_class_counts(window).sum(axis=1))


def keras_inputs(config: model.ModelConfig, window: np.ndarray, next_columns: np.ndarray, column: np.ndarray) -> dict:
    given = {"window": window, "beat": beat_features(next_columns, 0.25), "key": window_key(window), "column": column}
    return {name: given[name] for name in config.inputs()}


@pytest.mark.parametrize("preset, changes", [("convlstm", {}), ("convlstm", {"beat": False, "conv_layers": 2}),
                                             ("convlstm", {"key": not model.PRESETS["convlstm"].key}),
                                             ("independent", {})])
def test_the_numpy_network_gives_keras_probabilities(preset, changes):
    import keras

    keras.utils.set_random_seed(2)
    config = tiny(preset, **changes)
    net = model.build(config)
    rng = np.random.default_rng(0)
    window = np.stack([columns(rng, 6) for _ in range(WINDOW)], axis=1)
    next_columns, column = rng.integers(0, 64, 6), columns(rng, 6)
    expected = np.asarray(net(keras_inputs(config, window, next_columns, column), training=False))
    ours = stepping.ColumnNetwork(model.export_weights(net), 0.25, config.inputs()).probabilities(
        window, next_columns, window_key(window), column)
    assert np.max(np.abs(ours - expected)) <= stepping.AGREEMENT


def test_nade_decides_each_pitch_given_the_ones_below_as_a_pitch_by_pitch_loop_would():
    import keras

    keras.utils.set_random_seed(3)
    config = tiny("convlstm", key=True)
    network = stepping.ColumnNetwork(model.export_weights(model.build(config)), 0.25, config.inputs())
    rng = np.random.default_rng(1)
    window = np.stack([columns(rng, 5) for _ in range(WINDOW)], axis=1)
    next_columns = np.arange(5)
    draws = rng.random((5, PITCHES)) * 0.2  # low draws: several notes a column
    step = stepping.NumpyStep(network)
    decided, probs = step.decide(step.start(window, next_columns), lambda p: draws < p)
    slow = np.zeros((5, PITCHES), np.float32)
    for pitch in range(PITCHES):  # one pitch at a time, each given the decisions below it
        p = network.probabilities(window, next_columns, window_key(window), slow)[:, pitch]
        slow[:, pitch] = draws[:, pitch] < p
        assert np.allclose(probs[:, pitch], p, atol=1e-6)
    assert np.array_equal(decided, slow > 0.5) and 5 < decided.sum() < 5 * PITCHES


def test_the_key_counts_every_column_since_the_primer_as_key_memory_does():
    import keras

    keras.utils.set_random_seed(4)
    config = tiny("convlstm", key=True)
    net = model.build(config)
    step = stepping.NumpyStep(stepping.ColumnNetwork(model.export_weights(net), 0.25, config.inputs()))
    rng = np.random.default_rng(2)
    piece = np.stack([columns(rng, 2) for _ in range(WINDOW + 12)], axis=1)  # (2 pieces, columns, PITCHES)
    state = step.start(piece[:, :WINDOW], np.array([WINDOW, WINDOW]))
    for t in range(WINDOW, piece.shape[1]):
        state = step.advance(state, piece[:, t])
    _, probs = step.decide(state, lambda p: p > 2)  # nothing turned on: each pitch given an empty column below
    opened = [np.vstack([np.tile(frames[:WINDOW], (stepping.PRIMER_KEY_WEIGHT, 1)), frames[WINDOW:], np.zeros((1, PITCHES))])
              for frames in piece]  # the primer counted PRIMER_KEY_WEIGHT times over
    key = np.stack([key_memory(frames)[-1] for frames in opened])
    assert np.allclose(key.sum(axis=1), 1) and key.std() > 0
    given = {"window": piece[:, -WINDOW:], "beat": beat_features(np.full(2, piece.shape[1]), 0.25), "key": key,
             "column": np.zeros((2, PITCHES), np.float32)}
    assert np.max(np.abs(probs - np.asarray(net(given, training=False)))) <= stepping.AGREEMENT


def test_a_composed_pieces_key_counts_its_primer_many_times_over():
    config = tiny("convlstm", key=True)
    step = stepping.NumpyStep(stepping.ColumnNetwork(model.export_weights(model.build(config)), 0.25, config.inputs()))
    c4, e4, g4, c5 = (pitch - 21 for pitch in (60, 64, 67, 72))
    window = np.zeros((1, WINDOW, PITCHES), np.float32)
    window[0, -1, [c4, e4]] = 1  # the primer: C and E
    state = step.start(window, np.array([WINDOW]))
    assert key_shares(state.pitch_classes)[0][[0, 4]].tolist() == [0.5, 0.5], "a primer alone gives its own shares"
    for pitches in ([g4, c5], [c4]):
        column = np.zeros((1, PITCHES), np.float32)
        column[0, pitches] = 1
        state = step.advance(state, column)
    weight = stepping.PRIMER_KEY_WEIGHT
    assert np.allclose(key_shares(state.pitch_classes)[0][[0, 4, 7]], np.array([weight + 2, weight, 1]) / (2 * weight + 3))


def test_a_cap_keeps_the_most_probable_notes_of_each_column():
    probs = np.tile(np.linspace(0.1, 0.9, PITCHES, dtype=np.float32), (3, 1))
    on = np.ones((3, PITCHES), bool)
    on[:, -1] = False  # the likeliest pitch is not on: the cap keeps the likeliest of those that are
    kept = stepping.keep_most_probable(on, probs, np.array([1, 2, PITCHES]))
    assert [np.flatnonzero(row).tolist() for row in kept[:2]] == [[PITCHES - 2], [PITCHES - 3, PITCHES - 2]]
    assert np.array_equal(kept[2], on[2])
    assert np.array_equal(stepping.keep_most_probable(on, probs, 2), stepping.keep_most_probable(on, probs, np.full(3, 2)))
    assert stepping.keep_most_probable(on, probs, None) is on


def reach_case(draw: float, held: int | None = None, above: bool = True) -> int:
    """Where a start found at pitch 40 lands: 40 (p 0.4), 41 (not on), 42 (p 0.9), 43 (p 0.5) within reach of 3."""
    p = np.zeros((1, PITCHES))
    p[0, 40:44] = [0.4, 0.1, 0.9, 0.5]
    on = p >= 0.35
    sounding = np.zeros((1, PITCHES), bool)
    if held is not None:
        sounding[0, held] = True
    reach = stepping.Reach(3, sounding, np.full((1, PITCHES), draw))
    return int(reach.place(np.array([40]), p, on, np.array([above]))[0])


def test_a_start_lands_where_the_nade_gives_the_next_note_its_odds():
    odds = np.array([0.4, 0.0, 0.9 * 0.6 * 0.9, 0.5 * 0.6 * 0.9 * 0.1])  # p_k · ∏(1 − p_j) below it, from 40 up
    bounds = np.cumsum(odds) / odds.sum()  # 0.438, 0.438, 0.970, 1
    assert [reach_case(u) for u in (0.0, 0.43, 0.44, 0.96, 0.98, 0.999)] == [40, 40, 42, 42, 43, 43]
    assert bounds[0] < 0.44 < bounds[2] < 0.98
    draws = np.random.default_rng(0).random(4000)
    landed = np.bincount([reach_case(u) - 40 for u in draws], minlength=4) / len(draws)
    assert np.allclose(landed, odds / odds.sum(), atol=0.03)


def test_a_start_never_moves_past_a_held_note_nor_moves_a_columns_lowest_or_a_held_note():
    assert reach_case(0.99, held=42) == 40  # 42 goes on: a start above 40 would pass it
    assert [reach_case(u, held=43) for u in (0.3, 0.99)] == [40, 42]  # 43 goes on: 40 or 42 (odds 0.4, 0.49)
    assert reach_case(0.99, held=40) == 40  # the note found is a held one: it stays
    assert reach_case(0.99, above=False) == 40  # the column's lowest note stays
    nothing = stepping.Reach(3, np.zeros((2, PITCHES), bool), np.full((2, PITCHES), 0.9))
    top = np.zeros((2, PITCHES), bool)
    top[0, PITCHES - 2:] = True
    assert nothing.place(np.array([PITCHES - 2, PITCHES]), np.full((2, PITCHES), 0.5), top,
                         np.ones(2, bool)).tolist() == [PITCHES - 1, PITCHES]


def test_a_nade_column_with_reach_keeps_its_lowest_notes_at_a_zero_draw_and_climbs_at_a_high_one():
    import keras

    keras.utils.set_random_seed(5)
    config = tiny("convlstm")
    step = stepping.NumpyStep(stepping.ColumnNetwork(model.export_weights(model.build(config)), 0.25, config.inputs()))
    rng = np.random.default_rng(3)
    state = step.start(np.stack([columns(rng, 8) for _ in range(WINDOW)], axis=1), np.arange(8))
    draws = rng.random((8, PITCHES)) * 0.2  # low draws: several notes a column from an untrained network
    rule = lambda p: draws < p  # noqa: E731
    silent = np.zeros((8, PITCHES), bool)
    lowest, _ = step.decide(state, rule)
    assert lowest.sum() > 8
    assert np.array_equal(step.decide(state, rule, reach=stepping.Reach(3, silent, np.zeros((8, PITCHES))))[0], lowest)
    high, _ = step.decide(state, rule, reach=stepping.Reach(3, silent, np.full((8, PITCHES), 0.999)))
    assert np.array_equal(high.argmax(axis=1), lowest.argmax(axis=1))  # each column's lowest note stays
    assert not np.array_equal(high, lowest) and np.nonzero(high)[1].mean() > np.nonzero(lowest)[1].mean()
