"""Compose new pieces from a trained bundle: <name>.mid .png .wav .json in OUT, and OUT/index.html.

Each piece starts from a primer window (by default a random window of the
bundle's training pieces, chosen by --seed), then the model is stepped one
column at a time, each column decided pitch by pitch, lowest first.
--mode vanish (the default): a pitch that is not sounding starts when
p + v >= 1, and a sounding pitch goes on with probability p while the
window shows its start, then with √(p × the training notes' chance of going
on); starts and ends keep to the beat, a beat that repeats the last
column is drawn again, and after a column with at most half the training
music's notes, starts need less (voices that dropped out come back, up to
the usual number). The default network keeps the piece in its key: it
reads the pitch classes of every column since the primer began, the
primer's counted 16 times over.
v starts at --vanish and is multiplied by --vanish-inc after every column
while the piece is sparser than the training music over the last bar
(divided while it is denser). --mode seed-vanish is the seed's rule exactly
(p + v >= 1 for every pitch, v multiplied by --vanish-inc every step); threshold and sample
are the alternatives. The same bundle, options and seed always give the same
MIDI bytes. A bundle of an event network (tokens, notes, messages) composes
event by event instead, by --mode sample or seed (docs/seeds.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
from pathlib import Path

from pianoroll import PianorollError, midi
from pianoroll.compose import EVENT_MODES, MODES, SILENCE_PRIMER, VANISH_INC, Settings

MAX_LENGTH = 10_000  # columns: 2,500 quarter notes at the default resolution
MAX_COUNT = 256
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.add_argument("--model", default="models/default", help="the bundle to compose with (default: %(default)s)")
    parser.add_argument("--out", default="output", help="folder for the pieces and index.html (default: %(default)s)")
    parser.add_argument("--mode", default=None,
                        help=f"how probabilities become notes: {', '.join(MODES)} (default: {defaults.mode}); "
                             f"the event networks (tokens, notes, messages): {', '.join(EVENT_MODES)} (default: sample)")
    parser.add_argument("--vanish", default=str(defaults.vanish), metavar="V", help="vanish: the seed's vanish_proof offset (default: %(default)s)")
    parser.add_argument("--vanish-inc", default=None, metavar="X",
                        help=f"vanish: the offset's steering factor per column (default: {VANISH_INC['vanish']}); "
                             f"seed-vanish: its growth per step (default: {VANISH_INC['seed-vanish']}, the seed's)")
    parser.add_argument("--threshold", default=str(defaults.threshold), metavar="P", help="threshold: the probability a pitch needs (default: %(default)s)")
    parser.add_argument("--temperature", default=str(defaults.temperature), metavar="T", help="sample: divides the logits (default: %(default)s)")
    parser.add_argument("--max-notes", default=None, metavar="N", help="keep at most N of the most probable pitches per column")
    parser.add_argument("--length", default="106", metavar="COLUMNS", help="columns to compose (default: %(default)s, a page)")
    parser.add_argument("--count", default="1", metavar="N", help="pieces to compose at once (default: %(default)s)")
    parser.add_argument("--seed", default="0", metavar="N", help="chooses the primers and the samples (default: %(default)s)")
    parser.add_argument("--primer", default=None, metavar="FILE",
                        help=f"a MIDI file, score or PNG page to start from (its first columns), or `{SILENCE_PRIMER}`; "
                             "default: a random window of the bundle's training pieces")
    parser.add_argument("--bpm", default="120", help="tempo of the MIDI and WAV (default: %(default)s)")
    parser.add_argument("--no-audio", action="store_true", help="write no WAV (MIDI, PNG and JSON only)")
    parser.add_argument("--name", default=None, help="file name of the piece (default: <model>-<mode>-seed<seed>-<options digest>; "
                                                     "numbered -1, -2, … with --count)")


def number(args: argparse.Namespace, flag: str, kind: type, low: float = float("-inf"), high: float = float("inf")):
    """A flag's value as ``kind`` within [low, high], or a one-line PianorollError."""
    text = getattr(args, flag.replace("-", "_"))
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        whole = "whole " if kind is int else ""
        raise PianorollError(f"--{flag} {text}: must be a {whole}number" + (f" from {low:g} to {high:g}" if high < float("inf") else ""))
    return value


