"""train: `pianoroll train` end to end on tiny pages: the bundle, reproducibility, resume after kill -9, bad input."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pianoroll import bundle, cli, dataset, evaluate, measures, roll, stepping, train
from pianoroll.model import ModelConfig
from pianoroll.roll import WINDOW
from tests.tiny_pages import write_folder

REPO = Path(__file__).resolve().parents[1]
FAST = ["--arch", "seed", "--epochs", "2"]  # the seed network is the quickest to train


def command(images: Path, model: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "pianoroll", "train", "--images", str(images), "--model", str(model), *flags]


def run_train(images: Path, model: Path, *flags: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command(images, model, *flags), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def history(model: Path) -> list[dict[str, str]]:
    with open(model / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_folder(folder, count=6)
    return folder


@pytest.fixture(scope="module")
def trained(images, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    model = tmp_path_factory.mktemp("models") / "first"
    return model, run_train(images, model, *FAST, "--transpose", "2")


def test_a_run_writes_a_complete_bundle(trained, images):
    model, done = trained
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "history.csv", "logs", "loss.png", "model.keras"]
    config = bundle.read_config(model)
    assert config.arch == "seed" and config.loss == "mse" and config.seed == 0
    assert config.resolution == 0.25 and config.epochs == 2 and config.version
    data = config.data
    assert data.pieces == 6 and data.frames == 6 * 180 and data.images == str(images)
    assert sorted(data.train_pieces + data.held_out_pieces) == [f"piece{i:02d}" for i in range(6)]
    assert data.held_out_pieces and data.held_out_fraction == 0.1
    assert_music(data.music, images, list(data.train_pieces))
    assert config.stepping_agreement is None  # the seed network has no numpy stepper: compose uses Keras
    assert isinstance(bundle.stepper(model), stepping.KerasStep)
    figures = json.loads((model / "config.json").read_text())["metrics"]["held_out"]
    assert figures == dataclasses.asdict(config.metrics.held_out)
    assert set(figures) == {"nll", "brier", "f1"} and all(np.isfinite(list(figures.values())))
    assert "NLL (nats/frame)" in done.stdout and f"{figures['nll']:7.4f}" in done.stdout
    assert [row["epoch"] for row in history(model)] == ["0", "1"]
    assert (model / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.parent.name for p in (model / "logs").rglob("events.out.tfevents.*")} == {"train", "validation"}


def test_held_out_figures_can_be_recomputed_from_the_bundle(trained):
    model, _ = trained
    loaded = bundle.load(model)
    _, held_out, names = evaluate.bundle_pieces(loaded.config)
    assert names == list(loaded.config.data.held_out_pieces) and sum(map(len, held_out)) > 0
    recomputed = dataclasses.asdict(evaluate.model_scores(loaded, held_out))
    assert recomputed == pytest.approx(dataclasses.asdict(loaded.config.metrics.held_out), rel=1e-5)


def assert_music(music: bundle.TrainingMusic, images: Path, names: list[str]) -> None:
    expected = music_of(images, names)
    found = dataclasses.asdict(music)
    assert found.pop("note_survival") == pytest.approx(expected.pop("note_survival"), abs=1e-6)
    assert found == pytest.approx(expected)


def music_of(images: Path, names: list[str]) -> dict[str, float | list[float]]:
    """What the training music is like, from each piece's measures: notes per column over all columns,
    the longest note of any piece, the mean change share of the pieces, and the share of notes lasting
    at least a columns for every a up to one past the longest."""
    pieces = dataset.load(images)
    found = [measures.piece_measures(*pieces[name]) for name in names]
    columns = np.concatenate([[round((n.end - n.start) / resolution)  # notes as the frames show them: no re-strikes
                               for n in roll.to_notes(roll.from_frames(roll.as_frames(page)), resolution)]
                              for page, resolution in (pieces[name] for name in names)])
    return {"density": sum(m.density * m.columns for m in found) / sum(m.columns for m in found),
            "longest_note_beats": max(m.longest_note_beats for m in found),
            "change_share": float(np.mean([m.change_share for m in found])),
            "note_survival": [float(np.mean(columns >= a)) for a in range(columns.max() + 2)]}


TINY = ModelConfig(conv_filters=4, conv_kernel=5, projection=8, lstm_units=8, nade_units=8, batch_size=32)


def test_the_default_network_writes_weights_that_step_in_numpy_as_keras_predicts(images, tmp_path):
    assert TINY.head == "nade" and TINY.beat  # the default network, smaller
    model_dir = tmp_path / "nade"
    result = train.train(images, model_dir, TINY, train.Run(epochs=1, held_out=("piece04", "piece01", "elsewhere")),
                         verbose=0)
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "history.csv", "logs", "loss.png",
                                                          "model.keras", "weights.npz"]
    config = bundle.read_config(model_dir)
    assert config == result.config
    assert json.loads((model_dir / "config.json").read_text()) == result.config.to_json() | bundle.grid()
    assert config.data.held_out_pieces == ("piece04", "piece01")  # as named; a name not there is left out
    assert config.data.train_pieces == ("piece00", "piece02", "piece03", "piece05")
    assert_music(config.data.music, images, list(config.data.train_pieces))
    assert 0 <= config.stepping_agreement <= stepping.AGREEMENT

    loaded, step = bundle.load(model_dir), bundle.stepper(model_dir)
    assert isinstance(step, stepping.NumpyStep)
    _, held_out, _ = evaluate.bundle_pieces(config)
    assert dataclasses.asdict(evaluate.model_scores(loaded, held_out)) == pytest.approx(
        dataclasses.asdict(config.metrics.held_out), rel=1e-5)
    window = np.stack([held_out[0][10:10 + WINDOW], held_out[1][20:20 + WINDOW]])
    next_columns = np.array([10 + WINDOW, 20 + WINDOW])
    draws = np.random.default_rng(0).random((2, roll.PITCHES)) * 0.05  # low: a few notes from a one-epoch network
    decided, probs = step.decide(step.start(window, next_columns), lambda p: draws < p)
    key = roll.key_shares(roll.pitch_class_counts(window).sum(axis=1))
    given = {"window": window, "beat": roll.beat_features(next_columns, 0.25), "key": key,
             "column": decided.astype(np.float32)}
    given = {name: given[name] for name in config.model.inputs()}
    expected = loaded.model.predict(given, verbose=0)  # each pitch given the pitches decided below it
    assert np.max(np.abs(probs - expected)) <= stepping.AGREEMENT
    assert np.array_equal(decided, draws < probs) and decided.any(axis=1).all()


def test_same_data_and_seed_give_the_same_history(trained, images, tmp_path):
    model, _ = trained
    run_train(images, tmp_path / "again", *FAST, "--transpose", "2")
    assert history(tmp_path / "again") == history(model)


def test_kill_9_mid_epoch_then_the_same_command_continues(images, tmp_path):
    model = tmp_path / "killed"
    flags = ["--arch", "seed", "--epochs", "4", "--patience", "10", "--batch-size", "16", "--backup-every", "5"]
    child = subprocess.Popen(command(images, model, *flags), cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    metadata = model / ".train" / "backup" / "training_metadata.json"
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        try:
            state = json.loads(metadata.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("epoch", 0) >= 1 and state.get("batch", 0) > 0:  # a backup in the middle of epoch 2
            break
        time.sleep(0.02)
    assert child.poll() is None, "training ended before it could be interrupted"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (model / "model.keras").exists()  # nothing half-done was presented as a bundle
    before = [row for row in csv.DictReader(open(model / ".train" / "history.csv"))]
    assert len(before) >= 1

    done = run_train(images, model, *flags)
    assert "continuing an interrupted run from epoch" in done.stdout
    rows = history(model)
    assert [row["epoch"] for row in rows] == [str(i) for i in range(4)]
    assert rows[: len(before)] == before[: len(rows)]  # the epochs before the kill were kept, not retrained
    assert bundle.read_config(model).epochs == 4 and not (model / ".train").exists()


def cli_error(capsys, *argv: str) -> str:
    assert cli.main(["train", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_images_say_why_in_one_line_and_keep_the_old_bundle(trained, tmp_path, capsys):
    model, _ = trained
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_error(capsys, "--images", str(tmp_path / "none"), "--model", str(model)).startswith(
        f"pianoroll train: {tmp_path / 'none'}: no such folder")
    assert "no manifest" in cli_error(capsys, "--images", str(empty), "--model", str(model))
    one = tmp_path / "one"
    write_folder(one, count=1)
    assert "training needs at least two" in cli_error(capsys, "--images", str(one), "--model", str(model))
    (one / "piece00_0000.png").write_bytes(b"not a png")
    assert "piece00_0000.png" in cli_error(capsys, "--images", str(one), "--model", str(model))
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before


def test_a_model_folder_holding_something_else_is_left_alone(images, tmp_path, capsys):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("precious")
    assert "holds files that are not a pianoroll model (chapter1.tex)" in cli_error(
        capsys, "--images", str(images), "--model", str(folder))
    assert [p.name for p in folder.iterdir()] == ["chapter1.tex"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"name": "someone else\'s"}')
    assert "not a pianoroll model config" in cli_error(capsys, "--images", str(images), "--model", str(other))
    assert [p.name for p in other.iterdir()] == ["config.json"]
