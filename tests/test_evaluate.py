"""evaluate: the baselines against their closed forms, and a tiny real bundle end to end."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from pianoroll import PianorollError, bundle, cli, compose, dataset, evaluate, measures, metrics, pages, roll, train
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


CHORDS = {"C": (48, 52, 55, 60, 64), "Dm": (50, 53, 57, 62, 65),  # no pitch in common
          "clusters": (60, 61, 62, 63, 64), "more clusters": (66, 67, 68, 69, 70)}  # fit no chord


def progression(densities=(4, 4, 4, 4), every: int | None = 2, columns: int = 40,
                chords: tuple[str, str] = ("C", "Dm")) -> np.ndarray:
    """0/1 frames alternating two chords every ``every`` columns (None: the first chord throughout),
    with the lowest ``densities[q]`` notes of the chord sounding in quarter q."""
    frames = np.zeros((columns, roll.PITCHES), np.float32)
    for quarter, density in zip(np.array_split(np.arange(columns), 4), densities):
        for column in quarter:
            chord = CHORDS[chords[(column // every) % 2 if every else 0]]
            frames[column, [p - roll.LOWEST_PITCH for p in chord[:density]]] = 1
    return frames


@pytest.fixture(scope="module")
def real() -> dict:
    """Three real pieces, C major and D minor in four voices, changing every 2, 3 and 4 columns."""
    return evaluate.music_summary([progression(every=every) for every in (2, 3, 4)], 0.25)


def test_pitch_class_distance_and_the_density_band(real):
    assert evaluate.pitch_class_distance([1] + [0] * 11, [0] * 11 + [1]) == 1.0
    assert evaluate.pitch_class_distance([0.5, 0.5] + [0] * 10, [0.5, 0.25, 0.25] + [0] * 9) == 0.25
    assert real["density_by_quarter"] == pytest.approx([4, 4, 4, 4])
    fading = evaluate.against_real(evaluate.music_summary([progression((4, 4, 3, 2))] * 2, 0.25), real)
    assert fading["density_ratio_by_quarter"] == pytest.approx([1, 1, 0.75, 0.5])
    assert fading["density_within_band"] is False
    steady = evaluate.against_real(evaluate.music_summary([progression((4, 5, 3, 4))] * 2, 0.25), real)
    assert steady["density_ratio_by_quarter"] == pytest.approx([1, 1.25, 0.75, 1])
    assert steady["density_within_band"] is True  # ±25% exactly is still within


def test_music_summary_is_the_mean_piece_with_its_measures(real):
    pieces = [progression(every=every) for every in (2, 3, 4)]
    changes = [19 / 39, 13 / 39, 9 / 39]  # chord changes at every 2nd, 3rd, 4th column of 40
    assert real["pieces"] == 3 and len(real["measures"]) == 3
    assert [m.change_share for m in real["measures"]] == pytest.approx(changes)
    assert real["features"]["change_share"] == pytest.approx(np.mean(changes))
    assert real["features"]["density"] == pytest.approx(4) and real["features"]["polyphony"] == pytest.approx(4)
    assert real["features"]["chord_share"] == 1.0 and real["features"]["empty_share"] == 0.0
    assert real["features"]["longest_note_beats"] == pytest.approx(np.mean([0.5, 0.75, 1.0]))
    assert set(real["features"]) == set(measures.FEATURES)
    assert real["profile"] == pytest.approx(np.mean([evaluate.profile(p) for p in pieces], axis=0))
    assert sum(real["pitch_classes"]) == pytest.approx(1)


def test_each_goal_counts_the_pieces_that_meet_it(real):
    good = progression()
    stuck = progression(every=None)  # one chord for 10 beats: no changes, one long note per voice
    fading = progression((4, 4, 3, 2))  # half the real density in the last quarter
    clusters = progression(chords=("clusters", "more clusters"))  # moves like the real pieces, in no chord
    found = evaluate.music_summary([good, stuck, fading, clusters], 0.25)["measures"]
    goals = evaluate.piece_goals(found, real)
    assert goals == {"changes": 3, "held_notes": 3, "density": 3, "chords": 3, "all": 1, "pieces": 4,
                     "longest_note_beats": 1.0}  # by default the longest real note: 4 columns of 0.25
    lenient = evaluate.piece_goals(found, real, longest_beats=10.0)  # the longest training note, when recorded
    assert lenient["held_notes"] == 4 and lenient["all"] == 1 and lenient["longest_note_beats"] == 10.0
    assert evaluate.against_real(evaluate.music_summary([good], 0.25), real)["goals"]["all"] == 1


def test_the_classifier_and_the_features_tell_stuck_music_from_real(real):
    stuck = evaluate.music_summary([progression(every=None, densities=(d, d, d, d)) for d in (3, 4, 4, 5)], 0.25)
    found = evaluate.against_real(stuck, real)
    assert found["classifier_accuracy"] == 1.0  # it never changes: told apart every time
    alike = evaluate.against_real(evaluate.music_summary([progression(every=e) for e in (2, 3, 4)], 0.25), real)
    assert alike["classifier_accuracy"] <= 0.5  # the same pieces: no better than a coin
    features = {f["feature"]: f for f in found["feature_comparisons"]}
    assert list(features) == list(measures.FEATURES)
    assert features["change_share"]["generated_mean"] == 0.0
    assert features["change_share"]["real_mean"] == pytest.approx(41 / 117)
    assert features["change_share"]["overlap"] < 0.5 < {f["feature"]: f for f in alike["feature_comparisons"]}[
        "change_share"]["overlap"]


def test_the_music_table_shows_each_measure_and_how_many_pieces_meet_the_goals(real):
    composed = evaluate.music_summary([progression(), progression(every=None)], 0.25)
    music = {"held_out": real, "vanish": {**composed, **evaluate.against_real(composed, real)}}
    header, rule, *rows = evaluate.music_table(music)
    assert header.split(" | ")[1:] == ["change share", "longest note (beats)", "density", "polyphony", "pitch range",
                                       "chord share", "thin", "pitch-class TV", "density ratio to real by quarter",
                                       "within ±25%", "classifier accuracy", "goals met |"]
    assert rule.count("|") == header.count("|")
    cells = {row.split(" | ")[0].strip("| "): [c.strip(" |") for c in row.split(" | ")[1:]] for row in rows}
    assert cells["held_out"] == [f"{np.mean([19, 13, 9]) / 39:.3f}", "0.75", "4.00", "4.00", "14.0", "1.000",
                                 "0.000", "–", "–", "–", "–", "–"]
    vanish = cells["vanish"]
    assert vanish[0] == f"{19 / 78:.3f}" and vanish[1] == f"{(0.5 + 10) / 2:.2f}"
    assert vanish[8] == "1.00 / 1.00 / 1.00 / 1.00" and vanish[9] == "yes"
    assert vanish[11] == "1/2"  # the stuck piece changes too little and holds its notes too long
    report = {"model": "m", "arch": "convlstm", "loss": "bce", "resolution": 0.25, "on": None,
              "held_out_pieces": ["a", "b", "c"], "held_out_frames": 120, "repeat_epsilon": 0.1,
              "scores": {"model": {"nll": 1.0, "brier": 0.1, "f1": 0.5}},
              "compose": {"count": 2, "length": 40, "seed": 0}, "music": music}
    text = evaluate.markdown(report)
    assert "| vanish | " in text and "| vanish | 1/2 | 1/2 | 2/2 | 2/2 | 1/2 |" in text
    assert "3 held-out pieces" in text and "no note longer than 1 beats" in text
    overlaps = {c["feature"]: c["overlap"] for c in music["vanish"]["feature_comparisons"]}
    comparisons = evaluate.comparisons_table(music)
    assert len(comparisons) == 3 and "\n".join(comparisons) in text  # composed music only: held_out has no row
    assert comparisons[2] == "| vanish | " + " | ".join(f"{overlaps[f]:.2f}" for f in measures.FEATURES) + " |"


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A one-epoch network on six tiny pieces, two of them held out."""
    folder = tmp_path_factory.mktemp("evaluate")
    rolls = tiny_pages.write_folder(folder / "images", count=6, columns=40, resolution=1.0)
    fraction = next(f for f in np.arange(0.05, 1, 0.05) if len(dataset.split(rolls, f)[1]) == 2)
    train.train(folder / "images", folder / "model", TINY, train.Run(epochs=1, held_out_fraction=fraction), verbose=0)
    return bundle.load(folder / "model"), rolls


