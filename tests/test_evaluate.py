"""evaluate: the baselines against their closed forms, and a tiny real bundle end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pianoroll import bundle, cli, dataset, evaluate, metrics, roll, train
from pianoroll.model import ModelConfig
from tests import tiny_pages

TINY = ModelConfig(conv_filters=4, conv_kernel=5, projection=8, lstm_units=8, batch_size=32)


def chord_piece(columns: int, pitches: tuple[int, ...] = (60, 64, 67)) -> np.ndarray:
    frames = np.zeros((columns, roll.PITCHES), np.float32)
    frames[:, [p - roll.LOWEST_PITCH for p in pitches]] = 1
    return frames


def test_iid_rates_are_the_training_frequencies_with_half_a_pseudo_count():
    train_pieces = [chord_piece(3), np.zeros((5, roll.PITCHES), np.float32)]
    rates = evaluate.iid_rates(train_pieces)
    c4 = 60 - roll.LOWEST_PITCH
    assert rates[c4] == pytest.approx((3 + 0.5) / (8 + 1))
    assert rates[0] == pytest.approx(0.5 / 9)


def test_repeat_baseline_on_a_constant_piece_predicts_the_chord_after_the_first_column():
    piece, rates, eps = chord_piece(6), np.full(roll.PITCHES, 0.1), 0.05
    probs = evaluate.repeat_probs(piece, rates, eps)
    assert probs[0] == pytest.approx(np.full(roll.PITCHES, eps * 0.1))  # after the silent lead-in
    sounding = piece[0] > 0
    assert probs[1:, sounding] == pytest.approx(1 - eps + eps * 0.1)
    assert probs[1:, ~sounding] == pytest.approx(eps * 0.1)
    first = -(3 * math.log(eps * 0.1) + 103 * math.log(1 - eps * 0.1))
    rest = -(3 * math.log(1 - eps + eps * 0.1) + 103 * math.log(1 - eps * 0.1))
    assert metrics.frame_nll(probs, piece) == pytest.approx((first + 5 * rest) / 6)


def test_repeat_epsilon_is_the_grid_point_with_the_lowest_training_nll():
    rng = np.random.default_rng(0)
    pieces = [(rng.random((40, roll.PITCHES)) < 0.04).repeat(4, axis=0).astype(np.float32) for _ in range(3)]
    rates = evaluate.iid_rates(pieces)
    chosen = evaluate.repeat_epsilon(pieces, rates)
    brute = {eps: np.mean([metrics.frame_nll(evaluate.repeat_probs(p, rates, eps), p) for p in pieces])
             for eps in evaluate.EPSILONS}
    assert chosen == min(brute, key=brute.get)
    assert 0.1 < chosen < 0.5  # three columns in four repeat: neither always nor never


def test_pitch_class_distance_and_the_density_band():
    assert evaluate.pitch_class_distance([1] + [0] * 11, [0] * 11 + [1]) == 1.0
    assert evaluate.pitch_class_distance([0.5, 0.5] + [0] * 10, [0.5, 0.25, 0.25] + [0] * 9) == 0.25
    real = {"density_by_quarter": [4, 4, 4, 4], "pitch_classes": [1 / 12] * 12}
    fading = {"density_by_quarter": [4, 3.5, 3.1, 2.9], "pitch_classes": [1 / 12] * 12}
    assert evaluate.against_real(fading, real)["density_within_band"] is False
    steady = {"density_by_quarter": [4, 4.9, 3.1, 4], "pitch_classes": [1 / 12] * 12}
    assert evaluate.against_real(steady, real)["density_within_band"] is True


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A one-epoch network on six tiny pieces, two of them held out."""
    folder = tmp_path_factory.mktemp("evaluate")
    rolls = tiny_pages.write_folder(folder / "images", count=6, columns=40, resolution=1.0)
    fraction = next(f for f in np.arange(0.05, 1, 0.05) if len(dataset.split(rolls, f)[1]) == 2)
    train.train(folder / "images", folder / "model", TINY, epochs=1, held_out_fraction=fraction, verbose=0)
    return bundle.load(folder / "model"), rolls


def test_evaluate_scores_the_held_out_pieces_against_closed_forms(tiny_bundle):
    model, rolls = tiny_bundle
    held_names = model.config["data"]["held_out_pieces"]
    held = [roll.as_frames(rolls[name]) for name in held_names]
    train_pieces = [roll.as_frames(rolls[n]) for n in rolls if n not in held_names]
    report = evaluate.evaluate(model, count=2, seed=1, modes={"threshold": evaluate.MODES["threshold"]})

    pairs = [dataset.piece_windows(rolls[name]) for name in held_names]
    x, y = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    assert report["scores"]["model"]["nll"] == pytest.approx(metrics.frame_nll(model.model.predict(x, verbose=0), y), rel=1e-5)
    targets = np.concatenate(held)
    stacked = np.concatenate(train_pieces)
    rates = (stacked.sum(axis=0) + 0.5) / (len(stacked) + 1)
    assert report["scores"]["iid"]["nll"] == pytest.approx(metrics.frame_nll(np.broadcast_to(rates, targets.shape), targets))
    assert report["scores"]["iid"]["brier"] == pytest.approx(metrics.brier(np.broadcast_to(rates, targets.shape), targets))
    assert report["held_out_frames"] == len(targets) == sum(len(rolls[n]) for n in held_names)

    real = report["music"]["held_out"]
    assert real["density"] == pytest.approx(np.mean([f.sum(axis=1).mean() for f in held]))
    composed = report["music"]["threshold"]
    assert composed["pieces"] == 2 and report["compose"]["length"] == int(np.median([len(f) for f in held]))
    ratios = composed["density_ratio_by_quarter"]
    assert ratios == pytest.approx([g / r for g, r in zip(composed["density_by_quarter"], real["density_by_quarter"])])


def test_evaluate_command_writes_the_three_reports(tiny_bundle, tmp_path, capsys):
    model, _ = tiny_bundle
    assert cli.main(["evaluate", "--model", str(model.path), "--compare", str(model.path),
                     "--count", "1", "--reports", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(report["music"]) == {"held_out", *evaluate.MODES}
    assert report["scores"][str(model.path)] == report["scores"]["model"]  # the same bundle, scored again
    assert "| iid |" in (tmp_path / "evaluation.md").read_text()
    assert (tmp_path / "density.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_evaluate_command_names_a_missing_bundle(tmp_path, capsys):
    assert cli.main(["evaluate", "--model", str(tmp_path / "nothing")]) == 2
    assert str(tmp_path / "nothing") in capsys.readouterr().err
