"""Benchmark: MIDI readers on MIDI written by other tools, and the rule for a re-struck key.

The question is which reader ``midi.read`` should stand on: ours (a note-event
decoder, py_midicsv for anything unusual), py_midicsv alone, mido (what
pretty_midi reads with) or symusic (a C++ library). Each reads the same files
into notes in beats:

- ``music21``: scores of music21's corpus (chorales, and quartets, piano and
  vocal pieces), written to MIDI by music21's own writer;
- ``shipped``: the MIDI files inside music21's package (its test files and
  Mozart's K525 from its OMR folder);
- ``ours``: the same scores written by our writer (``pianoroll corpus``), and
  ``chorales``, the chorales among them (the files ``make benchmark`` converts);
- ``damaged``: ``ours`` with bytes changed and cut, for the share each reader
  reads or refuses.

For every reader: seconds a file of wall and CPU time over ``--repeats``
rounds, the readers taking turns within each round (in a rotated order), so
that the host's drifts fall on all alike; notes a second; the share of files
read; and the cells (steps × pitches at 0.25 quarter notes) of its rolls that
differ from ``midi.read``'s. The seed's path (``scripts/seed_midi2img.py``) and
our whole conversion are timed on the ``music21`` files in fresh processes,
as ``pianoroll.bench.images`` times them; what a conversion with another reader would
reach is our conversion less our reading plus that reader's.

The re-strike rule: the rolls of pretty_midi (the reference a musician would
reach for) against ours with the first note-off releasing the key (the rule
``midi._pair`` keeps) and with the last (the rule it replaced), and what
FluidSynth plays for a key struck twice then released twice, by the sound's
level after each note-off.

    pip install -e ".[bench]"   # symusic and mido, the readers measured
    python scripts/bench_readers.py [--repeats 5] [--json reports/readers.json] [--report reports/readers.md]
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import wave
from importlib import metadata
from pathlib import Path
from typing import Callable

import mido
import music21
import numpy as np
import pretty_midi
import symusic

from pianoroll import images, midi, scores
from pianoroll import roll as rolls
from pianoroll.bench.images import in_child
from pianoroll.roll import Note

RESOLUTION = 0.25  # quarter notes a step, as `make images` converts
DAMAGED = 200  # damaged copies of our files
CHORALE_STEP = 7  # every seventh chorale: 59 of the 409
OTHER_COMPOSERS = ("mozart", "haydn", "beethoven", "joplin", "chopin", "handel", "schubert", "schoenberg")
LARGEST_SCORE = 40_000  # bytes (compressed MusicXML): music21 takes a minute or more on larger quartets
ORGAN = 19  # a General MIDI church organ holds its level while the key is down, so a release shows
FLUID_RATE = 44_100
FLUID_WINDOWS = ((0.5, 1.0), (1.1, 1.5), (1.6, 2.0))  # seconds: both strikes sound; after the first note-off; after the last
Reader = Callable[[Path], list[Note]]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds of every reader over every file (default: 5)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--report", type=Path, help="write the figures as Markdown here (from the JSON)")
    parser.add_argument("--scratch", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "bench_readers",
                        help="where the MIDI files are written, and kept for the next run")  # fmt: skip
    return parser.parse_args()


# The readers: a file → its pitched notes in beats, drums (channel 10) left out.


def with_ours(path: Path) -> list[Note]:
    return midi.read(path, allow_empty=True)


def with_py_midicsv(path: Path) -> list[Note]:
    pattern = midi._parse(path.read_bytes(), path)
    return in_beats(midi._played(midi._pattern_tracks(pattern, path)), pattern.resolution)


def with_mido(path: Path) -> list[Note]:
    file = mido.MidiFile(file=io.BytesIO(path.read_bytes()))
    tracks = []
    for track in file.tracks:
        events, tick = [], 0
        for message in track:
            tick += message.time
            if message.type == "note_on" or message.type == "note_off":
                events.append((tick, message.channel, message.note, message.velocity * (message.type == "note_on")))
        tracks.append((events, tick))
    return in_beats(midi._played(tracks), file.ticks_per_beat)


def with_symusic(path: Path) -> list[Note]:
    """symusic pairs notes itself: the first note-off ends the earliest note still open, and a note never
    released is dropped. It gives notes, not events, so our pairing rules cannot be applied."""
    score = symusic.Score.from_midi(path.read_bytes())
    ticks = score.ticks_per_quarter
    return [Note(n.pitch, n.time / ticks, n.end / ticks, n.velocity)
            for track in score.tracks if not track.is_drum for n in track.notes]  # fmt: skip


def with_pretty_midi(path: Path) -> list[Note]:
    """pretty_midi's notes in beats through its own tick map: every open note of a key ends at its next note-off."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = pretty_midi.PrettyMIDI(str(path))
    beats = pm.time_to_tick
    return [Note(n.pitch, beats(n.start) / pm.resolution, beats(n.end) / pm.resolution, n.velocity)
            for part in pm.instruments if not part.is_drum for n in part.notes]  # fmt: skip