def constant_network(path, probs: np.ndarray) -> bundle.Bundle:
    """The bundle at ``path`` with its network made to say ``probs`` (PITCHES,) for every column, whatever it reads.

    Every weight is zeroed but the NADE's output bias, set to logit(probs): the
    NADE then adds nothing (V = 0), so each pitch's probability is its bias's sigmoid.
    """
    loaded = bundle.load(path)
    for layer in loaded.model.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    output = loaded.model.get_layer("nade_output_bias")
    output.set_weights([np.zeros_like(output.get_weights()[0]), np.log(probs / (1 - probs)).astype(np.float32)])
    return loaded


def hand_nll(probs: np.ndarray, frames: list[np.ndarray]) -> tuple[float, float]:
    """NLL per frame and Brier per cell of fixed per-pitch probabilities, from how often each pitch sounds."""
    stacked = np.concatenate(frames)
    on, total = stacked.sum(axis=0), len(stacked)
    nll = -float(np.sum(on * np.log(probs) + (total - on) * np.log(1 - probs))) / total
    brier = float(np.sum(on * (1 - probs) ** 2 + (total - on) * probs**2)) / (total * roll.PITCHES)
    return nll, brier


def test_the_model_nll_is_the_closed_form_for_a_network_of_known_probabilities(tiny_bundle, tmp_path):
    """Every held-out column scored, and only those: the NLL of fixed probabilities, counted by hand."""
    model, rolls = tiny_bundle
    probs = np.linspace(0.05, 0.6, roll.PITCHES)  # a different probability for every pitch
    known = constant_network(model.path, probs)
    held = [roll.as_frames(rolls[name]) for name in model.config.data.held_out_pieces]
    scores = evaluate.evaluate(known, count=0)["scores"]["model"]
    assert (scores["nll"], scores["brier"]) == pytest.approx(hand_nll(probs, held), rel=1e-5)

    others = [tiny_pages.piece(seed, columns=30, resolution=1.0) for seed in (10, 11)]
    for index, r in enumerate(others):
        pages.write_pages(r, tmp_path / "mine", f"other{index}")
    pages.write_manifest(tmp_path / "mine", [pages.Entry(source=f"other{i}.mid", piece=f"other{i}", pages=1,
                                                         columns=len(r), resolution=1.0) for i, r in enumerate(others)])
    scores = evaluate.evaluate(known, count=0, on=tmp_path / "mine")["scores"]["model"]
    assert (scores["nll"], scores["brier"]) == pytest.approx(hand_nll(probs, [roll.as_frames(r) for r in others]),
                                                             rel=1e-5)


