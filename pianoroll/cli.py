"""The command line: ``pianoroll <command> …`` (also ``python -m pianoroll``).

Each command is a thin module in ``pianoroll.commands`` with ``add_arguments``
and ``run``; it parses flags, calls the library and prints. Command modules
import TensorFlow only inside ``run``, so ``images`` and ``--help`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pianoroll import PianorollError, __version__

COMMANDS = {
    "corpus": "export a built-in corpus (music21's bundled scores) as MIDI files",
    "images": "turn files or folders of music into 106×106 piano-roll pages + manifest",
    "midi2image": "turn one file into its pages",
    "image2midi": "turn pages, in the given order, into one MIDI file",
    "train": "train a model on the pages; checkpoints and resumes",
    "compose": "compose new pieces: MIDI, PNG, WAV and JSON",
    "evaluate": "measure a model on its held-out pieces against baselines and real music",
    "benchmark": "measure our speed and quality side by side with the seed's way",
}
TENSORFLOW_HINT = ("TensorFlow is an extra of pianoroll, as its CPU and GPU builds cannot live side by side: "
                   "`make install` (GPU=1 for CUDA), or pip install 'pianoroll[cpu]' or 'pianoroll[gpu]'")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pianoroll", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"pianoroll {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"pianoroll.commands.{name}")
        command = sub.add_parser(name, help=summary, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except PianorollError as error:
        print(f"pianoroll {args.command}: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "tensorflow":  # only a missing TensorFlow gets the hint
            raise
        print(f"pianoroll {args.command}: {TENSORFLOW_HINT}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pianoroll {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
