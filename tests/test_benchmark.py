"""benchmark: collects every script's JSON, and names a script that is missing or fails."""

from __future__ import annotations

import json
import textwrap

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
