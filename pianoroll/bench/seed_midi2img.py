"""The seed's MIDI → image path, kept as it was, as the baseline for the images benchmark.

The seed converted each MIDI file with midi2img's ``midi2image``: music21's
``converter.parse`` builds a score, ``instrument.partitionByInstrument``
splits it per instrument, ``recurse()`` walks every note and chord, and the
notes are painted into a (pitch, time) matrix of 100 columns per image at
0.25 quarter notes a column; its batch script then resized every image to
106×106 with antialiasing and skipped any file that raised (``except: pass``).

Its known faults are kept on purpose, because this file measures the seed,
not a fixed version of it: offsets from ``recurse()`` are relative to each
note's measure when the score has measures, a pitch above 126 raises and loses
the whole file, one below 21 wraps around to the top rows, and resizing 100
columns to 106 blurs time. The one liberty: ``forceSource=True`` stops music21
from also writing a pickle of each parsed file to its scratch folder, work the
seed did on a first run, so the seed figures here are, if anything, flattering.

Usage: python -m pianoroll.bench.seed_midi2img FILE.mid... --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from music21 import chord, converter, instrument, note
from PIL import Image

RESOLUTION = 0.25
LOWER_BOUND_NOTE = 21
UPPER_BOUND_NOTE = 127
MAX_SONG_LENGTH = 100
SIZE = 106


def get_notes(notes_to_parse) -> dict[str, list]:
    """midi2img's get_notes: start, pitch and duration of every note and chord note."""
    durations, notes, start = [], [], []
    for element in notes_to_parse:
        if isinstance(element, note.Note):
            if element.isRest:
                continue
            start.append(element.offset)
            notes.append(int(element.pitch.ps))
            durations.append(element.duration.quarterLength)
        elif isinstance(element, chord.Chord):
            if element.isRest:
                continue
            for chord_note in element:
                start.append(element.offset)
                durations.append(element.duration.quarterLength)
                notes.append(int(chord_note.pitch.ps))
    return {"start": start, "pitch": notes, "dur": durations}


def midi2image(midi_path: Path, out_dir: Path, max_repetitions: float = float("inf")) -> list[Path]:
    """midi2img's midi2image, writing into ``out_dir``; returns the images it wrote."""
    mid = converter.parse(midi_path, forceSource=True)
    instruments = instrument.partitionByInstrument(mid)
    data = {}
    try:
        i = 0
        for instrument_i in instruments.parts:
            notes_data = get_notes(instrument_i.recurse())
            if len(notes_data["start"]) == 0:
                continue
            if instrument_i.partName is None:
                data[f"instrument_{i}"] = notes_data
                i += 1
            else:
                data[instrument_i.partName] = notes_data
    except Exception:  # midi2img: a score that partitionByInstrument cannot split is read flat
        data["instrument_0"] = get_notes(mid.flatten().notes)

    written = []
    for instrument_name, values in data.items():
        index = 0
        while index < max_repetitions:
            matrix = np.zeros((UPPER_BOUND_NOTE - LOWER_BOUND_NOTE, MAX_SONG_LENGTH))
            for dur, start, pitch in zip(values["dur"], values["start"], values["pitch"]):
                dur = int(dur / RESOLUTION)
                start = int(start / RESOLUTION)
                if not start > index * (MAX_SONG_LENGTH + 1) or not dur + start < index * MAX_SONG_LENGTH:
                    for j in range(start, start + dur):
                        if 0 <= j - index * MAX_SONG_LENGTH < MAX_SONG_LENGTH:
                            matrix[pitch - LOWER_BOUND_NOTE, j - index * MAX_SONG_LENGTH] = 255
            if not matrix.any():
                break
            path = out_dir / Path(midi_path).name.replace(".mid", f"_{instrument_name}_{index}.png")
            Image.fromarray(matrix.astype(np.uint8)).save(path)
            written.append(path)
            index += 1
    for path in written:  # the seed's batch script: every image resized to 106×106
        with Image.open(path) as img:
            resized = img.resize((SIZE, SIZE), Image.LANCZOS)  # Pillow's ANTIALIAS, renamed
        resized.save(path)
    return written


def convert_all(paths: list[Path], out_dir: Path) -> int:
    """The seed's loop: convert each file, skip any that fails; returns how many converted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    converted = 0
    for path in paths:
        try:
            midi2image(path, out_dir)
            converted += 1
        except Exception:  # the seed's bare `except: pass`
            pass
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(f"{convert_all(args.files, args.out)} of {len(args.files)} files converted into {args.out}/")


if __name__ == "__main__":
    main()