def with_last_note_off(path: Path) -> list[Note]:
    """Our decoding with the rule ``midi._pair`` had before: a re-struck key held until its last note-off."""
    ticks, tracks = note_events(path)
    end = max((last for _, last in tracks), default=0)
    played = []
    for events, _ in tracks:
        notes, held = pair_to_last_note_off(events)
        played += notes + [(start, end, channel, pitch, velocity) for start, channel, pitch, velocity in held]
    return in_beats(played, ticks)


def note_events(path: Path) -> tuple[int, list[midi.TrackNotes]]:
    """Ticks per quarter note and each track's note events, as ``midi.read`` takes them, before pairing."""
    data = path.read_bytes()
    try:
        return midi.decode(data, midi.track_spans(data, path))
    except midi.UnusualMidi:
        pattern = midi._parse(data, path)
        return pattern.resolution, midi._pattern_tracks(pattern, path)


def with_released_only(path: Path) -> list[Note]:
    """Our reading less the notes never released (which we hold to the end, and pretty_midi drops)."""
    ticks, tracks = note_events(path)
    return in_beats([note for events, _ in tracks for note in midi._pair(events)[0]], ticks)


def pair_to_last_note_off(events: list[midi.NoteEvent]) -> tuple[list[midi.Played], list[tuple[int, int, int, int]]]:
    held: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> [start, velocity, strikes not yet released]
    notes = []
    for tick, channel, pitch, velocity in events:
        sounding = held.get((channel, pitch))
        if velocity and sounding and sounding[0] == tick:
            sounding[2] += 1
        elif velocity:
            if sounding:
                notes.append((sounding[0], tick, channel, pitch, sounding[1]))
            held[channel, pitch] = [tick, velocity, sounding[2] + 1 if sounding else 1]
        elif sounding:
            sounding[2] -= 1
            if not sounding[2]:
                notes.append((sounding[0], tick, channel, pitch, sounding[1]))
                del held[channel, pitch]
    return notes, [(start, *key, velocity) for key, (start, velocity, _) in held.items()]


def in_beats(played: list[midi.Played], ticks: int) -> list[Note]:
    return [midi._in_beats(note, ticks) for note in played if note[2] != midi.DRUM_CHANNEL]


READERS: dict[str, Reader] = {"ours": with_ours, "py_midicsv": with_py_midicsv, "mido": with_mido,
                              "symusic": with_symusic, "pretty_midi": with_pretty_midi}  # fmt: skip
ADAPTERS = {"py_midicsv": [with_py_midicsv, in_beats], "mido": [with_mido, in_beats], "symusic": [with_symusic]}
OUR_DECODER = [midi.decode, midi._decode_track, midi._varlen]  # what ours has beside py_midicsv, for speed alone


# The files


def export_with_music21(job: tuple[Path, Path]) -> tuple[Path, str]:
    """A corpus score written to MIDI by music21's writer; the target and why it failed ("" if it did not)."""
    source, target = job
    try:
        music21.converter.parse(source).write("midi", fp=target.with_suffix(".part"))
        target.with_suffix(".part").rename(target)  # a run stopped midway leaves no half-written file to reuse
        return target, ""
    except Exception as error:  # a score music21 cannot write is left out, and counted
        return target, f"{type(error).__name__}: {error}"


def corpus_scores() -> list[Path]:
    chosen = scores.chorales()[::CHORALE_STEP]
    for composer in OTHER_COMPOSERS:
        chosen += [Path(p) for p in music21.corpus.getComposer(composer) if os.path.getsize(p) <= LARGEST_SCORE]
    return chosen


