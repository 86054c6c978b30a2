"""images: a batch of sources → pages + manifest; bad files, names, resuming and parallel runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from pianoroll import PianorollError, images, pages
from pianoroll import roll as rolls
from pianoroll.roll import PAGE_COLUMNS, PITCHES

FIXTURES = Path(__file__).parent / "fixtures"


def scale(start: int, count: int, ticks: int = 480) -> list[str]:
    """A rising line of quarter notes from ``start``: a recognisable little piece."""
    events = []
    for i in range(count):
        events += [f"{i * ticks}, Note_on_c, 0, {start + i % 12}, 80", f"{(i + 1) * ticks}, Note_off_c, 0, {start + i % 12}, 0"]
    return events


@pytest.fixture
def folder(tmp_path, make_midi) -> Path:
    """Music of every kind, good and bad, in nested folders."""
    make_midi("music/long.mid", [scale(48, 40)])  # 160 columns: two pages
    make_midi("music/sub/short.midi", [scale(60, 3), ["0, Note_on_c, 9, 36, 100", "480, Note_off_c, 9, 36, 0"]])
    make_midi("music/sub/drums.mid", [["0, Note_on_c, 9, 36, 100", "480, Note_off_c, 9, 36, 0"]])
    (tmp_path / "music" / "sub" / "empty.mid").write_bytes(b"")
    (tmp_path / "music" / "noise.mid").write_bytes(os.urandom(300))
    (tmp_path / "music" / "notes.txt").write_text("not music")
    (tmp_path / "music" / ".hidden.mid").write_bytes(b"")
    (tmp_path / "music" / "duet.musicxml").write_bytes((FIXTURES / "duet.musicxml").read_bytes())
    return tmp_path / "music"


def convert(sources, out: Path, jobs: int = 1, **options) -> images.Batch:
    batch = images.Batch(images.find_sources(sources), out, images.Options(**options))
    list(batch.run(jobs))
    return batch


def test_a_folder_becomes_pages_and_a_manifest_with_one_reason_per_bad_file(folder, tmp_path):
    batch = convert([folder], tmp_path / "images")
    by_piece = {e.piece: e for e in pages.read_manifest(tmp_path / "images")}
    assert sorted(by_piece) == ["drums", "duet", "empty", "long", "noise", "notes", "short"]
    assert {p: e.reason for p, e in by_piece.items() if not e.ok} == {
        "drums": "only drum notes (channel 10)",
        "empty": "empty file",
        "noise": "not a MIDI file (it does not start with MThd)",
        "notes": "unsupported (.txt files; pianoroll reads .mid, .midi, .xml, .mxl, .musicxml, .abc, .krn)",
    }
    long = by_piece["long"]
    assert (long.pages, long.columns, long.notes, long.dropped, long.resolution) == (2, 160, 40, 0, 0.25)
    assert long.source == str(folder / "long.mid") and long.source_size == (folder / "long.mid").stat().st_size
    assert (by_piece["short"].notes, by_piece["duet"].notes) == (3, 4)
    summary = batch.summary()
    assert (summary.sources, summary.converted, summary.pieces, summary.pages, summary.notes) == (7, 3, 3, 4, 47)
    assert len(summary.errors) == summary.failed == 4  # a file that fails is not "converted" (issue 10)
    written = sorted(p.name for p in (tmp_path / "images").glob("*.png"))
    assert written == ["duet_0000.png", "long_0000.png", "long_0001.png", "short_0000.png"]


def test_pages_hold_exactly_the_notes(folder, tmp_path):
    convert([folder / "long.mid"], tmp_path / "images")
    for path in (tmp_path / "images").glob("*.png"):
        with Image.open(path) as img:
            assert (img.mode, img.size) == ("L", (PAGE_COLUMNS, PITCHES))
    roll, resolution = pages.load_pieces(tmp_path / "images")["long"]
    notes = rolls.to_notes(roll, resolution)
    assert [(n.pitch, n.start, n.end) for n in notes] == [(48 + i % 12, i, i + 1.0) for i in range(40)]


def test_a_rerun_skips_what_is_up_to_date_and_redoes_what_changed(folder, tmp_path):
    out = tmp_path / "images"
    convert([folder], out)
    again = images.Batch(images.find_sources([folder]), out)
    assert again.tasks == []
    assert again.summary().up_to_date == 3 and len(again.summary().errors) == again.summary().failed == 4  # bad files are still reported
    os.utime(folder / "long.mid", (1, 1))
    assert [Path(t.source).name for t in images.Batch(images.find_sources([folder]), out).tasks] == ["long.mid"]
    assert len(images.Batch(images.find_sources([folder]), out, images.Options(resolution=0.5)).tasks) == 7
    assert len(images.Batch(images.find_sources([folder]), out, images.Options(keep_onsets=True)).tasks) == 7
    (out / "short_0000.png").unlink()
    assert [Path(t.source).name for t in images.Batch(images.find_sources([folder]), out).tasks] == ["long.mid", "short.midi"]


def test_a_stopped_batch_keeps_what_it_finished_and_resumes(folder, tmp_path):
    out = tmp_path / "images"
    batch = images.Batch(images.find_sources([folder]), out)
    run = batch.run(1)
    finished = [next(run)[0].source for _ in range(3)]
    run.close()  # what an interrupt does to the generator
    assert sorted(e.source for e in pages.read_manifest(out)) == sorted(finished)
    assert batch.summary().converted + batch.summary().failed == 3
    resumed = images.Batch(images.find_sources([folder]), out)
    assert sorted(t.source for t in resumed.tasks) == sorted(set(map(str, images.find_sources([folder]))) - set(finished))


def test_parallel_jobs_give_the_same_pages(folder, tmp_path):
    convert([folder], tmp_path / "one", jobs=1)
    convert([folder], tmp_path / "two", jobs=2)
    assert [(e.piece, e.status, e.columns) for e in pages.read_manifest(tmp_path / "one")] == [
        (e.piece, e.status, e.columns) for e in pages.read_manifest(tmp_path / "two")
    ]
    for path in (tmp_path / "one").glob("*.png"):
        assert (tmp_path / "two" / path.name).read_bytes() == path.read_bytes()


def test_sources_sharing_a_stem_get_unique_names_that_stay(tmp_path, make_midi):
    make_midi("a/piece.mid", [scale(60, 2)])
    make_midi("b/piece.mid", [scale(72, 2)])
    out = tmp_path / "images"
    convert([tmp_path / "a", tmp_path / "b"], out)
    names = {Path(e.source).parent.name: e.piece for e in pages.read_manifest(out)}
    assert names == {"a": "piece", "b": "piece-2"}
    make_midi("c/piece.mid", [scale(50, 2)])
    convert([tmp_path / "b"], out)  # alone now, it keeps its name; a's pages stay listed
    convert([tmp_path / "c"], out)
    names = {Path(e.source).parent.name: e.piece for e in pages.read_manifest(out)}
    assert names == {"a": "piece", "b": "piece-2", "c": "piece-3"}
    assert sorted(pages.load_pieces(out)) == ["piece", "piece-2", "piece-3"]
    (tmp_path / "a" / "piece.mid").write_bytes(b"")
    convert([tmp_path / "a"], out)  # a fails now: its pages go, its name is free, but b keeps its own
    assert not list(out.glob("piece_*.png"))
    convert([tmp_path / "b"], out)
    assert {Path(e.source).parent.name: (e.piece, e.status) for e in pages.read_manifest(out)}["b"] == ("piece-2", "ok")


def test_split_instruments_gives_a_piece_per_program(tmp_path, make_midi):
    make_midi("band.mid", [["0, Program_c, 0, 0", *scale(60, 4)],
                           ["0, Program_c, 1, 40", "0, Note_on_c, 1, 79, 80", "960, Note_off_c, 1, 79, 0"]])  # fmt: skip
    out = tmp_path / "images"
    convert([tmp_path / "band.mid"], out, split_instruments=True)
    entries = pages.read_manifest(out)
    assert [(e.piece, e.notes, e.options) for e in entries] == [("band-piano-0", 4, "split"), ("band-strings-40", 1, "split")]
    assert images.Batch([tmp_path / "band.mid"], out, images.Options(split_instruments=True)).tasks == []
    convert([FIXTURES / "duet.musicxml"], out, split_instruments=True)
    assert sorted(pages.load_pieces(out)) == ["band-piano-0", "band-strings-40", "duet-cello", "duet-flute"]


def test_onsets_keep_restruck_notes_on_the_page(tmp_path, make_midi):
    make_midi("repeat.mid", [[f"{t}, Note_{kind}_c, 0, 60, {80 if kind == 'on' else 0}"
                              for t0 in (0, 480) for t, kind in ((t0, "on"), (t0 + 480, "off"))]])  # fmt: skip
    convert([tmp_path / "repeat.mid"], tmp_path / "images", keep_onsets=True)
    roll, resolution = pages.load_pieces(tmp_path / "images")["repeat"]
    assert list(roll[:, 60 - rolls.LOWEST_PITCH]) == [255] * 4 + [rolls.ONSET] + [255] * 3
    assert len(rolls.to_notes(roll, resolution)) == 2


def test_notes_outside_the_piano_are_counted_and_a_piece_of_only_those_is_an_error(tmp_path, make_midi):
    make_midi("wide.mid", [["0, Note_on_c, 0, 10, 80", "480, Note_off_c, 0, 10, 0", *scale(60, 1)]])
    make_midi("low.mid", [["0, Note_on_c, 0, 10, 80", "480, Note_off_c, 0, 10, 0"]])
    convert([tmp_path / "wide.mid", tmp_path / "low.mid"], tmp_path / "images")
    by_piece = {e.piece: e for e in pages.read_manifest(tmp_path / "images")}
    assert (by_piece["wide"].notes, by_piece["wide"].dropped) == (1, 1)
    assert by_piece["low"].reason == "all 1 notes lie outside pitches 21..126"


def test_a_missing_source_is_named(tmp_path):
    with pytest.raises(PianorollError, match=r"nowhere: no such file or folder"):
        images.find_sources([tmp_path / "nowhere"])


def test_find_sources_recurses_sorted_and_skips_hidden(folder):
    assert [p.relative_to(folder).as_posix() for p in images.find_sources([folder])] == [
        "duet.musicxml", "long.mid", "noise.mid", "notes.txt", "sub/drums.mid", "sub/empty.mid", "sub/short.midi",
    ]  # fmt: skip


def with_process(item: int) -> tuple[int, int]:
    time.sleep(0.005)  # long enough for the forked worker to start while items are left
    return item, os.getpid()


def test_in_parallel_keeps_every_result_and_shares_the_work():
    assert sorted(images.in_parallel(abs, list(range(-50, 50)), jobs=2)) == sorted(abs(i) for i in range(-50, 50))
    results = list(images.in_parallel(with_process, list(range(60)), jobs=2))
    assert sorted(item for item, _ in results) == list(range(60))
    assert len({process for _, process in results}) == 2  # this process and one worker


def refuse_seven(item: int) -> int:
    if item == 7:
        raise ValueError(f"item {item} refused")
    return item


def die_in_a_worker(item: int) -> int:
    import multiprocessing

    if multiprocessing.parent_process() is not None:  # not in the calling process, which takes items too
        os._exit(3)  # as a worker killed by the system would: no exception, no message
    time.sleep(0.01)  # slow enough that the worker, once forked, finds items left
    return item


def test_in_parallel_raises_a_workers_error_and_stops_the_others():
    with pytest.raises(ValueError, match="item 7 refused"):
        list(images.in_parallel(refuse_seven, list(range(40)), jobs=2))
    with pytest.raises(PianorollError, match="worker process stopped"):
        list(images.in_parallel(die_in_a_worker, list(range(40)), jobs=2))
    import multiprocessing

    assert not multiprocessing.active_children()
