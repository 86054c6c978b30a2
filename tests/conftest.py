"""Shared fixtures: real MIDI files built from py_midicsv's CSV text, so tests need no binary fixtures;
and require_program, so that tests of optional system programs skip on a bare machine but fail in CI.

fluidsynth and Chromium are Debian packages, not pip's: ``make test`` on a
machine without them must still be green, saying what it skipped and why. CI
installs them (``.ci/run``) and sets CI=true, and there a missing program is a
failure, so a broken install step cannot pass as a skip.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, NoReturn

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


CI_VARIABLE, CI_ON = "CI", "true"  # .ci/run's setting: everything is installed, so nothing may be skipped


def missing(reason: str) -> NoReturn:
    """Skip the test for a missing optional program, or fail it when CI=true."""
    if os.environ.get(CI_VARIABLE) == CI_ON:
        pytest.fail(f"{reason} (CI={CI_ON}: .ci/run installs it, so this test must run)", pytrace=False)
    pytest.skip(reason)


def _require_program(name: str, why: str, needs: Iterable[Path] = ()) -> str:
    """The program's path on PATH; ``needs``: files of which one must exist too (a soundfont)."""
    program = shutil.which(name)
    if program is None:
        missing(f"{name}: not installed, needed {why}")
    needs = tuple(needs)
    if needs and not any(Path(path).is_file() for path in needs):
        missing(f"{needs[0]}: missing, needed {why}")
    return program


@pytest.fixture
def require_program() -> Callable[..., str]:
    """require_program(name, why, needs=()) -> the program's path; skips (or, when CI=true, fails) if missing."""
    return _require_program


SLOW_MODULES = {"test_train.py", "test_distributed.py", "test_benchmark.py"}  # whole trainings, clusters, benchmark runs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what `make test-fast` leaves out: ``slow`` (training end to end, several TensorFlow
    processes, the benchmark scripts) and ``system`` (tests that need an optional program)."""
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if "require_program" in getattr(item, "fixturenames", ()) or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.system)
