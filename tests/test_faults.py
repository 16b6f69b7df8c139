"""Faults: an interrupted ``symgrad train`` keeps its last complete checkpoint, and ``--resume`` finishes
the run with exactly the parameters of an uninterrupted one (issue 6, item 3).

The interrupted runs are real processes (``python -m symgrad train``) sent real signals, or killed
with SIGKILL in the middle of a checkpoint write; the resumed and reference runs are in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import main as cli_main
from symgrad.store.model_file import load_checkpoint, load_model

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 600  # long enough (with a checkpoint per epoch) that a signal always lands mid-run
ARGS = ["train", "--dataset", "spirals", "--sizes", "2,16,2", "--activation", "tanh", "--cost", "log_likelihood",
        "--lr", "0.1", "--batch-size", "10", "--optimizer", "momentum", "--seed", "3", "--quiet"]
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _start(tmp_path: Path, ck: Path, code: str | None = None) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    argv = [*ARGS, "--epochs", str(EPOCHS), "--checkpoint", str(ck)]
    cmd = [sys.executable, "-m", "symgrad", *argv] if code is None else [sys.executable, "-c", code, *argv]
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, cwd=tmp_path, env=_env())
    return proc, out, err


def _wait_for(proc: subprocess.Popen, ready) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"training ended (status {proc.returncode}) before the checkpoint appeared")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("no checkpoint within the time limit")
        time.sleep(0.005)


def _finish(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _epoch_of(ck: Path) -> int:
    if not ck.exists():
        return 0
    _, _, extra = load_checkpoint(ck)  # never half-written: the writer replaces the file atomically
    return int(extra["epoch"])


def _params(path: Path) -> dict[str, np.ndarray]:
    return load_model(path)[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, np.ndarray]:
    """The uninterrupted seeded run's final parameters."""
    ref = tmp_path_factory.mktemp("ref") / "ref.npz"
    assert cli_main([*ARGS, "--epochs", str(EPOCHS), "--save", str(ref)]) == 0
    return _params(ref)


def _resume_and_compare(tmp_path: Path, ck: Path, reference: dict[str, np.ndarray], capsys) -> None:
    capsys.readouterr()
    done = tmp_path / "resumed.npz"
    assert cli_main([*ARGS, "--epochs", str(EPOCHS), "--resume", str(ck), "--save", str(done)]) == 0
    out = capsys.readouterr().out
    assert f"epoch {EPOCHS}/{EPOCHS}" in out
    resumed = _params(done)
    assert resumed.keys() == reference.keys()
    for name in reference:  # bitwise: the resumed run is the same computation
        assert np.array_equal(resumed[name], reference[name]), name


def _no_temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_keeps_last_checkpoint_and_resume_matches(tmp_path, capsys, reference, signum, status):
    ck = tmp_path / "ck.npz"
    proc, out, err = _start(tmp_path, ck)
    if signum == signal.SIGINT:
        _wait_for(proc, ck.exists)  # the first complete checkpoint
    else:  # read the checkpoint while it is being replaced every epoch: always complete
        _wait_for(proc, lambda: _epoch_of(ck) >= 3)
    proc.send_signal(signum)
    t0 = time.monotonic()
    code = _finish(proc)
    assert time.monotonic() - t0 < 10, "did not stop promptly"
    stderr = err.read_text()
    assert code == status, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symgrad train: interrupted during epoch"), stderr

    spec, params, extra = load_checkpoint(ck)
    epoch = int(extra["epoch"])
    assert 1 <= epoch < EPOCHS
    assert f"holds epoch {epoch}" in lines[0]
    assert spec["sizes"] == [2, 16, 2] and params["W2"].shape == (16, 2)
    assert len(json.loads(extra["history"])) == epoch
    assert f"epoch {epoch}/{EPOCHS}" in out.read_text()
    assert _no_temporaries(tmp_path) == []
    _resume_and_compare(tmp_path, ck, reference, capsys)


# a child that wraps np.savez (the checkpoint writer) to act in the middle of writing epoch 3's file
_MID_WRITE = """
import io, json, os, signal, sys, time
import numpy as np
import symgrad.store.model_file as sio

real = np.savez
ACTION = {action!r}

def savez(f, *a, **k):
    epoch = json.loads(bytes(k["symgrad"]).decode())["extra"]["epoch"]
    if epoch != 3:
        return real(f, *a, **k)
    buf = io.BytesIO()
    real(buf, *a, **k)
    data = buf.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    os.fsync(f.fileno())
    for _ in range(2 if ACTION == "SIGINT2" else 1):
        os.kill(os.getpid(), getattr(signal, ACTION.rstrip("2")))
        time.sleep(0.05)
    if ACTION == "SIGKILL":
        sys.exit("not reached")
    f.write(data[len(data) // 2 :])

sio.np.savez = savez
from symgrad.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path, capsys, reference):
    ck = tmp_path / "ck.npz"
    proc, _, err = _start(tmp_path, ck, _MID_WRITE.format(action="SIGKILL"))
    code = _finish(proc)
    assert code == -signal.SIGKILL, err.read_text()
    _, _, extra = load_checkpoint(ck)  # the previous, complete checkpoint
    assert extra["epoch"] == 2
    # the kill really hit mid-write: the half-written temporary is there, unreadable, beside the checkpoint
    temps = _no_temporaries(tmp_path)
    assert len(temps) == 1 and temps[0].startswith(".ck.npz.")
    with pytest.raises(Exception, match="corrupt|truncated"):
        load_checkpoint(tmp_path / temps[0])
    _resume_and_compare(tmp_path, ck, reference, capsys)


def test_sigint_during_a_checkpoint_write_finishes_that_checkpoint(tmp_path):
    ck = tmp_path / "ck.npz"
    proc, _, err = _start(tmp_path, ck, _MID_WRITE.format(action="SIGINT"))
    code = _finish(proc)
    stderr = err.read_text()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    _, params, extra = load_checkpoint(ck)  # the checkpoint being written when the signal came, complete
    assert extra["epoch"] == 3 and all(np.isfinite(p).all() for p in params.values())
    assert _no_temporaries(tmp_path) == []


def test_a_second_sigint_during_a_write_stops_at_once_keeping_the_previous_checkpoint(tmp_path):
    ck = tmp_path / "ck.npz"
    proc, _, err = _start(tmp_path, ck, _MID_WRITE.format(action="SIGINT2"))
    code = _finish(proc)
    stderr = err.read_text()
    assert code == 130, stderr
    assert stderr.strip().splitlines() == ["symgrad train: interrupted"]
    _, _, extra = load_checkpoint(ck)  # the write in progress was abandoned: epoch 2's file stays
    assert extra["epoch"] == 2
    assert _no_temporaries(tmp_path) == []


def test_a_failed_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    """In process: the writer dies mid-file (an exception standing for a crash); the old file stays."""
    import symgrad.store.model_file as sio
    from symgrad.networks import mlp
    from symgrad.numeric.train import train
    from symgrad.store.data import dataset

    X, labels = dataset("spirals", n=60)
    ck = tmp_path / "ck.npz"
    real = np.savez
    calls = []

    def savez(f, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            f.write(b"PK\x03\x04 half an archive")
            raise KeyboardInterrupt  # as if the process were stopped here
        return real(f, *a, **k)

    monkeypatch.setattr(sio.np, "savez", savez)
    net = mlp([2, 4, 2], "tanh", "log_likelihood", level="layer", seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(net, X, labels, epochs=5, lr=0.1, progress=False, checkpoint=ck)
    _, _, extra = load_checkpoint(ck)
    assert extra["epoch"] == 2
    assert _no_temporaries(tmp_path) == []