def written(sources: list[Path], folder: Path, writer: Callable[[tuple[Path, Path]], tuple[Path, str]]) -> list[Path]:
    """Each score written once into ``folder`` by ``writer`` (kept between runs); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    root = Path(music21.corpus.getComposer("bach")[0]).parents[1]
    jobs = [(s, folder / ("_".join(s.relative_to(root).with_suffix("").parts) + ".mid")) for s in sources]
    todo = [job for job in jobs if not job[1].exists()]
    failed = [target for target, error in images.in_parallel(writer, todo) if error]
    return sorted(target for _, target in jobs if target.exists() and target not in failed)


def damaged(files: list[Path], folder: Path, count: int) -> list[Path]:
    """``count`` copies of the files with 1..11 bytes changed, every other one also cut (by up to half)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    made = []
    for index in range(count):
        data = bytearray(files[index % len(files)].read_bytes())
        for _ in range(int(rng.integers(1, 12))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        made.append(folder / f"damaged{index:03}.mid")
        made[-1].write_bytes(bytes(data[: int(rng.integers(len(data) // 2, len(data) + 1)) if index % 2 else None]))
    return made


# Measuring


def read_all(reader: Reader, files: list[Path]) -> tuple[float, float, list[list[Note] | None]]:
    """(wall s, CPU s, each file's notes or None where the reader refused it)."""
    results: list[list[Note] | None] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for path in files:
        try:
            results.append(reader(path))
        except Exception:  # every reader's refusal counts the same: the file is not read
            results.append(None)
    return time.perf_counter() - wall, time.process_time() - cpu, results


def timed(files: list[Path], repeats: int) -> dict[str, dict]:
    """Every reader over every file, ``repeats`` rounds, taking turns in a rotated order."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in READERS}
    notes: dict[str, list] = {}
    names = list(READERS)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            wall, cpu, notes[name] = read_all(READERS[name], files)
            runs[name].append((wall, cpu))
    figures = {}
    for name, times in runs.items():
        wall = statistics.median(t[0] for t in times)
        count = sum(len(n) for n in notes[name] if n is not None)
        figures[name] = {"ms_per_file": 1e3 * wall / len(files), "ms_per_file_best": 1e3 * min(t[0] for t in times) / len(files),
                         "cpu_ms_per_file": 1e3 * statistics.median(t[1] for t in times) / len(files),
                         "notes": count, "notes_per_s": count / wall, "read": sum(n is not None for n in notes[name]),
                         "files": len(files), "notes_by_file": notes[name]}  # fmt: skip
    return figures


def cells_differing(a: list[Note] | None, b: list[Note] | None, only_in_a: bool = False) -> int | None:
    """Cells on in one roll and not the other (or only those on in ``a``'s), the shorter padded with silence;
    None if either file was refused."""
    if a is None or b is None:
        return None
    one, other = (rolls.is_on(rolls.from_notes(n, RESOLUTION)[0]) for n in (a, b))
    length = max(len(one), len(other))
    one, other = np.pad(one, ((0, length - len(one)), (0, 0))), np.pad(other, ((0, length - len(other)), (0, 0)))
    return int(np.count_nonzero(one & ~other if only_in_a else one ^ other))


def agreement(figures: dict[str, dict], reference: str) -> dict[str, dict]:
    """Per reader: cells of its rolls that differ from the reference's, and in how many files, where both read."""
    base = figures[reference]["notes_by_file"]
    cells_on = sum(int(rolls.is_on(rolls.from_notes(n, RESOLUTION)[0]).sum()) for n in base if n is not None)
    out = {}
    for name, figure in figures.items():
        diffs = [d for d in map(cells_differing, figure["notes_by_file"], base) if d is not None]
        extra = [cells_differing(a, b, only_in_a=True) or 0 for a, b in zip(figure["notes_by_file"], base)]
        out[name] = {"cells": sum(diffs), "extra": sum(extra), "files": sum(d > 0 for d in diffs), "compared": len(diffs),
                     "cells_on": cells_on}  # fmt: skip
    return out


def restrike_rule(files: list[Path], pretty: list[list[Note] | None]) -> dict:
    """Cells where pretty_midi's rolls differ from ours with the first note-off releasing a key, and with the last."""
    first = [with_ours(path) for path in files]
    last = [sorted(with_last_note_off(path), key=lambda n: (n.start, n.pitch)) for path in files]
    released = [with_released_only(path) for path in files]
    rule = {"first_note_off": list(map(cells_differing, first, pretty)),
            "last_note_off": list(map(cells_differing, last, pretty)),
            "first_note_off_released_only": list(map(cells_differing, released, pretty))}  # fmt: skip
    worst = max(range(len(files)), key=lambda i: rule["last_note_off"][i] or 0)
    cells = int(rolls.is_on(rolls.from_notes(last[worst], RESOLUTION)[0]).sum())
    return {name: {"cells": sum(d or 0 for d in diffs), "files": sum(bool(d) for d in diffs)} for name, diffs in rule.items()} | {
        "files_with_restrike": sum(a != b for a, b in zip(first, last)),
        "worst_file": files[worst].name, "worst_share": (rule["last_note_off"][worst] or 0) / max(cells, 1)}  # fmt: skip


def fluidsynth_restrike(scratch: Path) -> dict:
    """What FluidSynth plays for a key struck at 0 and 0.5 s and released at 1.0 and 1.5 s (an organ, 120 bpm),
    against the key struck once and released at 1.0 s or at 1.5 s: the sound's level in three windows."""
    program, font = shutil.which("fluidsynth"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    if not program or not font.is_file():
        return {"played": False, "why": "fluidsynth or FluidR3_GM.sf2 is not installed"}
    cases = {"struck at 0 and 0.5 s, released at 1.0 and 1.5 s": [(0, 1), (480, 1), (960, 0), (1440, 0)],
             "struck at 0 s, released at 1.0 s": [(0, 1), (960, 0)],
             "struck at 0 s, released at 1.5 s": [(0, 1), (1440, 0)]}  # fmt: skip
    levels = {}
    for name, events in cases.items():
        path, wav = scratch / "fluid.mid", scratch / "fluid.wav"
        path.write_bytes(organ_file(events))
        subprocess.run([program, "-ni", "-q", "-F", str(wav), "-r", str(FLUID_RATE), str(font), str(path)],
                       check=True, capture_output=True)  # fmt: skip
        with wave.open(str(wav)) as audio:
            channels = audio.getnchannels()
            left = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16).reshape(-1, channels)[:, 0]
        levels[name] = [float(np.sqrt(np.mean(left[int(a * FLUID_RATE) : int(b * FLUID_RATE)].astype(float) ** 2)))
                        for a, b in FLUID_WINDOWS]  # fmt: skip
    return {"played": True, "windows_s": [f"{a:g}–{b:g}" for a, b in FLUID_WINDOWS], "levels": levels}


def organ_file(events: list[tuple[int, int]]) -> bytes:
    """A format-0 file at 120 bpm (no tempo event): an organ, then middle C struck (1) or released (0) at each tick."""
    body, now = bytes([0, midi.PROGRAM_CHANGE, ORGAN]), 0
    for tick, strike in events:
        body += varlen(tick - now) + bytes([midi.NOTE_ON if strike else midi.NOTE_OFF, 60, 100 if strike else 0])
        now = tick
    body += varlen(4 * midi.TICKS_PER_QUARTER) + midi.END_OF_TRACK[1:]  # two seconds to die away
    header = struct.pack(">LHHH", 6, 0, 1, midi.TICKS_PER_QUARTER)
    return midi.HEADER + header + midi.TRACK + struct.pack(">L", len(body)) + body


def varlen(value: int) -> bytes:
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def code_lines(functions: list[Callable]) -> int:
    """Lines of code of the functions, docstrings, comments and blank lines left out."""
    count = 0
    for function in functions:
        source = inspect.getsource(function)
        body = source.replace(inspect.getdoc(function) or "\0", "") if function.__doc__ else source
        count += sum(1 for line in body.splitlines() if line.strip() and not line.strip().startswith(("#", '"""')))
    return count


def conversion(files: list[Path], scratch: Path) -> dict:
    """The seed's path and our whole conversion on the files, each in a fresh process (the images benchmark's workers)."""
    scratch.mkdir(parents=True, exist_ok=True)
    seed_s, seed_cpu, converted = in_child("seed", files, scratch / "seed")
    ours_s, ours_cpu, pieces = in_child("ours", files, scratch / "ours")
    return {"seed_ms_per_file": 1e3 * seed_s / len(files), "seed_cpu_ms_per_file": 1e3 * seed_cpu / len(files),
            "ours_ms_per_file": 1e3 * ours_s / len(files), "ours_cpu_ms_per_file": 1e3 * ours_cpu / len(files),
            "seed_converted": int(converted), "ours_pieces": int(pieces)}  # fmt: skip


def main() -> int:
    args = arguments()
    args.scratch.mkdir(parents=True, exist_ok=True)
    sources = corpus_scores()
    sets = {"music21": written(sources, args.scratch / "music21", export_with_music21),
            "shipped": sorted(Path(music21.__file__).parent.glob("*/*.mid")) + sorted(Path(music21.__file__).parent.glob("midi/*/*.mid")),
            "ours": written(sources, args.scratch / "ours", scores.try_export)}  # fmt: skip
    sets["chorales"] = [path for path in sets["ours"] if path.name.startswith("bach_")]  # what bench_images converts
    sets["damaged"] = damaged(sets["ours"], args.scratch / "damaged", DAMAGED)
    results: dict = {"config": {"scores": len(sources), "repeats": args.repeats, "cores": os.cpu_count(),
                                "load_average_before": os.getloadavg()[0], "resolution": RESOLUTION,
                                "versions": {name: metadata.version(name) for name in ("mido", "symusic", "pretty_midi", "music21", "py_midicsv")},
                                "code_lines": {"ours": code_lines(OUR_DECODER)} | {k: code_lines(v) for k, v in ADAPTERS.items()}},
                     "sets": {}}  # fmt: skip
    for name, files in sets.items():
        figures = timed(files, args.repeats)
        spans_ok = [path for path in files if fast_path(path)]
        entry = {"files": len(files), "fast_path": len(spans_ok), "readers": figures, "agreement": agreement(figures, "ours")}
        if name != "damaged":
            entry["restrike"] = restrike_rule(files, figures["pretty_midi"]["notes_by_file"])
        for figure in figures.values():
            del figure["notes_by_file"]
        results["sets"][name] = entry
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        results["conversion"] = {name: conversion(sets[name], Path(scratch) / name) for name in ("music21", "chorales")}
        results["fluidsynth"] = fluidsynth_restrike(Path(scratch))
    results["config"]["load_average_after"] = os.getloadavg()[0]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    text = render(results)
    if args.report:
        args.report.write_text(text)
    print(text)
    return 0


def fast_path(path: Path) -> bool:
    """Whether our decoder reads the file itself, rather than handing it to py_midicsv (or refusing it)."""
    try:
        data = path.read_bytes()
        midi.decode(data, midi.track_spans(data, path))
        return True
    except (midi.MidiError, midi.UnusualMidi, midi.CorruptMidi):
        return False


SET_NAMES = {"music21": "music21's corpus written by music21's MIDI writer", "shipped": "the MIDI files inside music21's package",
             "ours": "the same scores written by our writer",
             "chorales": "the chorales of `ours`, the files `make benchmark` converts", "damaged": "`ours`, with bytes changed, half of them cut"}  # fmt: skip
GOAL_SPEED = 30.0  # our conversion against the seed's, as bench_images holds it


def render(results: dict) -> str:
    """The figures as Markdown, every number taken from ``results`` (the JSON)."""
    config = results["config"]
    lines = ["# MIDI readers, measured", "",
             "Generated by `scripts/bench_readers.py` (`--json reports/readers.json --report reports/readers.md`). "
             f"{config['cores']} cores, shared with other work while it ran (load average {config['load_average_before']:.1f} "
             f"before, {config['load_average_after']:.1f} after): times are the median of {config['repeats']} rounds, "
             "the readers taking turns in each, with the best round and CPU time beside. Cells: steps × pitches of the "
             f"rolls at {config['resolution']:g} quarter notes a step. Versions: "
             + ", ".join(f"{k} {v}" for k, v in config["versions"].items()) + ".", ""]  # fmt: skip
    for name, entry in results["sets"].items():
        lines += [f"## {name}: {SET_NAMES[name]}", "",
                  f"{entry['files']} files; our decoder reads {entry['fast_path']} itself, py_midicsv the rest.", "",
                  "| reader | ms a file | best round | CPU ms a file | notes/s | files read | cells ≠ ours (files) | of which on in its roll only |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for reader, figure in entry["readers"].items():
            agree = entry["agreement"][reader]
            lines.append(f"| {reader} | {figure['ms_per_file']:.3f} | {figure['ms_per_file_best']:.3f} | "
                         f"{figure['cpu_ms_per_file']:.3f} | {figure['notes_per_s']:,.0f} | {figure['read']}/{figure['files']} | "
                         f"{agree['cells']:,} ({agree['files']} of {agree['compared']}) | {agree['extra']:,} |")  # fmt: skip
        lines += ["", f"Cells on in our rolls: {entry['agreement']['ours']['cells_on']:,}.", ""]
    lines += conversion_lines(results)
    lines += restrike_lines(results)
    return "\n".join(lines) + "\n"


def conversion_lines(results: dict) -> list[str]:
    """The seed's path against ours, and against ours with each reader in place of ours, by wall and CPU time."""
    lines = ["## The whole conversion: the seed's path against ours with each reader", "",
             "Each in a fresh process, once. With another reader: ours less our reading plus that reader's (the rest, "
             "quantising and writing pages, does not depend on the reader). Lines of code: the reading code a library "
             "would replace in `midi.py`, or the adapter a library needs (docstrings and comments left out).", ""]  # fmt: skip
    for name, conversion in results["conversion"].items():
        readers = results["sets"][name]["readers"]
        lines += [f"The `{name}` files: the seed's path {conversion['seed_ms_per_file']:.1f} ms a file "
                  f"({conversion['seed_cpu_ms_per_file']:.1f} of CPU; {conversion['seed_converted']} converted), ours "
                  f"{conversion['ours_ms_per_file']:.2f} ms ({conversion['ours_cpu_ms_per_file']:.2f} of CPU; "
                  f"{conversion['ours_pieces']} pieces).", "",
                  f"| reader | ms a file | × the seed, wall | × the seed, CPU | goal ≥ {GOAL_SPEED:g}× (both) | lines of code |",
                  "| --- | ---: | ---: | ---: | --- | ---: |"]  # fmt: skip
        for reader, lines_of_code in results["config"]["code_lines"].items():
            ratios = []
            for clock in ("ms_per_file", "cpu_ms_per_file"):
                ours = conversion[f"ours_{clock}"] - readers["ours"][clock] + readers[reader][clock]
                ratios.append(conversion[f"seed_{clock}"] / ours)
            whole = conversion["ours_ms_per_file"] - readers["ours"]["ms_per_file"] + readers[reader]["ms_per_file"]
            met = "met" if min(ratios) >= GOAL_SPEED else "not met"
            lines.append(f"| {reader} | {whole:.2f} | {ratios[0]:.1f}× | {ratios[1]:.1f}× | {met} | {lines_of_code} |")
        lines.append("")
    return lines


def restrike_lines(results: dict) -> list[str]:
    lines = ["## A re-struck key: pretty_midi's rolls against ours, by rule", "",
             "A file re-strikes a key where the two rules give different notes.", "",
             "pretty_midi drops a note never released, where we hold it to the end; the fourth column leaves such "
             "notes out of ours.", "",
             "| set | files with a re-strike | cells ≠ pretty_midi, first note-off releases (files) | "
             "last note-off releases (files) | first, released notes only (files) | most, last note-off |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for name, entry in results["sets"].items():
        if "restrike" in entry:
            rule = entry["restrike"]
            lines.append(f"| {name} | {rule['files_with_restrike']} | {rule['first_note_off']['cells']:,} "
                         f"({rule['first_note_off']['files']}) | {rule['last_note_off']['cells']:,} ({rule['last_note_off']['files']}) | "
                         f"{rule['first_note_off_released_only']['cells']:,} ({rule['first_note_off_released_only']['files']}) | "
                         f"{rule['worst_share']:.1%} of `{rule['worst_file']}`'s cells |")  # fmt: skip
    fluid = results["fluidsynth"]
    lines += ["", "## What FluidSynth plays", ""]
    if not fluid["played"]:
        return lines + [f"Not measured: {fluid['why']}.", ""]
    lines += ["Middle C on a church organ (program 19, FluidR3 GM), 120 bpm; the sound's RMS level in each window:", "",
              "| file | " + " | ".join(f"{w} s" for w in fluid["windows_s"]) + " |",
              "| --- | " + " | ".join("---:" for _ in fluid["windows_s"]) + " |"]  # fmt: skip
    for case, levels in fluid["levels"].items():
        lines.append(f"| {case} | " + " | ".join(f"{level:.0f}" for level in levels) + " |")
    return lines + [""]


if __name__ == "__main__":
    sys.exit(main())
