"""Benchmark: MIDI files → pages, our converter against the seed's music21 path, in one run.

The chorales bundled with music21 are first exported as MIDI (not timed), then
the same files are converted by the seed's way (scripts/seed_midi2img.py:
converter.parse → partitionByInstrument → recurse → matrix → 106×106 resize)
and by ours (py_midicsv → roll → exact pages + manifest), each in one process;
then ours again with two processes. Every run writes into a fresh folder, so
nothing is skipped as up to date. py_midicsv's parse alone (bytes to event
objects, nothing else) is timed on the same files too: the seed's time over it
is the most any converter that parses with py_midicsv could reach here. Figures are files per second of wall time;
for ours the fastest of ``--repeats`` runs counts (the seed's path is run once:
it is slow). The one-process ratio is also given by CPU time, which other work
on a busy machine disturbs less than wall time.

    python scripts/bench_images.py [--files N] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from py_midicsv import FileReader
from seed_midi2img import convert_all

from pianoroll import PianorollError, images, scores

GOAL_SPEED = 30.0
GOAL_JOBS = 1.7


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=None, help="chorales to use (default: all of them)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours; the fastest counts")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the parallel run (default: 2)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def export(chorales: list[Path], folder: Path) -> list[Path]:
    """The chorales as MIDI files, through our own writer: the input both converters read."""
    jobs = [(score, folder / f"{score.stem}.mid") for score in chorales]
    return sorted(target for target in images.in_parallel(_export, jobs) if target)


def _export(job: tuple[Path, Path]) -> Path | None:
    try:
        scores.export(*job)
        return job[1]
    except PianorollError:
        return None


def ours(files: list[Path], out: Path, jobs: int) -> tuple[float, float, int]:
    """Seconds (wall, and CPU of this process) to convert the files with our batch, and the pieces made."""
    wall, cpu = time.perf_counter(), time.process_time()
    batch = images.Batch(files, out)
    for _ in batch.run(jobs):
        pass
    return time.perf_counter() - wall, time.process_time() - cpu, batch.summary().pieces


def fastest(files: list[Path], scratch: Path, jobs: int, repeats: int) -> tuple[float, float, int]:
    return min(ours(files, scratch / f"ours-{jobs}-{run}", jobs) for run in range(repeats))


def parse_only(files: list[Path], repeats: int) -> float:
    """Seconds for py_midicsv to parse every file, fastest of ``repeats``: the floor under ours."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for path in files:
            with contextlib.redirect_stderr(io.StringIO()):
                FileReader().read(io.BytesIO(path.read_bytes()), strict=False)
        runs.append(time.perf_counter() - start)
    return min(runs)


def seed(files: list[Path], out: Path) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    converted = convert_all(files, out)
    return time.perf_counter() - wall, time.process_time() - cpu, converted


def main() -> int:
    args = arguments()
    chorales = scores.chorales()[: args.files]
    with tempfile.TemporaryDirectory(prefix="bench_images.") as scratch:
        scratch = Path(scratch)
        start = time.perf_counter()
        files = export(chorales, scratch / "midi")
        export_s = time.perf_counter() - start
        one_s, one_cpu, one_pieces = fastest(files, scratch, 1, args.repeats)
        many_s, _, many_pieces = fastest(files, scratch, args.jobs, args.repeats)
        parse_s = parse_only(files, args.repeats)
        seed_s, seed_cpu, seed_converted = seed(files, scratch / "seed")
    rows = [
        {"figure": "files/s, one process", "seed": len(files) / seed_s, "ours": len(files) / one_s, "goal": f"≥ {GOAL_SPEED:g}×"},
        {"figure": f"files/s, ours --jobs {args.jobs} vs --jobs 1", "seed": len(files) / one_s,
         "ours": len(files) / many_s, "goal": f"≥ {GOAL_JOBS:g}×"},
    ]  # fmt: skip
    for row in rows:
        row["ratio"] = row["ours"] / row["seed"]
    config = {"files": len(files), "source": "music21's bundled Bach chorales, exported as MIDI", "repeats": args.repeats,
              "jobs": args.jobs, "cores": os.cpu_count(), "load_average": os.getloadavg()[0], "export_s": export_s,
              "seed_s": seed_s, "ours_s": one_s, "seed_cpu_s": seed_cpu, "ours_cpu_s": one_cpu,
              "cpu_ratio": seed_cpu / one_cpu, "parse_s": parse_s, "parse_share": parse_s / one_s,
              "ceiling_ratio": seed_s / parse_s,
              "ours_jobs_s": many_s, "seed_converted": seed_converted, "ours_pieces": one_pieces,
              "ours_jobs_pieces": many_pieces}  # fmt: skip
    report(rows, config)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "images", "rows": rows, "config": config}, indent=2) + "\n")
    return 0 if one_pieces == many_pieces == len(files) else 1


def report(rows: list[dict], config: dict) -> None:
    print(f"images benchmark: {config['files']} chorales as MIDI, {config['cores']} cores "
          f"(export took {config['export_s']:.1f} s, not counted)")  # fmt: skip
    print(f"{'figure':34} {'seed':>10} {'ours':>10} {'ratio':>8}  goal")
    for row in rows:
        print(f"{row['figure']:34} {row['seed']:10.1f} {row['ours']:10.1f} {row['ratio']:7.1f}×  {row['goal']}")
    print(f"one process, by CPU time rather than wall time (steadier on a busy machine): "
          f"{config['cpu_ratio']:.1f}× (load average {config['load_average']:.1f})")
    print(f"py_midicsv's parse alone: {config['files'] / config['parse_s']:.1f} files/s, {config['parse_share']:.0%} of our "
          f"time; the most a converter parsing with it can reach here is {config['ceiling_ratio']:.1f}×")
    print(f"converted: seed {config['seed_converted']} files, ours {config['ours_pieces']} pieces "
          f"(--jobs {config['jobs']}: {config['ours_jobs_pieces']})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
