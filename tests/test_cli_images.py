"""The images, midi2image and image2midi commands, run as a user runs them: in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import py_midicsv
from PIL import Image

from pianoroll import midi, pages
from pianoroll.roll import PITCHES, Note

ROOT = Path(__file__).resolve().parents[1]


def pianoroll(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pianoroll", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_images_converts_a_folder_reports_bad_files_on_one_line_each_and_sums_up(tmp_path):
    music = tmp_path / "music"
    midi.write([Note(60 + i, i, i + 1) for i in range(12)], music / "good.mid")
    (music / "bad.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00")
    result = pianoroll("images", music, "--out", tmp_path / "images", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(music))]
    assert errors == [f"{music / 'bad.mid'}: truncated (track 1 of 2 is cut off)"]
    assert "2 source files: 1 converted, 0 already up to date, 1 failed" in result.stdout
    assert "1 piece, 1 page, 12 notes" in result.stdout
    assert f"skipped {music / 'bad.mid'}: truncated" in result.stdout
    assert [e.piece for e in pages.read_manifest(tmp_path / "images") if e.ok] == ["good"]
    rerun = pianoroll("images", music, "--out", tmp_path / "images")
    assert rerun.returncode == 0 and "0 converted, 1 already up to date, 1 failed" in rerun.stdout


def test_images_fails_only_when_nothing_converts(tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "empty.mid").write_bytes(b"")
    result = pianoroll("images", tmp_path / "music", "--out", tmp_path / "images")
    assert result.returncode == 1 and "0 pieces" in result.stdout
    missing = pianoroll("images", tmp_path / "nowhere", "--out", tmp_path / "images")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"pianoroll images: {tmp_path / 'nowhere'}: no such file or folder"


def test_images_never_imports_tensorflow(tmp_path):
    midi.write([Note(60, 0, 1)], tmp_path / "one.mid")
    code = (
        "import sys\nfrom pianoroll.cli import main\n"
        f"assert main(['images', {str(tmp_path / 'one.mid')!r}, '--out', {str(tmp_path / 'images')!r}, '--jobs', '1']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_midi2image_then_image2midi_gives_the_notes_back(tmp_path):
    notes = [Note(60, 0, 1), Note(60, 1, 2), Note(67, 20, 40), Note(72, 39.75, 40)]
    midi.write(notes, tmp_path / "tune.mid", bpm=90)
    made = pianoroll("midi2image", tmp_path / "tune.mid", "--out", tmp_path / "images", "--onsets")
    assert made.returncode == 0, made.stderr
    listed = [line for line in made.stdout.splitlines() if line.endswith(".png")]
    assert listed == [str(tmp_path / "images" / "tune_0000.png"), str(tmp_path / "images" / "tune_0001.png")]
    back = pianoroll("image2midi", *listed, "--out", tmp_path / "back.mid", "--bpm", "100", "--velocity", "70")
    assert back.returncode == 0, back.stderr
    assert midi.read(tmp_path / "back.mid") == [n._replace(velocity=70) for n in notes]
    assert "Tempo, 600000" in "".join(py_midicsv.midi_to_csv(str(tmp_path / "back.mid")))


def test_image2midi_plays_a_drawing_of_any_width_and_names_a_bad_one(tmp_path):
    drawing = Image.new("RGBA", (40, PITCHES), (0, 0, 0, 0))
    drawing.paste((250, 250, 250, 255), (0, PITCHES - 1 - (69 - 21), 8, PITCHES - (69 - 21)))  # A4 for 8 columns
    drawing.save(tmp_path / "drawn.png")
    result = pianoroll("image2midi", tmp_path / "drawn.png", "--out", tmp_path / "drawn.mid", "--resolution", "0.5")
    assert result.returncode == 0, result.stderr
    assert midi.read(tmp_path / "drawn.mid") == [Note(69, 0.0, 4.0, 90)]
    Image.new("L", (40, 50)).save(tmp_path / "small.png")
    bad = pianoroll("image2midi", tmp_path / "small.png", "--out", tmp_path / "x.mid")
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"pianoroll image2midi: {tmp_path / 'small.png'}: a page must be 106 pixels high, this one is 50"
    assert not (tmp_path / "x.mid").exists()


def test_corpus_keeps_what_it_exported_and_redoes_what_is_missing(tmp_path):
    from pianoroll import scores

    chorales = scores.chorales()
    out = tmp_path / "bach"
    out.mkdir()
    for score in chorales[1:]:  # as if a first export stopped before its first file
        (out / f"{score.stem}.mid").write_bytes(b"")
    result = pianoroll("corpus", "--out", out, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert f"bach: 1 MIDI file written, {len(chorales) - 1} already there, 0 failed" in result.stdout
    first = out / f"{chorales[0].stem}.mid"
    assert midi.read(first) and sorted(p.name for p in out.iterdir()) == sorted(f"{s.stem}.mid" for s in chorales)
