"""dataset: pages → rolls per piece → windows → the next column, split by piece, streamed with tf.data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pianoroll import dataset, pages, roll
from pianoroll.roll import PITCHES, WINDOW
from tests.tiny_pages import piece, write_folder


def batches(data) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in data])
    return np.concatenate(xs), np.concatenate(ys)


def test_split_is_by_name_alone():
    names = [f"bwv{i}" for i in range(1000)]
    train, held_out = dataset.split(names, 0.1)
    assert sorted(train + held_out) == sorted(names) and not set(train) & set(held_out)
    assert 60 < len(held_out) < 140  # about a tenth
    assert dataset.split(reversed(names), 0.1) == (train, held_out)
    _, more_held_out = dataset.split(names + [f"new{i}" for i in range(100)], 0.1)
    assert set(held_out) <= set(more_held_out)  # adding pieces never moves an old one


def test_split_holds_out_one_piece_of_a_small_folder():
    train, held_out = dataset.split(["a", "b", "c"], 0.1)
    assert len(held_out) == 1 and len(train) == 2


def test_windows_predict_the_column_right_after():
    frames = np.arange(20 * PITCHES, dtype=np.float32).reshape(20, PITCHES)
    x, y = dataset.windows(frames)
    assert x.shape == (20 - WINDOW, WINDOW, PITCHES) and y.shape == (20 - WINDOW, PITCHES)
    for i in range(len(x)):
        np.testing.assert_array_equal(x[i], frames[i : i + WINDOW])
        np.testing.assert_array_equal(y[i], frames[i + WINDOW])  # the seed skipped this column


def test_each_piece_begins_after_silence():
    r = piece(0)
    x, y = dataset.piece_windows(r)
    assert len(x) == len(r)  # one example per column of the piece
    assert not x[0].any()
    np.testing.assert_array_equal(y, roll.as_frames(r))
    np.testing.assert_array_equal(x[WINDOW], roll.as_frames(r)[:WINDOW])


def test_pages_join_back_and_windows_cross_pages_not_pieces(tmp_path):
    rolls = write_folder(tmp_path, count=3, columns=250)
    pieces = dataset.load(tmp_path)
    assert sorted(pieces) == sorted(rolls)
    for name, r in rolls.items():
        np.testing.assert_array_equal(roll.is_on(pieces[name][0]), roll.is_on(r))
    source = dataset.pieces_stream(pieces, sorted(pieces))
    x, y = batches(dataset.dataset(source, batch_size=64))
    expected = [dataset.piece_windows(pieces[name][0]) for name in sorted(pieces)]
    np.testing.assert_array_equal(x, np.concatenate([e[0] for e in expected]))
    np.testing.assert_array_equal(y, np.concatenate([e[1] for e in expected]))
    np.testing.assert_array_equal(source.targets, y)


def test_stream_keeps_bytes_of_the_rolls_not_copies_of_windows():
    rolls = [piece(i, columns=300) for i in range(4)]
    source = dataset.stream(rolls)
    assert source.frames.dtype == np.uint8
    assert source.frames.nbytes == sum(len(r) + WINDOW for r in rolls) * PITCHES
    assert source.windows == sum(len(r) for r in rolls)


def test_shuffle_is_reproducible_and_changes_every_epoch():
    source = dataset.stream([piece(i) for i in range(3)])
    first = dataset.dataset(source, 32, shuffle=True, seed=7)
    again = dataset.dataset(source, 32, shuffle=True, seed=7)
    epoch_one, epoch_two = batches(first), batches(first)
    np.testing.assert_array_equal(epoch_one[1], batches(again)[1])
    assert not np.array_equal(epoch_one[1], epoch_two[1])
    assert sorted(map(bytes, epoch_one[1].astype(np.uint8))) == sorted(map(bytes, source.targets.astype(np.uint8)))


def test_the_pipeline_is_not_autotuned_and_still_gives_every_window_and_shards_by_data():
    """Autotuning made TensorFlow wait up to a minute for each epoch's old iterator (``dataset.gathered``)."""
    import tensorflow as tf

    source = dataset.stream([piece(i) for i in range(2)])
    data = dataset.dataset(source, 16, shuffle=True, seed=1)
    assert data.options().autotune.enabled is False
    assert data.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA
    targets = batches(data)[1].astype(np.uint8)
    assert sorted(map(bytes, targets)) == sorted(map(bytes, source.targets.astype(np.uint8)))


