"""train through tf.distribute: two worker processes on localhost joined by TF_CONFIG,
and the mirrored strategy on this machine's devices.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from pianoroll import bundle, stepping
from tests.test_train import REPO, cli_error, command, history, run_train
from tests.tiny_pages import write_folder

ONE_EPOCH = ["--arch", "seed", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_folder(folder, count=4, columns=120)
    return folder


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now: bound to port 0 together, so the system hands out distinct ones."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_strategy_trains_a_bundle(images, tmp_path):
    run_train(images, tmp_path / "mirrored", *ONE_EPOCH, "--strategy", "mirrored")
    config = bundle.read_config(tmp_path / "mirrored")
    assert config.strategy == "mirrored" and config.epochs == 1
    assert len(history(tmp_path / "mirrored")) == 1


def test_mirrored_strategy_trains_the_default_network_with_its_numpy_weights(images, tmp_path):
    """The NADE head reads a dict of inputs (window, beat, column), which the strategy must distribute too."""
    model = tmp_path / "mirrored-default"
    run_train(images, model, "--arch", "convlstm", "--epochs", "1", "--strategy", "mirrored")
    config = bundle.read_config(model)
    assert config.strategy == "mirrored" and config.arch == "convlstm" and config.model.head == "nade"
    assert 0 <= config.stepping_agreement <= stepping.AGREEMENT
    assert isinstance(bundle.stepper(model), stepping.NumpyStep)


def test_two_workers_on_localhost_train_one_bundle(images, tmp_path):
    model = tmp_path / "cluster"
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen(command(images, model, *ONE_EPOCH, "--strategy", "multiworker"), cwd=REPO,
                                        env={**os.environ, "TF_CONFIG": config}, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    assert "the chief writes" in outputs[1][0]  # worker 1 trained its share and left the bundle to worker 0
    config = bundle.read_config(model)
    assert config.strategy == "multiworker" and config.epochs == 1
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "history.csv", "logs", "loss.png", "model.keras"]


def test_multiworker_without_a_cluster_says_so(images, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cli_error(capsys, "--images", str(images), "--model", str(tmp_path / "m"), "--strategy", "multiworker") == (
        "pianoroll train: --strategy multiworker: set TF_CONFIG to describe the cluster (see the README)")
