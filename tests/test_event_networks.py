"""event_networks: the seed systems' networks have their seeds' sizes, train one epoch and compose through the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pianoroll import bundle, evaluate, event_networks, pages, roll, sequences
from pianoroll.model import PRESETS
from pianoroll.sequences import EventEncoding
from tests.tiny_pages import write_folder

REPO = Path(__file__).resolve().parents[1]


def lstm_parameters(inputs: int, units: int) -> int:
    """A Keras LSTM: four gates, each with an input kernel, a recurrent kernel and one bias."""
    return 4 * units * (inputs + units + 1)


def dense_parameters(inputs: int, outputs: int) -> int:
    return inputs * outputs + outputs


def test_the_tokens_network_has_seed_002s_layers():
    vocabulary = 368
    network = event_networks.tokens_network(100, vocabulary)
    expected = (lstm_parameters(1, 512) + 2 * lstm_parameters(512, 512)  # three LSTMs of 512 over one number per token
                + dense_parameters(512, 256) + dense_parameters(256, vocabulary))  # Dense(256), Dense(vocabulary)
    assert network.count_params() == expected == 5_382_400 + 257 * vocabulary
    assert network.output_shape == (None, vocabulary)


def test_the_notes_network_has_seed_004s_layers():
    network = event_networks.notes_network(25)
    expected = lstm_parameters(3, 128) + dense_parameters(128, 128) + 2 * dense_parameters(128, 1)
    assert network.count_params() == expected == 84_354


def test_the_messages_network_has_seed_000s_layers():
    network = event_networks.messages_network(30)
    slot = 89 + 128 + 12
    expected = lstm_parameters(slot, 128) + dense_parameters(128, slot)  # the Dense of 229, cut in three heads
    assert network.count_params() == expected == 212_837
    assert {layer.name: layer.units for layer in network.layers[-3:]} == {"note": 89, "velocity": 128, "time": 12}


def test_tempered_draws_follow_the_network_at_1_and_the_argmax_when_cold():
    rng = np.random.default_rng(0)
    probs = np.tile([[0.2, 0.5, 0.3]], (20_000, 1))
    drawn = np.bincount(event_networks.tempered_choice(probs, 1.0, rng), minlength=3) / len(probs)
    assert drawn == pytest.approx([0.2, 0.5, 0.3], abs=0.02)
    assert (event_networks.tempered_choice(probs, 0.01, rng) == 1).all()


def test_a_format_2_bundle_still_loads(tmp_path):
    """Bundles written before the event networks (format 2) read as before: no encoding, per-frame figures."""
    (tmp_path / bundle.MODEL_FILE).write_bytes(b"")
    data = bundle.DataSummary("images", 2, 10, ("a",), ("b",), 0.5)
    record = bundle.BundleConfig(arch="convlstm", loss="bce", model=PRESETS["convlstm"], seed=0, resolution=0.25,
                                 data=data, transpose=0, strategy="none",
                                 metrics=bundle.Metrics(bundle.FrameScores(2.5, 0.03, 0.6)), stepping_agreement=0.0,
                                 epochs=1, best_epoch=1, version="0.1.0")
    old = {key: value for key, value in record.to_json().items() if key != "encoding"}
    bundle.write_json(tmp_path / bundle.CONFIG_FILE, {**old, **bundle.grid(), "format": 2})
    loaded = bundle.read_config(tmp_path)
    assert loaded.encoding is None and loaded.metrics.held_out == bundle.FrameScores(2.5, 0.03, 0.6)


def test_an_event_bundles_encoding_is_checked_on_load(tmp_path):
    (tmp_path / bundle.MODEL_FILE).write_bytes(b"")
    data = bundle.DataSummary("images", 2, 10, ("a",), ("b",), 0.5)
    encoding = EventEncoding("tokens", 100, ("C4", "0.4.7"), ((sequences.Timing(0.5, 1.0, 3),), ()))
    record = bundle.BundleConfig(arch="tokens", loss="cce", model=PRESETS["tokens"], seed=0, resolution=0.25, data=data,
                                 transpose=0, strategy="none", metrics=bundle.Metrics(None, bundle.EventScores(3.0, 3.0, 9)),
                                 stepping_agreement=None, epochs=1, best_epoch=1, version="0.1.0", encoding=encoding)
    bundle.write_json(tmp_path / bundle.CONFIG_FILE, {**record.to_json(), **bundle.grid()})
    assert bundle.read_config(tmp_path) == record
    broken = {**record.to_json(), **bundle.grid()}
    broken["encoding"]["timings"] = broken["encoding"]["timings"][:1]  # one token without its record
    bundle.write_json(tmp_path / bundle.CONFIG_FILE, broken)
    with pytest.raises(bundle.BundleError, match="encoding.timings"):
        bundle.read_config(tmp_path)


def pianoroll(*argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pianoroll", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pages")
    write_folder(folder, count=6, columns=480)  # the held-out piece holds more than the tokens window of 100
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("arch", event_networks.ARCHS)
def test_each_event_network_trains_an_epoch_and_composes_through_the_cli(arch, images, tmp_path):
    model, out = tmp_path / arch, tmp_path / "out"
    pianoroll("train", "--images", str(images), "--model", str(model), "--arch", arch, "--epochs", "1")
    config = bundle.read_config(model)
    assert config.arch == arch and config.encoding.kind == arch and config.encoding.window == PRESETS[arch].events
    assert config.metrics.held_out is None and config.metrics.events.events > 0
    assert np.isfinite(config.metrics.events.nll_per_event) and config.metrics.events.nll_per_event > 0
    assert json.loads((model / bundle.CONFIG_FILE).read_text())["format"] == bundle.FORMAT
    pianoroll("compose", "--model", str(model), "--out", str(out), "--count", "2", "--length", "64", "--no-audio",
              "--name", arch)
    for index in (1, 2):
        record = json.loads((out / f"{arch}-{index}.json").read_text())
        assert record["options"]["mode"] == "sample" and record["bundle"]["arch"] == arch
        assert record["measures"]["columns"] == 64 and record["statistics"]["notes"] > 0
        assert pages.read_image(out / f"{arch}-{index}.png").shape[0] == 64 and (out / f"{arch}-{index}.mid").is_file()
    assert (out / "index.html").is_file()
    reports = tmp_path / "reports"
    pianoroll("evaluate", "--model", str(model), "--count", "2", "--length", "32", "--reports", str(reports))
    report = json.loads((reports / "evaluation.json").read_text())
    assert report["event_figures"] == config.metrics.figures() and "model" not in report["scores"]
    assert set(report["music"]) == {"held_out", evaluate.TRAINING, "sample", "seed"} and report["music"]["seed"]["pieces"] == 2


@pytest.mark.slow
def test_the_tokens_seed_rule_strikes_a_token_every_beat(images, tmp_path):
    model, out = tmp_path / "tokens", tmp_path / "out"
    pianoroll("train", "--images", str(images), "--model", str(model), "--arch", "tokens", "--epochs", "1")
    pianoroll("compose", "--model", str(model), "--out", str(out), "--mode", "seed", "--length", "64", "--no-audio",
              "--name", "seed")
    composed = pages.read_image(out / "seed.png")
    onsets = {note.start for note in roll.to_notes(composed, roll.DEFAULT_RESOLUTION)}
    assert onsets <= {float(beat) for beat in range(1, 17)}  # seed 002: each token a quarter note after the last
    assert dataclasses.asdict(bundle.read_config(model).model)["events"] == 100
