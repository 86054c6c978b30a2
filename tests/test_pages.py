"""pages: rolls ↔ 106×106 grayscale PNGs, and the manifest that joins pages back into pieces."""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import stat

import numpy as np
import pytest
from PIL import Image

from pianoroll import files, pages
from pianoroll import roll as rolls
from pianoroll.roll import ON, ONSET, PAGE_COLUMNS, PITCHES, SILENCE, Note


def test_a_page_is_an_8_bit_grayscale_png_106_square_with_pitch_126_on_top(tmp_path):
    roll, _ = rolls.from_notes([Note(126, 0, 0.25), Note(21, 0.25, 0.75), Note(60, 0.25, 0.5), Note(60, 0.5, 1)], 0.25,
                               keep_onsets=True)  # fmt: skip
    [path] = pages.write_pages(roll, tmp_path, "piece")
    assert path.name == "piece_0000.png"
    with Image.open(path) as img:
        assert (img.format, img.mode, img.size) == ("PNG", "L", (PAGE_COLUMNS, PITCHES))
        pixels = np.asarray(img)
    assert pixels[0, 0] == ON  # pitch 126, first step
    assert list(pixels[PITCHES - 1, :3]) == [SILENCE, ON, ON]  # A0, steps 1-2
    assert list(pixels[PITCHES - 1 - (60 - 21), 1:4]) == [ON, ONSET, ON]
    assert set(np.unique(pixels)) == {SILENCE, ONSET, ON}
    assert [p.name for p in tmp_path.iterdir()] == ["piece_0000.png"]  # nothing temporary left behind


@pytest.mark.parametrize("shape", [(PITCHES, PAGE_COLUMNS), (PITCHES, 1), (3, 700)])
def test_our_png_encoder_gives_exactly_the_pixels_to_pillow(shape):
    image = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    with Image.open(io.BytesIO(pages.encode_png(image))) as img:
        img.load()  # checks every chunk's CRC and the zlib stream
        assert (img.format, img.mode, img.size) == ("PNG", "L", shape[::-1])
        np.testing.assert_array_equal(np.asarray(img), image)


