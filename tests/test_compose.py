"""compose: the seed's vanish rule and the others, primers, the files a compose writes, bad input.

The bundle is a real (untrained, tiny) Keras network saved with bundle.save,
its output biases spread so that some pitches are likely and most are not,
which makes every rule's decisions non-trivial.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from pianoroll import PianorollError, bundle, compose, midi, model, pages
from pianoroll import roll as rolls
from pianoroll.commands import compose as command
from pianoroll.compose import Settings
from pianoroll.roll import PITCHES, WINDOW
from scripts.seed_compose import seed_loop

PIECE_COLUMNS = 60
TRAIN, HELD_OUT = ["alpha", "beta"], ["gamma"]
LENGTH = 24


def chord_piece(rng: np.random.Generator) -> np.ndarray:
    """A roll of three-note chords, one every beat."""
    piece = rolls.empty(PIECE_COLUMNS)
    for start in range(0, PIECE_COLUMNS, 4):
        piece[start:start + 4, rng.choice(np.arange(30, 60), 3, replace=False)] = rolls.ON
    return piece


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    import keras

    root = tmp_path_factory.mktemp("bundle")
    rng = np.random.default_rng(7)
    images = root / "images"
    for name in TRAIN + HELD_OUT:
        pages.write_pages(chord_piece(rng), images, name)
    pages.write_manifest(images, [pages.Entry(source=f"{name}.mid", piece=name, pages=1, columns=PIECE_COLUMNS)
                                  for name in TRAIN + HELD_OUT])
    keras.utils.set_random_seed(0)
    config = model.ModelConfig(conv_filters=4, conv_kernel=5, lstm_units=16)
    network = model.build(config)
    output = network.layers[-1]
    output.bias.assign(rng.normal(-1.0, 1.2, PITCHES).astype("float32"))
    output.kernel.assign(output.kernel * 3)
    bundle.save(network, {
        "arch": config.arch, "loss": config.loss, "model": dataclasses.asdict(config), "seed": 0,
        "resolution": rolls.DEFAULT_RESOLUTION,
        "data": {"images": str(images), "pieces": 3, "frames": 3 * PIECE_COLUMNS, "train_pieces": TRAIN,
                 "held_out_pieces": HELD_OUT, "held_out_fraction": 0.1},
        "metrics": {"held_out": {"nll": 70.0, "brier": 0.2, "f1": 0.1}}, "epochs": 0, "version": "0.1.0",
    }, root / "model")
    return root / "model"


@pytest.fixture(scope="module")
def network(bundle_dir):
    return bundle.load(bundle_dir).model


@pytest.fixture(scope="module")
def primer(bundle_dir) -> np.ndarray:
    config = bundle.read_config(bundle_dir)
    return compose.choose_primers(None, config, 1, seed=3)[0].frames


def compose_cli(*flags: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(list(flags)))


# --- the rules -------------------------------------------------------------------------------


def test_vanish_gives_the_seeds_columns(network, primer):
    settings = Settings(vanish=0.6, vanish_inc=1.02)  # a fast-growing offset, so the growth matters
    ours = compose.generate(network, primer[None], LENGTH, settings)[0]
    theirs = seed_loop(network, primer, LENGTH, settings.vanish, settings.vanish_inc)
    assert 0 < ours.mean() < 1, "decisions should be neither all on nor all off"
    assert np.array_equal(ours, theirs)
    assert ours[-5:].sum() > ours[:5].sum(), "the growing offset turns more pitches on"


def windows_of(primer: np.ndarray, song: np.ndarray) -> np.ndarray:
    """The window the model saw before each composed column."""
    frames = np.concatenate([primer, song])
    return np.stack([frames[i:i + WINDOW] for i in range(len(song))])


def test_threshold_with_a_cap_keeps_the_most_probable(network, primer):
    song = compose.generate(network, primer[None], LENGTH, Settings(mode="threshold", threshold=0.3, max_notes=2))[0]
    probs = network.predict(windows_of(primer, song), verbose=0)
    for column, p in zip(song, probs):
        above = np.flatnonzero(p >= 0.3)
        expected = above[np.argsort(-p[above], kind="stable")[:2]]
        assert sorted(np.flatnonzero(column)) == sorted(expected)
    assert song.sum(axis=1).max() == 2


def test_sampling_follows_the_seed_and_the_temperature(network, primer):
    sample = Settings(mode="sample")
    first = compose.generate(network, primer[None], LENGTH, sample, seed=1)
    assert np.array_equal(first, compose.generate(network, primer[None], LENGTH, sample, seed=1))
    assert not np.array_equal(first, compose.generate(network, primer[None], LENGTH, sample, seed=2))
    cold = compose.generate(network, primer[None], LENGTH, Settings(mode="sample", temperature=1e-6), seed=5)
    warm = compose.generate(network, primer[None], LENGTH, Settings(mode="threshold", threshold=0.5))
    assert np.array_equal(cold, warm), "near temperature 0 sampling is the 0.5 threshold"


def test_draws_have_the_tempered_probability():
    rng = np.random.default_rng(0)
    probs = np.full((20_000, PITCHES), 0.3, dtype=np.float32)
    on = compose.decide(probs, np.float32(0), Settings(mode="sample"), rng)
    assert abs(on.mean() - 0.3) < 0.01
    assert np.allclose(compose.tempered(np.array([0.3, 0.5, 0.9]), 1.0), [0.3, 0.5, 0.9])
    assert np.allclose(compose.tempered(np.array([0.25]), 2.0), [1 / (1 + np.sqrt(3))])


def test_vanish_offset_grows_by_repeated_multiplication():
    offsets = compose.vanish_offsets(Settings(vanish=0.5, vanish_inc=2 ** 0.5))
    assert [float(next(offsets)) for _ in range(3)] == pytest.approx([0.5, 0.5 * 2 ** 0.5, 1.0])
    probs = np.array([[0.34, 0.35, 0.36]], dtype=np.float32)
    assert compose.decide(probs, np.float32(0.65), Settings(), None).tolist() == [[False, True, True]]


def test_a_batch_steps_every_piece_alike(network, primer):
    batch = compose.generate(network, np.repeat(primer[None], 4, axis=0), LENGTH, Settings(mode="threshold", threshold=0.3))
    assert batch.shape == (4, LENGTH, PITCHES)
    assert all(np.array_equal(batch[0], piece) for piece in batch[1:])


@pytest.mark.parametrize("bad", [Settings(mode="loud"), Settings(vanish=1.2), Settings(vanish_inc=0),
                                 Settings(threshold=0), Settings(temperature=-1), Settings(max_notes=0)])
def test_settings_that_cannot_make_music(bad, network, primer):
    with pytest.raises(compose.ComposeError):
        compose.generate(network, primer[None], 2, bad)


# --- primers -------------------------------------------------------------------------------


def test_training_primers_are_windows_of_training_pieces(bundle_dir):
    config = bundle.read_config(bundle_dir)
    pieces = pages.load_pieces(Path(config["data"]["images"]))
    primers = compose.choose_primers(None, config, 30, seed=4)
    assert [p.source for p in primers] == [p.source for p in compose.choose_primers(None, config, 30, seed=4)]
    assert [p.source for p in primers] != [p.source for p in compose.choose_primers(None, config, 30, seed=5)]
    for primer in primers:
        name, start = primer.source.split("@")
        assert name in TRAIN
        assert np.array_equal(primer.frames, rolls.as_frames(pieces[name][0][int(start):int(start) + WINDOW]))


def test_png_and_midi_primers_are_their_first_columns(tmp_path):
    piece = chord_piece(np.random.default_rng(1))
    page = pages.write_pages(piece, tmp_path, "drawn")[0]
    assert np.array_equal(compose.file_primer(page, 0.25).frames, rolls.as_frames(piece[:WINDOW]))
    midi.write(rolls.to_notes(piece, 0.25), tmp_path / "drawn.mid")
    from_midi = compose.file_primer(tmp_path / "drawn.mid", 0.25)
    assert np.array_equal(from_midi.frames, rolls.as_frames(piece[:WINDOW])) and from_midi.padded == 0
    coarse = compose.file_primer(tmp_path / "drawn.mid", 1.0)  # a quarter-note bundle: one column per beat
    assert np.array_equal(coarse.frames, rolls.as_frames(piece[::4][:WINDOW]))


# --- the command -----------------------------------------------------------------------------


def wav_rms(path: Path) -> float:
    with wave.open(str(path)) as audio:
        assert audio.getsampwidth() == 2 and audio.getframerate() == 44100
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2)))


def test_compose_writes_music_to_look_at_and_listen_to(bundle_dir, tmp_path, capsys):
    out = tmp_path / "output"
    assert compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", str(LENGTH),
                       "--count", "2", "--seed", "3", "--bpm", "90") == 0
    records = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    assert [r["name"] for r in records] == [r["name"] for r in records if r["name"].startswith("model-vanish-seed3-")]
    assert len(records) == 2 and records[0]["name"].endswith("-1")
    for record in records:
        image = pages.read_image(out / record["files"]["png"])
        assert image.shape == (LENGTH, PITCHES)
        notes = midi.read(out / record["files"]["midi"], allow_empty=True)
        assert notes == rolls.to_notes(image, 0.25)
        assert record["statistics"]["notes"] == len(notes) > 0
        assert record["options"] == {**record["options"], "mode": "vanish", "vanish": 0.65, "vanish_inc": 1.001,
                                     "length": LENGTH, "count": 2, "seed": 3, "bpm": 90.0, "primer": "training"}
        assert record["primer"]["source"].split("@")[0] in TRAIN
        assert record["bundle"]["path"] == str(bundle_dir) and record["bundle"]["arch"] == "convlstm"
        assert wav_rms(out / record["files"]["wav"]) > 100, "the WAV should not be silence"
    index = (out / "index.html").read_text()
    assert all(f'src="{r["files"]["png"]}"' in index and f'src="{r["files"]["wav"]}"' in index for r in records)
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left"
    assert "index.html: 2 pieces" in capsys.readouterr().out


def test_same_bundle_options_and_seed_give_the_same_bytes(bundle_dir, tmp_path):
    for out in ("one", "two"):
        for mode in ("vanish", "sample"):
            compose_cli("--model", str(bundle_dir), "--length", str(LENGTH), "--mode", mode, "--seed", "11",
                        "--count", "2", "--out", str(tmp_path / out))
    made = sorted(p.name for p in (tmp_path / "one").glob("*.mid"))
    assert len(made) == 4, "other options, other names: nothing overwritten"
    assert made == sorted(p.name for p in (tmp_path / "two").glob("*.mid"))
    for name in made:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_without_fluidsynth_the_rest_is_written(bundle_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "output"
    compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "12", "--name", "quiet")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "quiet.json", "quiet.mid", "quiet.png"]
    record = json.loads((out / "quiet.json").read_text())
    assert record["files"]["wav"] is None and "apt-get install fluidsynth" in record["audio"]
    said = capsys.readouterr().out
    assert "apt-get install fluidsynth fluid-soundfont-gm" in said and "quiet.mid" in said


def test_a_short_primer_is_padded_with_silence(bundle_dir, tmp_path, capsys):
    midi.write([rolls.Note(60, 0.0, 1.0), rolls.Note(64, 0.0, 1.0)], tmp_path / "short.mid")
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path / "out"), "--length", "8",
                "--primer", str(tmp_path / "short.mid"), "--name", "short")
    assert f"{tmp_path / 'short.mid'}: shorter than the 9-column window; 5 silent columns put in front" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "short.json").read_text())["primer"] == {
        "source": str(tmp_path / "short.mid"), "padded": 5}


def test_a_silent_primer(bundle_dir, tmp_path):
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--length", "8", "--primer", "silence", "--name", "hush")
    assert json.loads((tmp_path / "hush.json").read_text())["primer"] == {"source": "silence", "padded": 0}


def test_a_piece_that_stops_moving_gets_a_hint(bundle_dir, tmp_path, capsys):
    silent = ("--primer", "silence", "--mode", "threshold", "--threshold", "1", "--length", "12")
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--name", "still", *silent)
    record = json.loads((tmp_path / "still.json").read_text())
    assert record["statistics"]["empty_fraction"] == 1.0
    assert "--mode sample" in capsys.readouterr().out
    compose_cli("--model", str(bundle_dir), "--out", str(tmp_path), "--name", "drawn", "--mode", "sample", "--length", "12")
    assert "hint:" not in capsys.readouterr().out


def bundle_copy(bundle_dir: Path, target: Path, **changes) -> Path:
    """The bundle with some of its config.json changed."""
    target.mkdir()
    (target / "model.keras").write_bytes((bundle_dir / "model.keras").read_bytes())
    config = json.loads((bundle_dir / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **changes}))
    return target


@pytest.mark.parametrize("flags, says", [
    (["--model", "{tmp}/nothing"], "make train"),
    (["--model", "{old}"], "retrain"),
    (["--model", "{moved}"], "the bundle's training pages are needed for a random primer"),
    (["--primer", "{tmp}/noise.mid"], "noise.mid"),
    (["--primer", "{tmp}/missing.mid"], "no such primer"),
    (["--primer", "{tmp}/notes.txt"], "not a primer"),
    (["--length", "0"], "--length 0: must be a whole number from 1"),
    (["--length", "-4"], "--length -4"),
    (["--length", "ten"], "--length ten"),
    (["--length", "99999999"], "--length 99999999"),
    (["--count", "0"], "--count 0"),
    (["--count", "2.5"], "--count 2.5"),
    (["--vanish", "1.5"], "--vanish 1.5: must be at least 0 and below 1"),
    (["--max-notes", "0"], "--max-notes 0: must be between 1 and 106"),
    (["--mode", "loud"], "--mode loud: must be one of vanish, threshold, sample"),
    (["--name", "../up"], "--name ../up"),
])
def test_bad_input_is_one_line_and_leaves_nothing(bundle_dir, tmp_path, flags, says):
    (tmp_path / "noise.mid").write_bytes(np.random.default_rng(0).bytes(200))
    (tmp_path / "notes.txt").write_text("C D E")
    old = bundle_copy(bundle_dir, tmp_path / "old", format=0)
    moved = bundle_copy(bundle_dir, tmp_path / "moved", data={"images": str(tmp_path / "gone")})
    flags = [f.format(tmp=tmp_path, old=old, moved=moved) for f in flags]
    out = tmp_path / "output"
    with pytest.raises(PianorollError) as error:
        compose_cli("--model", str(bundle_dir), "--out", str(out), "--length", "8", *flags)
    assert says in str(error.value) and "\n" not in str(error.value)
    assert not out.exists() or not any(out.iterdir())


def test_a_failure_while_writing_leaves_nothing(tmp_path):
    frames = np.zeros((8, PITCHES), dtype=np.float32)
    frames[:, 40] = 1
    too_high = np.zeros((8, PITCHES + 10), dtype=np.float32)  # pitches above MIDI's 127
    too_high[:, -1] = 1
    record = {"kind": "composition", "options": {}, "seed": 0}
    out = tmp_path / "output"
    with pytest.raises(PianorollError):
        compose.write_pieces(out, [("fine", frames, record), ("wrong", too_high, record)], 0.25, 120.0)
    assert list(out.iterdir()) == []
    with pytest.raises(compose.ComposeError, match="not a file name"):
        compose.write_pieces(out, [("sub/piece", frames, record)], 0.25, 120.0)
