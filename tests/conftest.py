"""Shared fixtures: real MIDI files built from py_midicsv's CSV text, so tests need no binary fixtures."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import py_midicsv
import pytest


def midi_bytes(tracks: list[list[str]], ticks: int = 480, format: int = 1) -> bytes:
    """A MIDI file from CSV event lines per track ("tick, Note_on_c, channel, pitch, velocity").

    Events are put in time order (stably), so a test can list them note by note.
    """
    lines = [f"0, 0, Header, {format}, {len(tracks)}, {ticks}"]
    for number, events in enumerate(tracks, start=1):
        lines.append(f"{number}, 0, Start_track")
        events = sorted(events, key=lambda e: int(e.split(",")[0]))  # MIDI counts time forward only
        lines.extend(f"{number}, {event}" for event in events)
        last = int(events[-1].split(",")[0]) if events else 0
        lines.append(f"{number}, {last}, End_track")
    lines.append("0, 0, End_of_file")
    data = io.BytesIO()
    py_midicsv.FileWriter(data).write(py_midicsv.csv_to_midi(lines))
    return data.getvalue()


@pytest.fixture
def make_midi(tmp_path: Path) -> Callable[..., Path]:
    """make_midi(name, tracks, ticks=480, format=1) -> the path of a real MIDI file under tmp_path."""

    def make(name: str, tracks: list[list[str]], ticks: int = 480, format: int = 1) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(midi_bytes(tracks, ticks, format))
        return path

    return make