def test_atomic_writes_make_the_folder_honour_the_umask_and_pass_stale_temporaries(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_temporaries", itertools.count())  # so the stale names below are the next ones
    target = tmp_path / "new" / "folder" / "file.bin"
    for serial in range(3):  # what a killed process with our id could have left
        (tmp_path / "new" / "folder").mkdir(parents=True, exist_ok=True)
        (target.parent / f".file.bin.{os.getpid()}-{serial}.tmp").write_bytes(b"stale")
    old = os.umask(0o027)
    try:
        files.write_atomic(target, b"fresh")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"fresh"
    assert sorted(p.name for p in target.parent.iterdir())[-1] == "file.bin"  # and the three stale ones, untouched
    assert len(list(target.parent.iterdir())) == 4
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_long_piece_is_cut_into_exact_pages_that_join_back(tmp_path):
    # a note across the boundary between the first and second page, and one on the last column
    notes = [Note(60, 0, 1), Note(64, (PAGE_COLUMNS - 2) * 0.25, (PAGE_COLUMNS + 3) * 0.25), Note(67, 52.0, 52.25)]
    roll, _ = rolls.from_notes(notes, 0.25)
    paths = pages.write_pages(roll, tmp_path, "long")
    assert [p.name for p in paths] == ["long_0000.png", "long_0001.png"] and roll.shape[0] == 209
    joined = pages.join(paths, columns=roll.shape[0])
    np.testing.assert_array_equal(joined, roll)
    assert pages.join(paths).shape[0] == 2 * PAGE_COLUMNS  # the padding of the last page, unless cut


def test_rewriting_a_shorter_piece_removes_its_old_pages(tmp_path):
    long, _ = rolls.from_notes([Note(60, 0, 80)], 0.25)
    short, _ = rolls.from_notes([Note(60, 0, 1)], 0.25)
    assert len(pages.write_pages(long, tmp_path, "p")) == 4
    pages.write_pages(short, tmp_path, "p")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p_0000.png"]


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
def test_any_png_106_high_reads_brighter_than_half_as_on(tmp_path, mode):
    drawing = Image.new("L", (30, PITCHES), 0)
    drawing.paste(255, (2, 50, 10, 51))  # row 50 = pitch 126 - 50 = 76, columns 2..9
    drawing.paste(100, (12, 50, 20, 51))  # too dark to sound
    drawing.convert(mode).save(tmp_path / "drawn.png")
    roll = pages.read_image(tmp_path / "drawn.png")
    assert roll.shape == (30, PITCHES)
    assert rolls.to_notes(roll, 0.25) == [Note(76, 0.5, 2.5)]


def test_transparent_pixels_are_silence(tmp_path):
    drawing = Image.new("RGBA", (8, PITCHES), (255, 255, 255, 0))
    drawing.paste((255, 255, 255, 255), (0, 0, 4, 1))
    drawing.save(tmp_path / "clear.png")
    assert rolls.to_notes(pages.read_image(tmp_path / "clear.png"), 1.0) == [Note(126, 0.0, 4.0)]


def test_a_page_of_the_wrong_height_or_not_a_png_is_named(tmp_path):
    Image.new("L", (106, 88)).save(tmp_path / "short.png")
    with pytest.raises(pages.PageError, match=r"short\.png: a page must be 106 pixels high, this one is 88"):
        pages.read_image(tmp_path / "short.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(pages.PageError, match=r"text\.png: not a readable PNG"):
        pages.read_image(tmp_path / "text.png")


def test_the_manifest_round_trips_and_rejoins_pieces(tmp_path):
    roll, _ = rolls.from_notes([Note(60, 0, 30), Note(72, 29, 30.25)], 0.25)
    pages.write_pages(roll, tmp_path, "a")
    entries = [
        pages.Entry("src/a.mid", "a", pages=2, columns=roll.shape[0], notes=2, source_size=10, source_mtime=1.5, options="onsets"),
        pages.Entry("src/b.mid", "b", status="error", reason="no notes"),
    ]
    pages.write_manifest(tmp_path, reversed(entries))
    assert pages.read_manifest(tmp_path) == entries
    [(name, (joined, resolution))] = pages.load_pieces(tmp_path).items()
    assert name == "a" and resolution == 0.25
    np.testing.assert_array_equal(joined, roll)


def test_a_manifest_without_the_options_column_still_reads(tmp_path):
    entry = pages.Entry("x.mid", "x", pages=1, columns=3)
    fields = [f for f in pages.FIELDS if f != "options"]
    row = dataclasses.asdict(entry)
    (tmp_path / pages.MANIFEST).write_text(",".join(fields) + "\n" + ",".join(str(row[f]) for f in fields) + "\n")
    assert pages.read_manifest(tmp_path) == [entry]


def test_load_pieces_names_a_missing_page(tmp_path):
    pages.write_manifest(tmp_path, [pages.Entry("a.mid", "a", pages=1, columns=4)])
    with pytest.raises(pages.PageError, match=r"a_0000\.png: listed in the manifest but missing"):
        pages.load_pieces(tmp_path)


@pytest.mark.parametrize("page, says", [
    (b"not a png at all", r"a_0000\.png: not a readable PNG"),
    (np.zeros((PITCHES, 50), np.uint8), r"a_0000\.png: a page must be 106×106, this one is 50×106"),
])
def test_load_pieces_names_a_page_it_cannot_use(tmp_path, page, says):
    path = tmp_path / pages.page_name("a", 0)
    path.write_bytes(page) if isinstance(page, bytes) else pages.write_image(page, path)
    pages.write_manifest(tmp_path, [pages.Entry("a.mid", "a", pages=1, columns=4)])
    with pytest.raises(pages.PageError, match=says):
        pages.load_pieces(tmp_path)