def test_transposition_moves_window_and_target_together_within_range():
    top = roll.empty(40)
    top[:, PITCHES - 1] = roll.ON  # the highest pitch: may only go down
    rolls = [piece(i) for i in range(2)] + [top]
    source = dataset.stream(rolls)
    plain = batches(dataset.dataset(source, 50))
    moved = batches(dataset.dataset(source, 50, transpose=3, seed=1))
    shifts = set()
    for (x0, y0, x1, y1) in zip(*plain, *moved):
        block0, block1 = np.vstack([x0, y0]), np.vstack([x1, y1])
        assert block0.sum() == block1.sum()  # nothing fell off the keyboard
        if not block0.any():
            continue
        shift = int(np.flatnonzero(block1.any(0))[0] - np.flatnonzero(block0.any(0))[0])
        np.testing.assert_array_equal(np.roll(block0, shift, axis=1), block1)
        assert abs(shift) <= 3
        if block0[:, PITCHES - 1].any():
            assert shift <= 0
        shifts.add(shift)
    assert len(shifts) > 3  # the shifts really vary


def test_bad_folders_say_what_is_wrong(tmp_path):
    with pytest.raises(dataset.DatasetError, match="no such folder"):
        dataset.load(tmp_path / "missing")
    with pytest.raises(pages.PageError, match="no manifest"):
        dataset.load(tmp_path)
    write_folder(tmp_path, count=2)
    (tmp_path / "piece01_0001.png").unlink()
    with pytest.raises(pages.PageError, match="piece01_0001.png: listed in the manifest but missing"):
        dataset.load(tmp_path)
    pages.write_image(np.zeros((PITCHES, 50), np.uint8), tmp_path / "piece01_0001.png")
    with pytest.raises(pages.PageError, match="106×106"):
        dataset.load(tmp_path)


def longer_than_its_pages(entries):
    entries[1].columns = 300  # one page cannot hold 300 columns
    return entries


def at_two_resolutions(entries):
    entries[0].resolution = 0.5
    return entries


def listed_twice(entries):
    return entries + [dataclasses.replace(entries[0], source="again.mid")]


@pytest.mark.parametrize("damage, says", [
    (longer_than_its_pages, "manifest.csv: piece01 should be 300 columns, its pages hold 106"),
    (at_two_resolutions, "several resolutions"),
    (listed_twice, "piece piece00 is listed more than once"),
])
def test_a_manifest_that_does_not_match_its_pages_is_refused(tmp_path, damage, says):
    write_folder(tmp_path, count=2, columns=100)
    pages.write_manifest(tmp_path, damage(pages.read_manifest(tmp_path)))
    with pytest.raises(dataset.DatasetError, match=says):
        dataset.load(tmp_path)


def dict_batches(data) -> tuple[dict[str, np.ndarray], np.ndarray]:
    given, targets = zip(*[({name: value.numpy() for name, value in x.items()}, y.numpy()) for x, y in data])
    return {name: np.concatenate([g[name] for g in given]) for name in given[0]}, np.concatenate(targets)


