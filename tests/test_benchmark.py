"""benchmark: collects every benchmark's JSON, names one that is missing or fails, and runs from an installed copy."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pianoroll import cli, dataset, pages, stepping
from pianoroll.bench import seed_midi2img
from pianoroll.commands import benchmark
from pianoroll.roll import LOWEST_PITCH, PITCHES, WINDOW, as_frames
from tests.tiny_pages import write_folder

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys
    out = sys.argv[sys.argv.index("--json") + 1]
    rows = [{"figure": "files/s", "seed": 4.0, "ours": 40.0, "ratio": 10.0, "goal": ">= 30x"}]
    json.dump({"benchmark": "images", "about": "Fixed: the files. Measured: files/s.", "rows": rows,
               "config": {"files": 20}}, open(out, "w"))
""")


def test_benchmark_collects_the_benchmarks_and_names_the_missing_one(tmp_path, monkeypatch, capsys):
    """A package of stand-in benchmarks: one writes figures, one fails, one is missing."""
    package = tmp_path / "standin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "images.py").write_text(SCRIPT)
    (package / "train.py").write_text("import sys; sys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(benchmark, "PACKAGE", "standin")
    assert cli.main(["benchmark", "--reports", str(tmp_path / "reports")]) == 1
    report = json.loads((tmp_path / "reports" / "benchmark.json").read_text())
    assert report["benchmarks"]["images"]["rows"][0]["ratio"] == 10.0
    assert "exit status 3" in report["failed"]["train"]
    assert "missing" in report["failed"]["compose"]
    text = (tmp_path / "reports" / "benchmark.md").read_text()
    assert "| files/s | the seed's way | 4 | 40 | 10 | >= 30x |" in text and "\nFixed: the files. Measured: files/s.\n" in text
    assert "## compose: not measured" in text
    assert "standin.compose: missing" in capsys.readouterr().err


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package as `pip install .` lays it out: a wheel built from a copy of the sources, installed into a folder."""
    folder = tmp_path_factory.mktemp("installed")
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "pianoroll", source / "pianoroll", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(folder / "wheel")],
                   check=True, capture_output=True)
    wheel = next((folder / "wheel").glob("pianoroll-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(folder / "site"), str(wheel)],
                   check=True, capture_output=True)
    return folder


def run_installed(installed: Path, *command: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """A command run outside the checkout, with the installed copy first on the path (the rest from this venv)."""
    env = {**os.environ, "PYTHONPATH": str(installed / "site"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, *command], cwd=installed, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_an_installed_copy_holds_every_benchmark_it_runs(installed):
    """`pip install .` (not an editable checkout) carries each benchmark and the seed references they time."""
    wheel = next((installed / "wheel").glob("pianoroll-*.whl"))
    modules = [f"{benchmark.PACKAGE}.{name}" for name in (*benchmark.BENCHMARKS, "seed_midi2img", "seed_compose")]
    listed = set(zipfile.ZipFile(wheel).namelist())
    assert {module.replace(".", "/") + ".py" for module in modules} <= listed
    check = ("import importlib.util, json, sys; "
             "print(json.dumps([importlib.util.find_spec(m).origin for m in sys.argv[1:]]))")
    origins = json.loads(run_installed(installed, "-c", check, *modules).stdout)
    assert all(Path(origin).is_relative_to(installed / "site") for origin in origins), origins


def test_the_installed_benchmark_command_runs_a_benchmark(installed):
    """`pianoroll benchmark` from the installed copy: finds, runs and reports the compose benchmark (untrained)."""
    reports = installed / "reports"
    run_installed(installed, "-m", "pianoroll", "benchmark", "--quick", "--only", "compose", "--reports", str(reports),
                  timeout=600)
    report = json.loads((reports / "benchmark.json").read_text())
    assert report["failed"] == {} and report["benchmarks"]["compose"]["config"]["keras_identical"] is True
    assert "untrained independent" in report["benchmarks"]["compose"]["config"]["independent"]  # no models/ here


def test_the_images_benchmark_runs_both_converters_on_the_same_files(tmp_path):
    """The real benchmark on three chorales: every run converts every file, and its scratch folder goes."""
    out = tmp_path / "images.json"
    done = run_benchmark("images", "--files", "3", "--rounds", "1", "--repeats", "1", "--scratch", str(tmp_path),
                         "--json", str(out))
    config = json.loads(out.read_text())["config"]
    assert config["seed_converted"] == config["ours_pieces"] == config["ours_jobs_pieces"] == 3
    assert "py_midicsv's parse alone" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["images.json"]  # the scratch folder is cleaned up


def test_the_seeds_converter_keeps_its_faults_where_ours_is_exact(make_midi, tmp_path):
    """What the images benchmark times ours against: the seed's pages, upside down and blurred by the resize."""
    scale = [(60, 0), (64, 480), (67, 960)]  # C4, E4, G4: a quarter note each, 480 ticks a beat
    path = make_midi("scale.mid", [[event for pitch, tick in scale for event in
                                    (f"{tick}, Note_on_c, 0, {pitch}, 90", f"{tick + 480}, Note_off_c, 0, {pitch}, 0")]])
    (seed_page,) = seed_midi2img.midi2image(path, tmp_path)
    seed_image = np.asarray(Image.open(seed_page))
    assert seed_image.shape == (106, 106)
    assert len(set(np.unique(seed_image)) - {0, 255}) > 10  # resizing 100 columns to 106 blurs the notes
    for pitch, tick in scale:  # row pitch - 21 from the top (ours: from the bottom); 4 columns of 100, stretched
        column = round((tick // 120 + 2) * 106 / 100)
        assert seed_image[:, column].argmax() == pitch - seed_midi2img.LOWER_BOUND_NOTE

    assert cli.main(["midi2image", str(path), "--out", str(tmp_path / "ours")]) == 0
    roll = as_frames(pages.read_image(tmp_path / "ours" / pages.page_name("scale", 0)))
    expected = np.zeros_like(roll)
    for index, (pitch, _) in enumerate(scale):
        expected[4 * index: 4 * index + 4, pitch - LOWEST_PITCH] = 1
    assert np.array_equal(roll[: len(expected)], expected)


def run_benchmark(name: str, *flags: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", f"{benchmark.PACKAGE}.{name}", *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_compose_benchmark_composes_the_seeds_columns_through_keras(tmp_path):
    """The real script on untrained networks: the seed's loop and ours on one network, the default's own rows."""
    out = tmp_path / "compose.json"
    run_benchmark("compose", "--model", str(tmp_path / "none"), "--independent", str(tmp_path / "none"),
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
    for figure in default:  # the seed's loop cannot step a NADE head: no seed figure, no ratio
        row = rows[f"columns/s, {figure}"]
        assert row["seed"] is None and row["ratio"] is None and row["ours"] > 0 and "NADE" in row["goal"]
    assert config["notes_per_column"][default[0]] > 0 and "seed's vanish rule" in result["about"]
    assert [p.name for p in tmp_path.iterdir()] == ["compose.json"]  # the untrained bundles were temporary


def test_the_train_benchmark_trains_both_ways_on_the_same_pieces(tmp_path):
    """The real benchmark on tiny pages: the seed's arrays and our rolls hold the same training windows,
    and both networks are scored on the held-out pieces after learning something."""
    rolls = write_folder(tmp_path / "images", count=6)
    out = tmp_path / "train.json"
    run_benchmark("train", "--images", str(tmp_path / "images"), "--epochs", "1", "--memory-steps", "2",
                  "--json", str(out))
    result = json.loads(out.read_text())
    config, rows = result["config"], {row["figure"]: row for row in result["rows"]}
    train_names, _ = dataset.split(rolls, 0.1)
    windows = sum(len(rolls[name]) for name in train_names)  # one per column of every training piece
    assert config["seed_windows_mib"] == pytest.approx(windows * (WINDOW + 1) * PITCHES * 4 / 2**20)  # float32
    assert config["ours_rolls_mib"] == pytest.approx((windows + WINDOW * len(train_names)) * PITCHES / 2**20)  # bytes
    assert config["seed_epochs"] == 1 and config["memory_steps"] == 2 and config["ours_epochs"] > 0
    coin = PITCHES * math.log(2)  # the NLL of an untrained sigmoid's 0.5 for every pitch: where the seed's starts
    nll = rows["held-out NLL (nats/frame)"]
    assert 0 < nll["ours"] < nll["seed"] < coin  # ours starts from a typical column's odds, the seed's from 0.5
    assert 0 < rows["held-out Brier"]["ours"] < rows["held-out Brier"]["seed"] < 0.25
