"""benchmark: collects every script's JSON, and names a script that is missing or fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pianoroll import cli
from pianoroll.commands import benchmark

SCRIPT = textwrap.dedent("""
    import json, sys
    out = sys.argv[sys.argv.index("--json") + 1]
    rows = [{"figure": "files/s", "seed": 4.0, "ours": 40.0, "ratio": 10.0, "goal": ">= 30x"}]
    json.dump({"benchmark": "images", "rows": rows, "config": {"files": 20}}, open(out, "w"))
""")


def test_benchmark_collects_the_scripts_and_names_the_missing_one(tmp_path, monkeypatch, capsys):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "bench_images.py").write_text(SCRIPT)
    (scripts / "bench_train.py").write_text("import sys; sys.exit(3)\n")
    monkeypatch.setattr(benchmark, "SCRIPTS", scripts)
    assert cli.main(["benchmark", "--reports", str(tmp_path / "reports")]) == 1
    report = json.loads((tmp_path / "reports" / "benchmark.json").read_text())
    assert report["benchmarks"]["images"]["rows"][0]["ratio"] == 10.0
    assert "exit status 3" in report["failed"]["train"]
    assert "missing" in report["failed"]["compose"]
    text = (tmp_path / "reports" / "benchmark.md").read_text()
    assert "| files/s | 4 | 40 | 10 | >= 30x |" in text
    assert "## compose: not measured" in text
    assert "bench_compose.py: missing" in capsys.readouterr().err


def test_the_images_benchmark_runs_both_converters_on_the_same_files(tmp_path):
    """The real script on three chorales: every run converts every file, and the figures add up."""
    out = tmp_path / "images.json"
    done = subprocess.run([sys.executable, str(benchmark.SCRIPTS / "bench_images.py"), "--files", "3", "--rounds", "1",
                           "--repeats", "1", "--scratch", str(tmp_path), "--json", str(out)],
                          cwd=benchmark.SCRIPTS.parent, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    config, (one, jobs) = result["config"], result["rows"]
    assert config["seed_converted"] == config["ours_pieces"] == config["ours_jobs_pieces"] == 3
    assert one["seed"] == pytest.approx(3 / config["seed_s"]) and one["ratio"] == pytest.approx(one["ours"] / one["seed"])
    assert config["ceiling_ratio"] == pytest.approx(config["seed_s"] / config["parse_s"])
    assert jobs["ratio"] > 0 and "py_midicsv's parse alone" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["images.json"]  # the scratch folder is cleaned up
