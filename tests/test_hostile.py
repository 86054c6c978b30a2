"""Issue 10: hostile input and hostile circumstances, each refused on one line without costing the machine.

Every test builds its own file; none needs a fixture on disk.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import importlib.util
import io
import json
import os
import resource
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pianoroll import bundle, cli, images, midi, pages
from pianoroll import roll as rolls
from pianoroll.model import ModelConfig
from pianoroll.roll import ON, ONSET, PITCHES, SILENCE, Note

ROOT = Path(__file__).resolve().parents[1]


def varlen(value: int, pad_to: int = 0) -> bytes:
    """A variable-length quantity, padded with leading 0x80 bytes to ``pad_to`` bytes (a legal value, an illegal length)."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(value & 0x7F)
        value >>= 7
    groups += [0] * (pad_to - len(groups))
    return bytes([0x80 | g for g in reversed(groups[1:])] + [groups[0]])


def one_note_midi(gap: bytes, ticks: int = 480) -> bytes:
    """A format-0 file of one middle C whose note-off comes after the delta ``gap``."""
    body = b"\x00\x90\x3c\x40" + gap + b"\x80\x3c\x00" + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">LHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">L", len(body)) + body


def run_cli(*args: object, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str, *says: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(s in lines[-1] for s in says), err
    assert "Traceback" not in err


# A piece too long to allocate


@pytest.mark.parametrize("gap", [2**26, 2**28 - 1])
def test_a_huge_delta_is_refused_before_any_roll_is_allocated(tmp_path, capsys, gap):
    source = tmp_path / "delta.mid"
    source.write_bytes(one_note_midi(varlen(gap)))
    assert len(source.read_bytes()) == 37
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = run_cli("images", source, "--out", tmp_path / "out", "--jobs", "1", capsys=capsys)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 1 and "above the limit of 100,000 columns (--max-columns)" in err
    assert not list((tmp_path / "out").glob("*.png")) and grown_mb < 50
    [entry] = pages.read_manifest(tmp_path / "out")
    assert not entry.ok and "--max-columns" in entry.reason


def test_max_columns_is_settable_and_a_changed_limit_retries_the_piece(tmp_path, capsys):
    source = tmp_path / "long.mid"
    source.write_bytes(one_note_midi(varlen(480 * 300)))  # 300 beats: 1,200 columns
    code, _, err = run_cli("images", source, "--out", tmp_path / "out", "--max-columns", "1000", capsys=capsys)
    assert code == 1 and "1,200 columns long" in err and "limit of 1,000 columns" in err
    code, out, _ = run_cli("images", source, "--out", tmp_path / "out", "--max-columns", "2000", capsys=capsys)
    assert code == 0 and "1 converted" in out
    code, _, err = run_cli("images", source, "--out", tmp_path / "out", "--max-columns", "0", capsys=capsys)
    one_line_error(err, "--max-columns 0")


# Variable-length quantities and the header


def test_a_quantity_longer_than_four_bytes_is_corrupt_on_both_paths(tmp_path):
    path = tmp_path / "long-quantity.mid"
    path.write_bytes(one_note_midi(varlen(5, pad_to=5)))
    with pytest.raises(midi.MidiError, match="variable-length quantity longer than 4 bytes"):
        midi.read(path)
    with pytest.raises(midi.MidiError, match="variable-length quantity longer than 4 bytes"):
        midi.read_parts(path)  # py_midicsv's path
    with pytest.raises(midi.MidiError, match="variable-length quantity longer than 4 bytes"):
        midi._parse(path.read_bytes(), path)
    path.write_bytes(one_note_midi(varlen(5, pad_to=4)))  # four bytes is the standard's limit
    assert midi.read(path) == midi.read_parts(path)["piano-0"] == [Note(60, 0.0, 5 / 480, 64)]


def test_the_writer_never_writes_a_delta_the_reader_refuses(tmp_path):
    with pytest.raises(midi.MidiError, match="longer than MIDI can say"):
        midi.write([Note(60, 0, 1), Note(61, 600_000, 600_001)], tmp_path / "gap.mid")
    midi.write([Note(60, 0, 1), Note(61, 500_000, 500_001)], tmp_path / "fine.mid")
    assert [n.start for n in midi.read(tmp_path / "fine.mid")] == [0.0, 500_000.0]


def test_zero_ticks_per_quarter_is_named_as_such(tmp_path):
    path = tmp_path / "zero.mid"
    path.write_bytes(one_note_midi(varlen(10), ticks=0))
    with pytest.raises(midi.MidiError, match="ticks per quarter note is 0") as error:
        midi.read(path)
    assert "SMPTE" not in str(error.value)
    with pytest.raises(midi.MidiError, match="ticks per quarter note is 0"):
        midi._parse(path.read_bytes(), path)


# File names that are not UTF-8


def test_a_file_name_that_is_not_utf8_survives_the_manifest_and_reruns(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    name = os.fsdecode(b"caf\xe9.mid")  # Latin-1, as an old archive would have it
    midi.write([Note(60, 0, 1), Note(64, 1, 2)], music / name)
    (music / os.fsdecode(b"bad\xff.mid")).write_bytes(b"not midi")
    code, out, err = run_cli("images", music, "--out", tmp_path / "out", "--jobs", "1", capsys=capsys)
    assert code == 0 and "1 converted" in out and "1 failed" in out and "Traceback" not in err
    assert "bad\\xff.mid" in out  # shown escaped, not a UnicodeEncodeError
    entries = {e.source: e for e in pages.read_manifest(tmp_path / "out")}
    assert entries[str(music / name)].ok and (tmp_path / "out" / pages.page_name(entries[str(music / name)].piece, 0)).is_file()
    code, out, _ = run_cli("images", music, "--out", tmp_path / "out", capsys=capsys)
    assert code == 0 and "0 converted, 1 already up to date, 1 failed" in out
    assert set(pages.load_pieces(tmp_path / "out")) == {os.fsdecode(b"caf\xe9")}


# Pages that lie about themselves


def png(width: int, height: int, bit_depth: int = 8, color: int = 0, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    return pages.PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", idat or zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, says", [(2**31, "far too many pixels"), (200_000, "above the limit of 100,000 columns")])
def test_a_png_header_claiming_too_many_columns_is_one_page_error(tmp_path, capsys, width, says):
    path = tmp_path / "wide.png"
    path.write_bytes(png(width, PITCHES))
    with pytest.raises(pages.PageError, match=says):
        pages.read_image(path)
    code, _, err = run_cli("image2midi", path, "--out", tmp_path / "x.mid", capsys=capsys)
    assert code == 2
    one_line_error(err, str(path))


def test_broken_pngs_are_page_errors_whatever_pillow_raises(tmp_path):
    for number, data in enumerate([png(106, PITCHES, idat=b"garbage"), png(106, PITCHES)[:40], png(106, PITCHES, bit_depth=3),
                                   png(106, PITCHES, color=5), b"\x89PNG\r\n\x1a\n", b""]):  # fmt: skip
        path = tmp_path / f"broken-{number}.png"
        path.write_bytes(data)
        with pytest.raises(pages.PageError, match=str(path)):
            pages.read_image(path)


def test_a_16_bit_page_is_read_by_brightness(tmp_path):
    levels = np.array([0, 328, 32767, 32896, 41120, 65535], dtype=np.uint16)  # 0.5%, just below and above half, ONSET, white
    image = np.zeros((PITCHES, len(levels)), dtype=np.uint16)
    image[50] = levels
    Image.fromarray(image).save(tmp_path / "wide.png")
    with Image.open(tmp_path / "wide.png") as img:
        assert img.mode.startswith("I")
    roll = pages.read_image(tmp_path / "wide.png")
    assert roll[:, PITCHES - 1 - 50].tolist() == [SILENCE, SILENCE, SILENCE, ON, ONSET, ON]
    assert np.count_nonzero(roll) == 3


# to_notes: linear, and exactly as it was


def reference_to_notes(roll: np.ndarray, resolution: float, velocity: int = 90) -> list[Note]:
    """The rule by hand, cell by cell: a run of sounding cells is a note, an ONSET cell inside it starts another."""
    notes = []
    for row in range(roll.shape[1]):
        start = None
        for step in range(roll.shape[0] + 1):
            value = roll[step, row] if step < roll.shape[0] else SILENCE
            sounding = value > rolls.ON_THRESHOLD
            if start is not None and (not sounding or value == ONSET):
                notes.append(Note(row + rolls.LOWEST_PITCH, start * resolution, step * resolution, velocity))
                start = None
            if sounding and start is None:
                start = step
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def test_to_notes_matches_the_rule_on_random_rolls_with_onsets():
    rng = np.random.default_rng(10)
    for _ in range(150):
        shape = (int(rng.integers(0, 30)), int(rng.integers(1, 9)))
        roll = rng.choice(np.array([SILENCE, ON, ONSET, 100, 127, 128, 200], dtype=np.uint8), size=shape,
                          p=[0.35, 0.3, 0.15, 0.05, 0.05, 0.05, 0.05])  # fmt: skip
        resolution = float(rng.choice([0.25, 1 / 3, 0.5, 1.0]))
        assert rolls.to_notes(roll, resolution, 77) == reference_to_notes(roll, resolution, 77)


def test_image2midi_on_a_page_of_20000_alternating_columns_is_quick(tmp_path, capsys):
    image = np.zeros((PITCHES, 20_000), dtype=np.uint8)
    image[:, ::2] = ON
    Image.fromarray(image).save(tmp_path / "alternating.png")
    started = time.monotonic()
    code, out, _ = run_cli("image2midi", tmp_path / "alternating.png", "--out", tmp_path / "fast.mid", capsys=capsys)
    assert code == 0 and "1060000 notes" in out
    assert time.monotonic() - started < 30  # 10 s on a quiet machine; was minutes


def test_the_writer_gives_the_bytes_py_midicsv_objects_gave(tmp_path):
    """The numpy encoder against the object-per-event encoder it replaced, on notes with every kind of tie."""
    from py_midicsv import FileWriter
    from py_midicsv.midi.containers import Pattern, Track
    from py_midicsv.midi.events import EndOfTrackEvent, NoteOffEvent, NoteOnEvent, ProgramChangeEvent

    def by_objects(notes: list[Note], program: int) -> bytes:
        events = []
        for note in notes:
            start = round(note.start * 480)
            stop = max(round(note.end * 480), start + 1)
            velocity = min(max(int(note.velocity), 1), 127)
            events.append((start, 1, note.pitch, NoteOnEvent(tick=start, data=[note.pitch, velocity])))
            events.append((stop, 0, note.pitch, NoteOffEvent(tick=stop, data=[note.pitch, 0])))
        events.sort(key=lambda e: e[:3])
        track = Track(tick_relative=False)
        track.append(ProgramChangeEvent(tick=0, data=[program]))
        track.extend(event for *_, event in events)
        track.append(EndOfTrackEvent(tick=events[-1][0] if events else 0))
        track.make_ticks_rel()
        data = io.BytesIO()
        Pattern.useRunningStatus = False
        FileWriter(data).write_track(track)
        return data.getvalue()

    rng = np.random.default_rng(3)
    for case in range(40):
        notes = [Note(int(rng.integers(0, 128)), float(s), float(s + rng.choice([0, 0.001, 0.5, 1, 300])),
                      int(rng.choice([0, 1, 64, 127, 200])))
                 for s in rng.choice([0, 0.25, 1 / 3, 1, 7, 40_000], size=int(rng.integers(0, 50)))]  # fmt: skip
        path = tmp_path / "ours.mid"
        midi.write(notes, path, program=case % 128)
        ours = path.read_bytes()
        assert ours.endswith(by_objects(notes, case % 128)), case


# Flags and configs


@pytest.mark.parametrize("flags, says", [
    (["--bpm", "1e9"], "--bpm 1000000000.0"), (["--bpm", "inf"], "--bpm inf"), (["--bpm", "nan"], "--bpm nan"),
    (["--bpm", "0"], "--bpm 0"), (["--bpm", "1"], "--bpm 1"), (["--resolution", "inf"], "--resolution inf"),
    (["--resolution", "0"], "--resolution 0"), (["--resolution", "17"], "--resolution 17"),
])  # fmt: skip
def test_image2midi_refuses_a_tempo_or_resolution_it_cannot_write(tmp_path, capsys, flags, says):
    pages.write_image(np.full((PITCHES, 4), ON, dtype=np.uint8), tmp_path / "page.png")
    code, _, err = run_cli("image2midi", tmp_path / "page.png", "--out", tmp_path / "x.mid", *flags, capsys=capsys)
    assert code == 2 and not (tmp_path / "x.mid").exists()
    one_line_error(err, says)


def test_midi_write_refuses_a_tempo_of_zero_microseconds(tmp_path):
    with pytest.raises(midi.MidiError, match="tempo"):
        midi.write([Note(60, 0, 1)], tmp_path / "x.mid", bpm=1e9)


def write_bundle_config(folder: Path, config: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / bundle.MODEL_FILE).write_bytes(b"")
    (folder / bundle.CONFIG_FILE).write_text(json.dumps(config))
    return folder


def full_config(**changes) -> bundle.BundleConfig:
    """A config with every field set, optional ones included."""
    music = bundle.TrainingMusic(density=3.5, longest_note_beats=4.0, change_share=0.25, note_survival=(1.0, 0.5, 0.0))
    data = bundle.DataSummary(images="images", pieces=3, frames=540, train_pieces=("a", "b"), held_out_pieces=("c",),
                              held_out_fraction=0.1, music=music)
    return dataclasses.replace(bundle.BundleConfig(
        arch="convlstm", loss="bce", model=ModelConfig(), seed=0, resolution=0.25, data=data, transpose=2,
        strategy="none", metrics=bundle.Metrics(bundle.FrameScores(nll=7.5, brier=0.03, f1=0.5)),
        stepping_agreement=1e-6, epochs=4, best_epoch=3, version="0.1.0"), **changes)


GOOD_CONFIG = {**full_config().to_json(), **bundle.grid()}


@pytest.mark.parametrize("config, says", [
    ([1, 2], "a JSON list, not an object"),
    ({k: v for k, v in GOOD_CONFIG.items() if k != "resolution"}, "resolution is missing"),
    ({**GOOD_CONFIG, "resolution": 0}, "resolution is 0"),
    ({**GOOD_CONFIG, "resolution": "fast"}, "resolution is \"fast\""),
    ({**GOOD_CONFIG, "resolution": True}, "resolution is true"),
    ({**GOOD_CONFIG, "arch": "gpt"}, "arch is \"gpt\", must be one of seed, independent, convlstm"),
    ({**GOOD_CONFIG, "model": []}, "model is []"),
    ({k: v for k, v in GOOD_CONFIG.items() if k != "data"}, "data is missing"),
    ({**GOOD_CONFIG, "data": {**GOOD_CONFIG["data"], "images": 3}}, "data.images is 3"),
])  # fmt: skip
def test_read_config_names_the_field_that_is_wrong(tmp_path, config, says):
    folder = write_bundle_config(tmp_path / "model", config)
    with pytest.raises(bundle.BundleError) as error:
        bundle.read_config(folder)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_read_config_takes_a_good_config(tmp_path):
    assert bundle.read_config(write_bundle_config(tmp_path / "model", GOOD_CONFIG)).arch == "convlstm"


def changed(config: dict, field: str, value: object) -> dict:
    """A copy of a config.json object with one dotted field set, or left out when ``value`` is MISSING."""
    copy = json.loads(json.dumps(config))
    *parents, key = field.split(".")
    inner = copy
    for parent in parents:
        inner = inner[parent]
    if value is MISSING:
        del inner[key]
    else:
        inner[key] = value
    return copy


MISSING = object()


@pytest.mark.parametrize("field, value, says", [
    ("loss", "hinge", 'loss is "hinge", must be one of mse, bce'), ("seed", 1.5, "seed is 1.5"),
    ("transpose", -1, "transpose is -1"), ("strategy", "cloud", 'strategy is "cloud"'),
    ("epochs", "two", 'epochs is "two"'), ("epochs", MISSING, "epochs is missing"), ("best_epoch", 0, "best_epoch is 0"),
    ("version", 3, "version is 3"), ("version", MISSING, "version is missing"),
    ("stepping_agreement", -0.5, "stepping_agreement is -0.5"), ("metrics", [], "metrics is []"),
    ("metrics.held_out", MISSING, "metrics.held_out is missing"), ("metrics.held_out.brier", 2, "metrics.held_out.brier is 2"),
    ("metrics.held_out.nll", "low", 'metrics.held_out.nll is "low"'), ("metrics.held_out.f1", True, "metrics.held_out.f1 is true"),
    ("data.pieces", -1, "data.pieces is -1"), ("data.frames", "many", 'data.frames is "many"'),
    ("data.train_pieces", [1], "data.train_pieces is [1]"), ("data.held_out_pieces", "c", 'data.held_out_pieces is "c"'),
    ("data.held_out_fraction", 1.5, "data.held_out_fraction is 1.5"), ("data.music", 3, "data.music is 3"),
    ("data.music.density", -1, "data.music.density is -1"), ("data.music.change_share", 1.5, "data.music.change_share is 1.5"),
    ("data.music.longest_note_beats", MISSING, "data.music.longest_note_beats is missing"),
    ("data.music.note_survival", [1, 2], "data.music.note_survival is [1, 2]"),
    ("data.music.note_survival", "all", 'data.music.note_survival is "all"'),
    ("model.dropout", 1.5, "model.dropout is 1.5"), ("model.beat", 1, "model.beat is 1"),
    ("model.lstm_units", 12.5, "model.lstm_units is 12.5"), ("model.head", "mlp", 'model.head is "mlp"'),
    ("model.wings", 2, "model.wings is 2"),
])  # fmt: skip
def test_each_wrong_field_is_one_line_naming_it_and_the_file(tmp_path, field, value, says):
    folder = write_bundle_config(tmp_path / "model", changed(GOOD_CONFIG, field, value))
    with pytest.raises(bundle.BundleError) as error:
        bundle.read_config(folder)
    message = str(error.value)
    assert says in message and str(folder / bundle.CONFIG_FILE) in message and "\n" not in message


@pytest.mark.parametrize("config", [
    full_config(),
    full_config(metrics=None, stepping_agreement=None, best_epoch=None,
                data=dataclasses.replace(full_config().data, music=None, train_pieces=())),
])  # fmt: skip
def test_a_config_round_trips_through_json_and_the_file(tmp_path, config):
    assert bundle.BundleConfig.from_json(config.to_json(), tmp_path / "config.json") == config
    assert bundle.read_config(write_bundle_config(tmp_path / "model", {**config.to_json(), **bundle.grid()})) == config


def test_a_bundle_from_before_the_note_survival_reads_without_it(tmp_path):
    folder = write_bundle_config(tmp_path / "model", changed(GOOD_CONFIG, "data.music.note_survival", MISSING))
    assert bundle.read_config(folder).data.music.note_survival == ()


def test_network_settings_left_out_take_the_defaults(tmp_path):
    folder = write_bundle_config(tmp_path / "model", {**GOOD_CONFIG, "model": {"lstm_units": 8}})
    assert bundle.read_config(folder).model == ModelConfig(lstm_units=8)


# Our own output failing


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_stops_the_batch_with_one_line_naming_the_output(tmp_path, capsys, monkeypatch):
    music = tmp_path / "music"
    for name in ("a", "b", "c"):
        midi.write([Note(60, 0, 1)], music / f"{name}.mid")
    real_write = pages.write_atomic

    def fill_up(path, data):  # the disk fills while b's pages are written: a is done, the manifest cannot be written
        if Path(path).name.startswith("b_") or Path(path).name == pages.MANIFEST:
            enospc()
        real_write(path, data)

    monkeypatch.setattr(pages, "write_atomic", fill_up)
    code, out, err = run_cli("images", music, "--out", tmp_path / "out", "--jobs", "1", capsys=capsys)
    assert code == 2
    one_line_error(err, str(tmp_path / "out"), "No space left on device")
    assert "cannot be read" not in err and "b.mid" not in err  # never blames the input
    monkeypatch.setattr(pages, "write_atomic", real_write)
    assert sorted(os.listdir(tmp_path / "out")) == [".pianoroll.lock", "a_0000.png"]  # no manifest, no temporaries


def test_a_failed_page_write_keeps_the_manifest_of_what_finished(tmp_path, capsys, monkeypatch):
    music = tmp_path / "music"
    for name in ("a", "b"):
        midi.write([Note(60, 0, 1)], music / f"{name}.mid")
    real_write = pages.write_atomic

    def pages_of_b_fail(path, data):
        if Path(path).name.startswith("b_"):
            enospc()
        real_write(path, data)

    monkeypatch.setattr(pages, "write_atomic", pages_of_b_fail)
    code, _, err = run_cli("images", music, "--out", tmp_path / "out", "--jobs", "1", capsys=capsys)
    assert code == 2
    one_line_error(err, "cannot write pages (No space left on device)")
    assert [(e.source, e.ok) for e in pages.read_manifest(tmp_path / "out")] == [(str(music / "a.mid"), True)]


def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    midi.write([Note(60, 0, 1)], tmp_path / "a.mid")
    (tmp_path / "out").write_text("a file")
    code, _, err = run_cli("images", tmp_path / "a.mid", "--out", tmp_path / "out", capsys=capsys)
    assert code == 2
    one_line_error(err, str(tmp_path / "out"), "cannot be used as the output folder")


# Folders, temporaries, locks


def test_a_symlinked_folder_is_followed_once(tmp_path):
    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    midi.write([Note(60, 0, 1)], music / "here.mid")
    midi.write([Note(62, 0, 1)], elsewhere / "there.mid")
    (music / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(music, target_is_directory=True)  # a link back up
    (music / "again").symlink_to(elsewhere, target_is_directory=True)  # the same folder twice
    found = images.find_sources([music])
    assert len(found) == 2 and {p.name for p in found} == {"here.mid", "there.mid"}


def test_stale_temporaries_of_dead_writers_are_removed_when_a_run_starts(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = 2**22 + 12345  # above the kernel's pid_max
    stale = out / f".piece_0000.png.{dead}-0.tmp"
    stale.write_bytes(b"")
    live = out / f".piece_0001.png.{os.getpid()}-7.tmp"  # a writer still at work
    live.write_bytes(b"")
    theirs = out / ".notes.tmp"
    theirs.write_bytes(b"")
    midi.write([Note(60, 0, 1)], tmp_path / "a.mid")
    code, _, _ = run_cli("images", tmp_path / "a.mid", "--out", out, capsys=capsys)
    assert code == 0 and not stale.exists() and live.exists() and theirs.exists()


def test_a_second_run_into_a_locked_folder_stops_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    midi.write([Note(60, 0, 1)], tmp_path / "a.mid")
    with open(out / images.LOCK_FILE, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.write("4242\n")
        holder.flush()
        code, _, err = run_cli("images", tmp_path / "a.mid", "--out", out, capsys=capsys)
        assert code == 2
        one_line_error(err, "another run (process 4242)")
        assert not (out / pages.MANIFEST).exists()
    code, _, _ = run_cli("images", tmp_path / "a.mid", "--out", out, capsys=capsys)
    assert code == 0 and (out / images.LOCK_FILE).read_text().strip() == str(os.getpid())


def test_a_failing_file_is_counted_as_failed(tmp_path, capsys):
    midi.write([Note(60, 0, 1)], tmp_path / "music" / "good.mid")
    (tmp_path / "music" / "bad.mid").write_bytes(b"MThd")
    code, out, _ = run_cli("images", tmp_path / "music", "--out", tmp_path / "out", capsys=capsys)
    assert code == 0 and "2 source files: 1 converted, 0 already up to date, 1 failed" in out


# The fuzzer, briefly


def test_a_short_fuzz_run_finds_nothing():
    spec = importlib.util.spec_from_file_location("fuzz", ROOT / "scripts" / "fuzz.py")
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    failures = []
    counts = fuzz.run(200, 50, seed=0, out=failures.append)
    assert (counts["midi"], counts["png"]) == (200, 50)
    assert failures == []
