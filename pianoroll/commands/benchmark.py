"""Measure speed and quality side by side with the seed's way: runs every benchmark of pianoroll.bench and collects them.

Each benchmark (``python -m pianoroll.bench.<name>``) times the seed's way and
ours in one run on the same data, in a process of its own, and writes its
figures as JSON; this gathers them into reports/benchmark.md and
reports/benchmark.json. A benchmark that is missing or fails is reported by
name and makes the command exit non-zero; none is skipped silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "pianoroll.bench"  # where the benchmarks live: inside the package, so an installed one finds them
BENCHMARKS = ("images", "train", "compose")
QUICK = {  # small sizes for a first look; the full run uses each benchmark's own defaults
    "images": ["--files", "20", "--rounds", "2", "--repeats", "1"],
    "train": ["--epochs", "2"],
    "compose": ["--length", "32", "--repeats", "1"],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=list(BENCHMARKS),
                        help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a minute or two instead of many")
    parser.add_argument("--reports", default="reports", help="folder for the reports (default: reports)")


def run(args: argparse.Namespace) -> int:
    from pianoroll.bundle import write_json
    from pianoroll.commands.evaluate import write_report

    results, failures = {}, {}
    for name in args.only:
        print(f"benchmark {name} …", flush=True)
        result = run_benchmark(name, QUICK[name] if args.quick else [])
        if isinstance(result, str):
            failures[name] = result
            print(f"benchmark {name}: {result}", file=sys.stderr)
        else:
            results[name] = result
    reports = Path(args.reports)
    text = markdown(results, failures, args.quick)
    write_report(reports / "benchmark.md", text)
    write_json(reports / "benchmark.json", {"quick": args.quick, "benchmarks": results, "failed": failures})
    print(text)
    print(f"wrote {reports / 'benchmark.md'} and {reports / 'benchmark.json'}")
    return 1 if failures else 0


def run_benchmark(name: str, extra: list[str]) -> dict | str:
    """The figures of ``python -m pianoroll.bench.<name>``, run in a process of its own, or why there are none."""
    module = f"{PACKAGE}.{name}"
    if importlib.util.find_spec(module) is None:
        return f"{module}: missing"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        done = subprocess.run([sys.executable, "-m", module, "--json", str(out), *extra])
        if done.returncode != 0:
            return f"{module}: failed with exit status {done.returncode}"
        try:
            return json.loads(out.read_text())
        except (OSError, ValueError) as error:
            return f"{module}: wrote no readable JSON ({error})"


def markdown(results: dict[str, dict], failures: dict[str, str], quick: bool) -> str:
    """reports/benchmark.md: every figure beside the seed's way and the ratio."""
    lines = ["# Benchmarks: ours against the seed's way, measured in the same run", "",
             "Quick sizes (`--quick`)." if quick else "Each benchmark's default sizes.", ""]
    for name, result in results.items():
        lines += [f"## {result.get('benchmark', name)}", ""]
        if result.get("about"):
            lines += [result["about"], ""]
        lines += ["| figure | against | it | ours | ratio | goal |", "| --- | --- | ---: | ---: | ---: | --- |"]
        for row in result.get("rows", []):
            lines.append(f"| {row['figure']} | {row.get('against', SEED_WAY)} | {number(row.get('seed'))} "
                         f"| {number(row.get('ours'))} | {number(row.get('ratio'))} | {row.get('goal', '')} |")
        if result.get("config"):
            lines += ["", "Settings: " + ", ".join(f"{k} = {number(v)}" for k, v in result["config"].items())]
        lines.append("")
    for name, reason in failures.items():
        lines += [f"## {name}: not measured", "", reason, ""]
    return "\n".join(lines)


SEED_WAY = "the seed's way"  # what a row compares ours with, unless it names something else


def number(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