def test_evaluate_scores_the_held_out_pieces_against_closed_forms(tiny_bundle):
    model, rolls = tiny_bundle
    held_names = list(model.config.data.held_out_pieces)
    held = [roll.as_frames(rolls[name]) for name in held_names]
    train_pieces = [roll.as_frames(rolls[n]) for n in rolls if n not in held_names]
    report = evaluate.evaluate(model, count=2, seed=1, modes={"threshold": evaluate.MODES["threshold"]})

    targets = np.concatenate(held)
    stacked = np.concatenate(train_pieces)
    rates = (stacked.sum(axis=0) + 0.5) / (len(stacked) + 1)
    assert report["scores"]["iid"]["nll"] == pytest.approx(metrics.frame_nll(np.broadcast_to(rates, targets.shape), targets))
    assert report["scores"]["iid"]["brier"] == pytest.approx(metrics.brier(np.broadcast_to(rates, targets.shape), targets))
    assert report["held_out_frames"] == len(targets) == sum(len(rolls[n]) for n in held_names)

    real = report["music"]["held_out"]
    assert real["features"]["density"] == pytest.approx(np.mean([f.sum(axis=1).mean() for f in held]))
    assert real["measures"] == [measures.piece_measures(f, 1.0).to_dict() for f in held]
    composed = report["music"]["threshold"]
    length = int(np.median([len(f) for f in held]))
    assert composed["pieces"] == 2 and report["compose"]["length"] == length
    ratios = composed["density_ratio_by_quarter"]
    assert ratios == pytest.approx([g / r for g, r in zip(composed["density_by_quarter"], real["density_by_quarter"])])

    # composed as `pianoroll compose` would: the bundle's stepper, from the first window of each held-out piece
    step = bundle.stepper(model.path)
    songs = compose.generate(step, evaluate.primers(held, 2), length, compose.Settings(mode="threshold", threshold=0.5),
                             1, targets=compose.targets(model.config))
    assert composed["measures"] == [measures.piece_measures(song, 1.0).to_dict() for song in songs]
    assert composed["goals"]["pieces"] == 2 and 0 <= composed["goals"]["all"] <= 2
    assert composed["goals"]["longest_note_beats"] == model.config.data.music.longest_note_beats
    assert [c["feature"] for c in composed["feature_comparisons"]] == list(measures.FEATURES)
    assert 0 <= composed["classifier_accuracy"] <= 1  # two pieces against two: one fold each way
    control = report["music"][evaluate.TRAINING]  # real training pieces, as many as held out, measured alike
    assert control["measures"] == [measures.piece_measures(f, 1.0).to_dict()
                                   for f in evaluate.training_sample(train_pieces, len(held), 1)]
    assert {m["columns"] for m in control["measures"]} <= {len(f) for f in train_pieces}
    json.dumps(report)  # the report is JSON as it stands


