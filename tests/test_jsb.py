"""jsb: the JSB Chorales benchmark, end to end on a tiny file in the standard JSON format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pianoroll import jsb
from pianoroll.roll import LOWEST_PITCH


def chorale(rng: np.random.Generator, frames: int = 24) -> list[list[int]]:
    """Four voices moving by step around C major, a frame per quarter note."""
    voices = np.array([48, 55, 64, 72])
    piece = []
    for _ in range(frames):
        voices = voices + rng.integers(-2, 3, size=4)
        piece.append(sorted({int(p) for p in voices}))
    return piece


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("jsb") / "jsb.json"
    path.write_text(json.dumps({split: [chorale(rng) for _ in range(count)]
                                for split, count in (("train", 6), ("valid", 2), ("test", 2))}))
    return path


def test_a_piece_becomes_a_roll_of_its_frames(data_file):
    splits = {split.name: split for split in jsb.read(data_file)}
    assert [len(splits[name].rolls) for name in jsb.SPLITS] == [6, 2, 2]
    frames = json.loads(data_file.read_text())["valid"][1]
    roll = splits["valid"].rolls["valid-001"]
    assert roll.shape == (len(frames), 106)
    assert [sorted(np.flatnonzero(column) + LOWEST_PITCH) for column in roll] == frames


def test_the_benchmark_trains_on_train_picks_on_valid_and_scores_test(data_file, tmp_path):
    result = jsb.benchmark(data_file, tmp_path / "work", tmp_path / "models", epochs=1)
    for name in (*jsb.NETWORKS, "iid", "repeat"):
        assert set(result[name]) >= {"valid", "test"}
        assert 0 < result[name]["valid"]["nll"] < 106 * 14 and 0 < result[name]["test"]["nll"] < 106 * 14
    held_out = json.loads((tmp_path / "models" / "default" / "config.json").read_text())["data"]["held_out_pieces"]
    assert held_out == ["valid-000", "valid-001"], "valid picks the epoch; test is never seen in training"
    assert result["default"]["valid"] == json.loads(
        (tmp_path / "models" / "default" / "config.json").read_text())["metrics"]["held_out"]
    text = jsb.markdown(result)
    assert "| default |" in text and "RNN-NADE" in text


@pytest.mark.parametrize("content, says", [
    ("[1, 2]", "needs the keys 'train' and 'valid'"),
    ('{"train": [[[60]]], "valid": [[[200]]]}', "valid[0] frame 0 has pitch 200"),
    ('{"train": [[60]], "valid": []}', "train[0] is not a list of frames"),
    ("{", "not readable as JSON"),
])
def test_a_file_that_is_not_jsb_is_one_line_naming_it(tmp_path, content, says):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(jsb.JsbError) as error:
        jsb.read(path)
    assert str(error.value).startswith(str(path)) and says in str(error.value) and "\n" not in str(error.value)
