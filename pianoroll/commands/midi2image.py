"""Turn one music file (MIDI, MusicXML, ABC or kern) into its 106×106 pages, listed in the folder's manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from pianoroll import PianorollError, images
from pianoroll.commands.images import add_conversion_arguments, convert, options, shown
from pianoroll.pages import page_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a .mid/.midi, MusicXML, ABC or kern file")
    parser.add_argument("--out", type=Path, default=Path("images"), help="folder for the pages (default: images)")
    add_conversion_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise PianorollError(f"{args.file}: no such file" + (" (it is a folder: use `pianoroll images`)" if args.file.is_dir() else ""))
    settings = options(args)
    with images.locked(args.out):
        batch = images.Batch([args.file], args.out, settings)
        summary = convert(batch, jobs=1)
    for entry in batch.entries.get(str(args.file), []):
        for index in range(entry.pages if entry.ok else 0):
            print(shown(args.out / page_name(entry.piece, index)))
    return 0 if summary.pieces else 1
