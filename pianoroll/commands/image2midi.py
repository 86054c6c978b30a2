"""Turn pages, in the given order, into one MIDI file: any PNG 106 pixels high, so a drawn roll plays too.

A pixel brighter than 50% sounds (grayscale, RGB or RGBA; transparent is silence).
A run of sounding pixels is one note; a darker ONSET pixel (160, written by
`images --onsets`) inside a run starts a new note there, so a re-struck note
stays two notes.

A page may be at most 100,000 columns wide (pages.MAX_PAGE_COLUMNS); the tempo
is 3.58 (MIDI's slowest) to 1000 quarter notes a minute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pianoroll import PianorollError, midi, pages
from pianoroll import roll as rolls
from pianoroll.commands.images import check_resolution, shown

MAX_BPM = 1000.0  # quarter notes a minute: faster is no tempo, and 1e9 would round to a tempo of 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pngs", nargs="+", type=Path, metavar="PNG", help="pages, in the order to play them")
    parser.add_argument("--out", type=Path, default=Path("piece.mid"), help="the MIDI file to write (default: piece.mid)")
    parser.add_argument("--bpm", type=float, default=midi.DEFAULT_BPM, help="tempo in quarter notes per minute (default: 120)")
    parser.add_argument("--resolution", type=float, default=rolls.DEFAULT_RESOLUTION,
                        help="quarter notes per column (default: 0.25, a sixteenth)")  # fmt: skip
    parser.add_argument("--velocity", type=int, default=90, help="loudness of every note, 1..127 (default: 90)")


def run(args: argparse.Namespace) -> int:
    check_resolution(args.resolution)
    if not midi.MIN_BPM <= args.bpm <= MAX_BPM:  # NaN too
        raise PianorollError(f"--bpm {args.bpm}: must be from {midi.MIN_BPM:.2f} to {MAX_BPM:g} quarter notes a minute")
    if not 1 <= args.velocity <= 127:
        raise PianorollError(f"--velocity {args.velocity}: must be 1..127")
    roll = pages.join(args.pngs)
    notes = rolls.to_notes(roll, args.resolution, velocity=args.velocity)
    try:
        midi.write(notes, args.out, bpm=args.bpm)
    except OSError as error:
        raise PianorollError(f"{args.out}: cannot be written ({error.strerror or error})") from None
    seconds = roll.shape[0] * args.resolution * 60 / args.bpm
    print(shown(f"{args.out}: {len(notes)} notes from {len(args.pngs)} pages, {seconds:.1f} s at {args.bpm:g} bpm"))
    return 0
