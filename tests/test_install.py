"""Installing: TensorFlow's CPU or GPU build, an extra chosen by `make install GPU=…`, never both at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def test_tensorflow_is_an_extra_of_one_build_or_the_other_at_the_tested_version():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [r for r in project["dependencies"] if Requirement(r).name.startswith("tensorflow")], \
        "a plain TensorFlow dependency would be installed beside the GPU build"
    (cpu,), (gpu,) = (map(Requirement, project["optional-dependencies"][extra]) for extra in ("cpu", "gpu"))
    assert (cpu.name, cpu.extras) == ("tensorflow-cpu", set()) and (gpu.name, gpu.extras) == ("tensorflow", {"and-cuda"})
    assert str(cpu.specifier) == str(gpu.specifier) == f"=={metadata.version('tensorflow-cpu')}"  # what the tests ran on


def planned_install(venv: Path, *variables: str) -> list[str]:
    """The commands `make install` would run for a venv at ``venv`` (make -n: nothing is run)."""
    if shutil.which("make") is None:
        pytest.skip("make: not installed")
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # under `make test` a nested make would print where it runs
    env = {name: value for name, value in os.environ.items() if name not in outer}
    done = subprocess.run(["make", "-n", "--no-print-directory", "install", f"VENV={venv}", *variables], cwd=ROOT,
                          capture_output=True, text=True, check=True, env=env)
    return done.stdout.splitlines()


@pytest.mark.parametrize("variables, recorded, build, other", [
    ((), None, "cpu", "tensorflow"),  # a new venv: the CPU build
    (("GPU=1",), None, "gpu", "tensorflow-cpu"),
    (("GPU=1",), "cpu", "gpu", "tensorflow-cpu"),  # switching an existing venv over
    ((), "gpu", "gpu", "tensorflow-cpu"),  # later targets keep the build the venv has
    (("GPU=0",), "gpu", "cpu", "tensorflow"),  # and back
])
def test_make_install_installs_one_build_after_removing_the_other(tmp_path, variables, recorded, build, other):
    venv = tmp_path / "venv"
    if recorded:
        venv.mkdir()
        (venv / ".tensorflow").write_text(f"{recorded}\n")
    commands = planned_install(venv, *variables)
    pip = [line.split(" -m pip ", 1)[1] for line in commands if " -m pip " in line]
    assert pip[-2:] == [f"uninstall --quiet --yes {other}", f"install --quiet -e '.[test,{build}]'"]
    assert f"echo {build} > {venv}/.tensorflow" in commands[-1]


def test_make_install_does_nothing_once_the_build_asked_for_is_there(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".tensorflow").write_text("gpu\n")
    (venv / ".installed-gpu").touch()  # newer than pyproject.toml
    assert not [line for line in planned_install(venv) if " -m pip " in line]
    assert [line for line in planned_install(venv, "GPU=0") if " -m pip " in line]


def test_a_command_run_without_tensorflow_says_which_extra_to_install(tmp_path):
    """An install without the cpu or gpu extra: training cannot import TensorFlow and says how to get it."""
    program = ("import sys; sys.modules['tensorflow'] = None  # as if no build of TensorFlow were installed\n"
               "from pianoroll.cli import main\n"
               f"sys.exit(main(['train', '--images', {str(tmp_path)!r}, '--model', {str(tmp_path / 'model')!r}]))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("pianoroll train: TensorFlow is an extra") and "pianoroll[cpu]" in done.stderr