def test_each_window_comes_with_the_beat_and_the_true_next_column():
    rolls = [piece(0, columns=40), piece(1, columns=24)]
    source = dataset.stream(rolls, resolution=0.25)
    assert source.resolution == 0.25
    np.testing.assert_array_equal(source.columns, np.concatenate([np.arange(-WINDOW, len(r)) for r in rolls]))
    names = ("window", "beat", "key", "column")
    given = source.inputs(names)
    x, y = (np.concatenate(parts) for parts in zip(*[dataset.piece_windows(r) for r in rolls]))
    np.testing.assert_array_equal(given["window"], x)
    np.testing.assert_array_equal(given["column"], y)  # teacher forcing: the column to be predicted
    np.testing.assert_array_equal(given["beat"], np.concatenate([roll.beat_features(np.arange(len(r)), 0.25)
                                                                 for r in rolls]))
    # sixteenths: column 0 opens a bar, 8 a half bar, 4 a beat, 2 an eighth, 1 nothing; each piece starts afresh
    first = given["beat"][: len(rolls[0])]
    assert first[[0, 1, 2, 4, 8, 16]].tolist() == [[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0],
                                                   [1, 1, 1, 0], [1, 1, 1, 1]]
    assert given["beat"][len(rolls[0])].tolist() == [1, 1, 1, 1]
    # the key: each piece's pitch-class shares before the column, counted afresh for each piece
    np.testing.assert_allclose(given["key"], np.concatenate([roll.key_memory(roll.as_frames(r)) for r in rolls]))

    streamed, targets = dict_batches(dataset.dataset(source, 16, inputs=names))
    assert set(streamed) == set(names)
    for name in names:
        np.testing.assert_array_equal(streamed[name], given[name])
    np.testing.assert_array_equal(targets, source.targets)
    assert set(dict_batches(dataset.dataset(source, 16, inputs=("window", "beat")))[0]) == {"window", "beat"}


def test_a_transposed_window_keeps_its_beat_and_its_column_is_its_target_and_its_key_moves_with_it():
    source = dataset.stream([piece(i) for i in range(2)], resolution=0.25)
    names = ("window", "beat", "key", "column")
    plain, _ = dict_batches(dataset.dataset(source, 50, inputs=names))
    moved, targets = dict_batches(dataset.dataset(source, 50, transpose=3, seed=1, inputs=names))
    np.testing.assert_array_equal(moved["column"], targets)
    np.testing.assert_array_equal(moved["beat"], plain["beat"])
    assert not np.array_equal(moved["window"], plain["window"])
    shifted = 0
    for before, after, key_before, key_after in zip(plain["window"], moved["window"], plain["key"], moved["key"]):
        if before.any():
            shift = int(np.flatnonzero(after.any(0))[0] - np.flatnonzero(before.any(0))[0])
            np.testing.assert_array_equal(np.roll(key_before, shift), key_after)  # C's share becomes C♯'s, …
            shifted += shift != 0 and key_before.any()
    assert shifted > 10


def test_a_resolution_is_carried_from_the_pieces_to_the_stream(tmp_path):
    rolls = write_folder(tmp_path, count=2, columns=60, resolution=1.0)
    source = dataset.pieces_stream(dataset.load(tmp_path), sorted(rolls))
    assert source.resolution == 1.0  # a column is a beat: every column starts an eighth and a beat
    assert (source.inputs(("beat",))["beat"][:, :2] == 1).all()


def test_load_split_gives_a_bundles_pieces_by_one_policy(tmp_path):
    rolls = write_folder(tmp_path / "images", count=4, columns=40)
    names = sorted(rolls)
    split = dataset.load_split(tmp_path / "images", [*names[:2], "gone"], names[2:], 0.25)
    assert list(split.train) == names[:2], "a training piece that is gone is left out"
    assert all(np.array_equal(split.held_out[n], rolls[n]) for n in names[2:])
    with pytest.raises(dataset.DatasetError, match="held-out piece 'gone' of the bundle is not among these pages"):
        dataset.load_split(tmp_path / "images", names[:2], ["gone"], 0.25)
    with pytest.raises(dataset.DatasetError, match="pages at resolution 0.25, the bundle at 1.0"):
        dataset.load_split(tmp_path / "images", names[:2], names[2:], 1.0)
    with pytest.raises(dataset.DatasetError, match="none of the bundle's training pieces"):
        dataset.load_split(tmp_path / "images", ["gone"], names[2:], 0.25)
