"""Export a built-in corpus (music21's bundled Bach chorales) as MIDI files you can play or convert.

Files already exported and newer than their score are kept, so a stopped export resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from pianoroll import images, scores
from pianoroll.commands.images import count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("data/midi/bach"), help="folder for the MIDI files (default: data/midi/bach)")
    parser.add_argument("--name", default="bach", choices=scores.CORPORA, help="which corpus (default: bach)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel processes (default: every core)")


def run(args: argparse.Namespace) -> int:
    todo = [(score, args.out / f"{score.stem}.mid") for score in scores.corpus(args.name)]
    kept = len(todo)
    todo = [(score, target) for score, target in todo if not _exported(score, target)]
    kept -= len(todo)
    written, failed = 0, 0
    with tqdm(total=len(todo), unit="file", desc="midi", disable=not todo) as bar:
        for target, error in images.in_parallel(scores.try_export, todo, args.jobs):
            if error:
                bar.write(f"{target}: {error}", file=sys.stderr)
            written += not error
            failed += bool(error)
            bar.update()
    print(f"{args.name}: {count(written, 'MIDI file')} written, {kept} already there, {failed} failed; in {args.out}/")
    return 0 if written + kept else 1


def _exported(score: Path, target: Path) -> bool:
    return target.is_file() and target.stat().st_mtime >= score.stat().st_mtime