def options(args: argparse.Namespace) -> dict:
    """Every option that shapes the music, checked; the record of what the command was asked."""
    defaults = Settings()
    mode = args.mode or defaults.mode
    settings = Settings(
        mode=mode,
        vanish=number(args, "vanish", float),
        vanish_inc=(VANISH_INC.get(mode, defaults.vanish_inc) if args.vanish_inc is None
                    else number(args, "vanish-inc", float)),
        threshold=number(args, "threshold", float),
        temperature=number(args, "temperature", float),
        max_notes=None if args.max_notes is None else number(args, "max-notes", int),
    )
    for name, limit in settings.problems().items():
        flag = name.replace("_", "-")
        raise PianorollError(f"--{flag} {getattr(args, name)}: {limit}")
    return {**dataclasses.asdict(settings),
            "length": number(args, "length", int, 1, MAX_LENGTH),
            "count": number(args, "count", int, 1, MAX_COUNT),
            "seed": number(args, "seed", int, 0, 2**32 - 1),
            "bpm": number(args, "bpm", float, midi.MIN_BPM, 1000),
            "primer": args.primer or "training",
            "model": str(args.model)}


def base_name(args: argparse.Namespace, chosen: dict) -> str:
    """--name, or one that differs whenever the music would: the model, the mode, the seed and a digest of the rest."""
    if args.name is not None:
        if not NAME.fullmatch(args.name):
            raise PianorollError(f"--name {args.name}: use letters, digits and . _ + - only, starting with a letter or digit")
        return args.name
    digest = hashlib.sha1(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:6]
    return f"{Path(args.model).name}-{chosen['mode']}-seed{chosen['seed']}-{digest}"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pianoroll import bundle, compose, gallery

    chosen = options(args)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise PianorollError(f"--out {args.out}: is a file, not a folder for the pieces")
    config = bundle.read_config(Path(args.model))
    if config.encoding is not None and args.mode is None:  # an event network samples unless told otherwise
        chosen["mode"] = "sample"
    settings = Settings(**{f.name: chosen[f.name] for f in dataclasses.fields(Settings)})
    names = compose.piece_names(base_name(args, chosen), chosen["count"])
    if config.encoding is not None:
        songs, primers = compose.event_pieces(Path(args.model), config, settings, chosen["length"], chosen["count"],
                                              chosen["seed"], args.primer)
    else:
        primers = compose.choose_primers(args.primer, config, chosen["count"], chosen["seed"])
        for primer in {p.source: p for p in primers if p.padded}.values():
            print(f"{primer.source}: shorter than the {len(primer.frames)}-column window; "
                  f"{primer.padded} silent columns put in front")
        step = bundle.stepper(Path(args.model))
        with tqdm(total=chosen["length"], unit="column", desc=f"composing {len(names)}", leave=False) as bar:
            songs = compose.generate(step, [p.frames for p in primers], chosen["length"], settings, chosen["seed"],
                                     progress=lambda done: bar.update(done - bar.n),
                                     next_columns=[p.next_column for p in primers], targets=compose.targets(config))
    summary = compose.bundle_summary(Path(args.model), config)
    pieces = [(name, song, {"kind": "composition", "options": chosen, "seed": chosen["seed"], "index": index,
                            "primer": {"source": primer.source, "padded": primer.padded}, "bundle": summary})
              for index, (name, song, primer) in enumerate(zip(names, songs, primers), start=1)]
    out = Path(args.out)
    written = compose.write_pieces(out, pieces, config.resolution, chosen["bpm"], sound=not args.no_audio)
    index = gallery.write_index(out)
    for missing in sorted({record["audio"] for record in written if record["audio"] and not args.no_audio}):
        print(missing)
    for record in written:
        stats = record["statistics"]
        print(f"{out / record['files']['midi']}: {stats['notes']} notes, "
              f"{stats['empty_fraction']:.0%} empty columns, fade ratio {_ratio(stats['fade_ratio'])}")
    if chosen["mode"] != "sample" and any(_stuck(record["statistics"]) for record in written):
        print(STUCK_HINT)
    print(f"{index}: {len(gallery.records(out))} pieces to look at and listen to")
    return 0


STUCK = 0.9  # a piece whose columns are this often silent, or the same as the one before, has stopped moving
STUCK_HINT = ("hint: a piece stopped moving (held notes or silence). seed-vanish and threshold keep a note a trained "
              "network expects to continue, forever; --mode vanish (the default) lets held notes go, "
              "--mode sample draws each note")


def _stuck(stats: dict) -> bool:
    return stats["repeated_fraction"] >= STUCK or stats["empty_fraction"] >= STUCK


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