def test_evaluate_on_another_folder_scores_every_piece_there(tiny_bundle, tmp_path):
    model, _ = tiny_bundle
    others = {f"other{seed}": tiny_pages.piece(seed, columns=30, resolution=1.0) for seed in (10, 11, 12)}
    for name, r in others.items():
        pages.write_pages(r, tmp_path / "mine", name)
    pages.write_manifest(tmp_path / "mine", [pages.Entry(source=f"{n}.mid", piece=n, pages=1, columns=len(r),
                                                         resolution=1.0) for n, r in others.items()])
    report = evaluate.evaluate(model, count=0, on=tmp_path / "mine")
    assert report["on"] == str(tmp_path / "mine") and report["held_out_pieces"] == sorted(others)
    assert report["held_out_frames"] == sum(map(len, others.values())) and set(report["music"]) == {"held_out"}
    assert f"the 3 pieces of {tmp_path / 'mine'}" in evaluate.markdown(report)

    half = tiny_pages.piece(13, columns=30, resolution=0.5)
    pages.write_pages(half, tmp_path / "coarse", "half")
    pages.write_manifest(tmp_path / "coarse", [pages.Entry(source="half.mid", piece="half", pages=1,
                                                           columns=len(half), resolution=0.5)])
    with pytest.raises(PianorollError, match="half is at resolution 0.5, the bundle at 1.0"):
        evaluate.evaluate(model, count=0, on=tmp_path / "coarse")


def test_evaluate_command_writes_the_three_reports(tiny_bundle, tmp_path, capsys):
    model, _ = tiny_bundle
    assert cli.main(["evaluate", "--model", str(model.path), "--compare", str(model.path),
                     "--count", "1", "--reports", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(report["music"]) == {"held_out", evaluate.TRAINING, *evaluate.MODES}
    assert report["scores"][str(model.path)] == report["scores"]["model"]  # the same bundle, scored again
    text = (tmp_path / "evaluation.md").read_text()
    assert "| iid |" in text and "| music | change share | longest note (beats) |" in text
    for mode in evaluate.MODES:  # one piece per mode: its goals count is n/1
        assert re.search(rf"^\| {mode} \| .* \| [01]/1 \|$", text, re.MULTILINE), mode
    assert (tmp_path / "density.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_evaluate_command_names_a_missing_bundle(tmp_path, capsys):
    assert cli.main(["evaluate", "--model", str(tmp_path / "nothing")]) == 2
    assert str(tmp_path / "nothing") in capsys.readouterr().err


def test_pieces_a_compose_wrote_are_measured_against_the_real_ones(tiny_bundle, tmp_path):
    model, _ = tiny_bundle
    out = tmp_path / "output"
    assert cli.main(["compose", "--model", str(model.path), "--out", str(out), "--count", "3", "--length", "20",
                     "--no-audio"]) == 0
    report = evaluate.evaluate(model, count=0, composed=out)
    composed = report["music"][str(out)]
    written = sorted((json.loads(p.read_text()) for p in out.glob("*.json")), key=lambda r: r["name"])
    assert sorted(m["change_share"] for m in composed["measures"]) == sorted(
        r["measures"]["change_share"] for r in written)
    assert composed["goals"]["pieces"] == 3 and 0 <= composed["classifier_accuracy"] <= 1
    with pytest.raises(PianorollError, match="no composed pieces here"):
        evaluate.evaluate(model, count=0, composed=tmp_path)
