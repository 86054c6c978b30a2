"""Turn music files or folders (MIDI, MusicXML, ABC, kern) into 106×106 piano-roll pages + a manifest.

With no SRC the built-in Bach chorales (music21's corpus) are converted. Folders
are searched recursively. A file that cannot be read is reported on one line and
the batch goes on; re-running skips sources whose pages are up to date, so a
stopped batch resumes. Exits non-zero only when nothing could be converted,
or when the output folder cannot be written (one line naming it) or is in use
by another run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from tqdm import tqdm

from pianoroll import PianorollError, images, scores
from pianoroll.roll import DEFAULT_RESOLUTION

MAX_RESOLUTION = 16.0  # quarter notes a column: four 4/4 bars; coarser is no roll anyone can read


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", metavar="SRC", type=Path,
                        help="files or folders (default: the built-in Bach chorales)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("images"), help="folder for pages and manifest.csv (default: images)")
    add_conversion_arguments(parser)
    parser.add_argument("--jobs", type=int, default=None, help="parallel processes (default: every core)")


def add_conversion_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that shape pages, shared with midi2image."""
    parser.add_argument("--resolution", type=float, default=DEFAULT_RESOLUTION,
                        help="quarter notes per column (default: 0.25, a sixteenth)")  # fmt: skip
    parser.add_argument("--onsets", action="store_true",
                        help="mark a note struck again at once on its own pitch with a darker ONSET pixel (160), "
                             "so it stays a note of its own; still reads as 'on'")  # fmt: skip
    parser.add_argument("--split-instruments", action="store_true",
                        help="one piece per instrument (MIDI program, or score part), as midi2img did")  # fmt: skip
    parser.add_argument("--max-columns", type=int, default=images.MAX_COLUMNS,
                        help=f"refuse a piece longer than this many columns (default: {images.MAX_COLUMNS:,})")  # fmt: skip


def options(args: argparse.Namespace) -> images.Options:
    check_resolution(args.resolution)
    if args.max_columns < 1:
        raise PianorollError(f"--max-columns {args.max_columns}: must be at least 1")
    return images.Options(args.resolution, args.onsets, args.split_instruments, args.max_columns)


def check_resolution(resolution: float) -> None:
    """A column's length in quarter notes, finite and sane: inf or 1e300 would make every note one column."""
    if not (0 < resolution <= MAX_RESOLUTION and math.isfinite(resolution)):
        raise PianorollError(f"--resolution {resolution}: must be above 0 and at most {MAX_RESOLUTION:g} quarter notes")


def shown(name: object) -> str:
    """A file name as the terminal can print it: bytes that are not UTF-8 as escapes, never a UnicodeEncodeError."""
    return os.fsencode(str(name)).decode("utf-8", "backslashreplace")


def run(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise PianorollError(f"--jobs {args.jobs}: must be at least 1")
    settings = options(args)
    sources = images.find_sources(args.sources) if args.sources else scores.chorales()
    with images.locked(args.out):
        summary = convert(images.Batch(sources, args.out, settings), args.jobs)
    return 0 if summary.pieces else 1


def convert(batch: images.Batch, jobs: int | None) -> images.Summary:
    """Run a batch under a progress bar, say what could not be read as it happens, then sum up."""
    tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked while the bar runs
    with tqdm(total=len(batch.tasks), unit="file", desc="pages", disable=not batch.tasks) as bar:
        for entries in batch.run(jobs):
            for entry in entries:
                if not entry.ok:
                    bar.write(shown(f"{entry.source}: {entry.reason}"), file=sys.stderr)
            bar.update()
    summary = batch.summary()
    print(report(summary, batch))
    return summary


def report(summary: images.Summary, batch: images.Batch) -> str:
    lines = [
        f"{count(summary.sources, 'source file')}: {summary.converted} converted, "
        f"{summary.up_to_date} already up to date, {summary.failed} failed",
        f"{count(summary.pieces, 'piece')}, {count(summary.pages, 'page')}, {count(summary.notes, 'note')}"
        + (f" ({summary.dropped} outside pitches 21..126 dropped)" if summary.dropped else ""),
        *(f"  skipped {shown(source)}: {shown(reason)}" for source, reason in summary.errors),
        f"pages and manifest in {shown(batch.out_dir)}/",
    ]
    return "\n".join(lines)


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
