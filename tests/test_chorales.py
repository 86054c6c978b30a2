"""chorales: the benchmark's report, read back from the result as its JSON stores it."""

from __future__ import annotations

import json

import numpy as np

from pianoroll import chorales, evaluate, roll

C_MAJOR, D_MINOR = (48, 52, 55, 60), (50, 53, 57, 62)


def alternating(every: int | None, columns: int = 40) -> np.ndarray:
    """0/1 frames of C major and D minor in four voices, changing every ``every`` columns (None: never)."""
    frames = np.zeros((columns, roll.PITCHES), np.float32)
    for column in range(columns):
        chord = D_MINOR if every and (column // every) % 2 else C_MAJOR
        frames[column, [p - roll.LOWEST_PITCH for p in chord]] = 1
    return frames


def stored_result() -> tuple[dict, dict]:
    """A benchmark result as reports/chorales.json holds it, and the music part as evaluate built it."""
    real = evaluate.music_summary([alternating(every) for every in (2, 3, 4)], 1.0)
    composed = evaluate.music_summary([alternating(2), alternating(None)], 1.0)
    music = {"held_out": real, "vanish": {**composed, **evaluate.against_real(composed, real)}}
    nll = {"default": 4.2, "seed": 9.8, "iid": 7.5, "repeat": 6.1}
    result = {name: {"nll": value, "brier": value / 100, "f1": 0.5} for name, value in nll.items()}
    for name, seconds in (("default", 61.4), ("seed", 12.0)):
        result[name] |= {"epochs": 3, "train_seconds": seconds}
    result["music"] = music
    result["config"] = {"resolution": chorales.RESOLUTION, "held_out_pieces": ["a", "b", "c"], "held_out_frames": 120,
                        "seed": 0, "epochs": chorales.EPOCHS, "patience": chorales.PATIENCE,
                        "published": chorales.PUBLISHED}
    return json.loads(json.dumps(result, default=lambda m: m.to_dict())), music


def test_the_report_ranks_the_predictors_and_shows_the_default_networks_music():
    result, music = stored_result()
    text = chorales.markdown(result)
    ranked = [line.split(" | ")[0].strip("| ") for line in text.splitlines() if line.startswith("| ")
              and line.split(" | ")[0].strip("| ") in ("default", "seed", "iid", "repeat")]
    assert ranked == ["default", "repeat", "iid", "seed"]  # lowest NLL first
    assert "| default | 4.200 | 0.04200 | 0.500 |" in text
    assert "3 pieces (120 frames) held out" in text and "RNN-NADE ≈ 5.6" in text
    assert "Training time: seed 12 s (3 epochs), default 61 s (3 epochs)." in text
    assert "\n".join(evaluate.music_table(music)) in text  # the same tables from the JSON as from the objects
    assert "| vanish | 1/2 | 1/2 | 2/2 | 2/2 | 1/2 |" in text  # the chord held throughout: no changes, a long note
