"""benchmark: collects every script's JSON, and names a script that is missing or fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pianoroll import cli, dataset, stepping
from pianoroll.commands import benchmark
from pianoroll.roll import PITCHES, WINDOW
from tests.tiny_pages import write_folder

SCRIPT = textwrap.dedent("""
    import json, sys
    out = sys.argv[sys.argv.index("--json") + 1]
    rows = [{"figure": "files/s", "seed": 4.0, "ours": 40.0, "ratio": 10.0, "goal": ">= 30x"}]
    json.dump({"benchmark": "images", "about": "Fixed: the files. Measured: files/s.", "rows": rows,
               "config": {"files": 20}}, open(out, "w"))
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
    assert "| files/s | the seed's way | 4 | 40 | 10 | >= 30x |" in text and "\nFixed: the files. Measured: files/s.\n" in text
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


def run_script(name: str, *flags: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(benchmark.SCRIPTS / f"bench_{name}.py"), *flags],
                          cwd=benchmark.SCRIPTS.parent, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_compose_benchmark_composes_the_seeds_columns_through_keras(tmp_path):
    """The real script on untrained networks: the seed's loop and ours on one network, the default's own rows."""
    out = tmp_path / "compose.json"
    run_script("compose", "--model", str(tmp_path / "none"), "--independent", str(tmp_path / "none"),
               "--length", "12", "--batch", "3", "--repeats", "1", "--json", str(out))
    result = json.loads(out.read_text())
    config, rows = result["config"], {row["figure"]: row for row in result["rows"]}
    assert "untrained independent" in config["independent"] and "untrained convlstm" in config["default"]
    assert config["keras_identical"] is True and config["columns_identical"]["one piece, KerasStep"] is True
    assert config["seed_notes_per_column"] > 1  # the columns compared are not silence
    assert 0 <= config["stepping_agreement"] <= stepping.AGREEMENT
    ours = ["one piece, KerasStep", "one piece, NumpyStep (bundle.stepper)", "3 pieces at once, NumpyStep (bundle.stepper)"]
    default = ["default network, one piece, NumpyStep, vanish", "default network, 3 pieces at once, NumpyStep, vanish"]
    assert list(rows) == [f"{kind}, {figure}" for figure in ours + default
                          for kind in ("columns/s", "columns per CPU second")]
    assert set(config["columns_identical"]) == set(ours)
    for figure in ours:  # the one seed loop is every row's seed figure
        for kind in ("columns/s", "columns per CPU second"):
            row = rows[f"{kind}, {figure}"]
            assert row["seed"] == rows[f"{kind}, one piece, KerasStep"]["seed"] > 0
            assert row["ratio"] == pytest.approx(row["ours"] / row["seed"])
    for figure in default:  # the seed's loop cannot step a NADE head: no seed figure, no ratio
        row = rows[f"columns/s, {figure}"]
        assert row["seed"] is None and row["ratio"] is None and row["ours"] > 0 and "NADE" in row["goal"]
    assert config["notes_per_column"][default[0]] > 0 and "seed's vanish rule" in result["about"]
    assert [p.name for p in tmp_path.iterdir()] == ["compose.json"]  # the untrained bundles were temporary


def test_the_train_benchmark_trains_both_ways_on_the_same_pieces(tmp_path):
    """The real script on tiny pages: the seed's arrays and our rolls hold the same training windows."""
    rolls = write_folder(tmp_path / "images", count=6)
    out = tmp_path / "train.json"
    run_script("train", "--images", str(tmp_path / "images"), "--epochs", "1", "--memory-steps", "2",
               "--json", str(out))
    result = json.loads(out.read_text())
    config, rows = result["config"], {row["figure"]: row for row in result["rows"]}
    train_names, _ = dataset.split(rolls, 0.1)
    windows = sum(len(rolls[name]) for name in train_names)  # one per column of every training piece
    assert config["seed_windows_mib"] == pytest.approx(windows * (WINDOW + 1) * PITCHES * 4 / 2**20)  # float32
    assert config["ours_rolls_mib"] == pytest.approx((windows + WINDOW * len(train_names)) * PITCHES / 2**20)  # bytes
    assert config["seed_epochs"] == 1 and config["memory_steps"] == 2 and config["ours_epochs"] > 0
    for figure in ("held-out NLL (nats/frame)", "held-out Brier", "windows per second"):
        row = rows[figure]
        assert row["seed"] > 0 and row["ours"] > 0 and row["ratio"] == pytest.approx(row["ours"] / row["seed"], rel=1e-2)
