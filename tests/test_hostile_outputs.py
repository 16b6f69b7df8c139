"""Hostile output paths (issue 14, "Writing files"): symgrad replaces only regular files.

Every special file is made in a temporary folder — a FIFO, a socket, a directory, a dangling symbolic
link and a fake character device (``mknod`` when the tests run as root, else a stat that says so) —
never a real ``/dev`` node. Each is refused before any work starts, with one line naming the flag.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.store import files
from symgrad.store.files import atomic_write, check_target, same_file, symlink_target
from symgrad.store.model_file import load_model

train_module = importlib.import_module("symgrad.numeric.train")  # the package exports the function

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")

XOR = ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "2", "--quiet"]


def _fake_device(path: Path, monkeypatch) -> None:
    """A character device in tmp: the real thing when root may mknod (a /dev/null twin), else a stat that says so."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return
    except (PermissionError, AttributeError, OSError):
        pass
    path.write_bytes(b"")
    real_lstat = os.lstat

    class _St:
        def __init__(self, st):
            self._st = st
            self.st_mode = (st.st_mode & 0o7777) | stat.S_IFCHR

        def __getattr__(self, name):
            return getattr(self._st, name)

    def lstat(p, *a, **k):
        st = real_lstat(p, *a, **k)
        return _St(st) if os.path.abspath(os.fspath(p)) == str(path) else st

    monkeypatch.setattr(files.os, "lstat", lstat)


def _special(kind: str, tmp_path: Path, monkeypatch) -> Path:
    p = tmp_path / f"{kind}.npz"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.close()
    elif kind == "dir":
        p.mkdir()
    elif kind == "dangling":
        p.symlink_to(tmp_path / "nowhere" / "x.npz")
    elif kind == "link-to-fifo":
        os.mkfifo(tmp_path / "pipe")
        p.symlink_to(tmp_path / "pipe")
    elif kind == "device":
        _fake_device(p, monkeypatch)
    return p


KINDS = {"fifo": "FIFO", "socket": "socket", "dir": "directory", "dangling": "dangling symbolic link",
         "link-to-fifo": "symbolic link to a FIFO", "device": "character device"}


def _kind_now(p: Path) -> int:
    return os.lstat(p).st_mode


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--plot"])
def test_train_refuses_an_output_that_is_not_a_regular_file(kind, flag, tmp_path, monkeypatch, capsys):
    p = _special(kind, tmp_path, monkeypatch)
    if flag == "--plot":
        p = p.rename(p.with_suffix(".png")) if kind != "dangling" else p
        if kind == "dangling":
            p = tmp_path / "dangling.png"
            p.symlink_to(tmp_path / "nowhere.png")
    before = _kind_now(p)
    called = []
    monkeypatch.setattr(train_module, "Trainer", lambda *a, **k: called.append(1))  # no training may start
    assert cli_main([*XOR, flag, str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"symgrad train: error: {flag} {p}:"), err
    assert KINDS[kind] in err
    assert not called
    assert _kind_now(p) == before  # still the FIFO, device, link…


def test_atomic_write_never_replaces_a_special_file(tmp_path, monkeypatch):
    for kind in KINDS:
        p = _special(kind, tmp_path, monkeypatch)
        before = _kind_now(p)
        with pytest.raises(UsageError, match=KINDS[kind]):
            atomic_write(p, b"x")
        assert _kind_now(p) == before
    assert not [q for q in tmp_path.iterdir() if q.name.endswith(".tmp")]


def test_something_put_in_the_way_during_the_write_is_not_replaced(tmp_path):
    p = tmp_path / "m.bin"
    with pytest.raises(UsageError, match="now a FIFO"), files.atomic_open(p, "wb") as f:
        f.write(b"x")
        os.mkfifo(p)  # after the check, before the rename
    assert stat.S_ISFIFO(os.lstat(p).st_mode)


def test_a_symlink_to_a_regular_file_is_followed_and_said(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "target.npz"
    target.write_bytes(b"stale")
    link = tmp_path / "link.npz"
    link.symlink_to(Path("real") / "target.npz")
    assert symlink_target(link) == target.resolve() and symlink_target(target) is None
    assert check_target(link) == target.resolve()
    assert cli_main([*XOR, "--save", str(link)]) == 0
    err = capsys.readouterr().err
    assert f"--save {link} is a symbolic link; writing its target {target.resolve()}" in err
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "target.npz")  # the link stays a link
    spec, _ = load_model(target)  # and the file it points to is the new model, not stale
    assert spec["sizes"] == [2, 4, 1]


@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--plot", "--resume"])
def test_an_empty_path_is_refused(flag, capsys):
    assert cli_main([*XOR, flag, ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symgrad train: error: {flag}") and err.count("\n") == 1, err


@pytest.mark.parametrize("second", ["m.npz", "./m.npz", "link.npz", "sub/../m.npz"])
def test_save_and_checkpoint_on_the_same_file_are_refused(second, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    Path("m.npz").write_bytes(b"old")
    Path("link.npz").symlink_to("m.npz")
    assert cli_main([*XOR, "--save", "m.npz", "--checkpoint", second]) == 2
    err = capsys.readouterr().err
    assert "are the same file" in err and "--save m.npz" in err and f"--checkpoint {second}" in err
    assert Path("m.npz").read_bytes() == b"old"
    assert same_file("m.npz", second) and not same_file("m.npz", "other.npz")


def test_save_onto_the_resumed_checkpoint_is_refused(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert cli_main([*XOR, "--checkpoint", str(ck)]) == 0
    before = ck.read_bytes()
    capsys.readouterr()
    assert cli_main([*XOR, "--epochs", "3", "--resume", str(ck), "--save", str(ck)]) == 2
    assert "is the --resume checkpoint" in capsys.readouterr().err
    assert ck.read_bytes() == before


@pytest.mark.parametrize("kind", ["fifo", "dangling"])
@pytest.mark.parametrize("command", ["graph", "explain"])
def test_graph_and_explain_refuse_special_outputs(kind, command, tmp_path, monkeypatch, capsys):
    suffix = ".svg" if command == "graph" else ".md"
    p = tmp_path / f"out{suffix}"
    if kind == "fifo":
        os.mkfifo(p)
    else:
        p.symlink_to(tmp_path / "missing" / f"x{suffix}")
    argv = ["graph", "--sizes", "2,2,2"] if command == "graph" else ["explain"]
    assert cli_main([*argv, "--out", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symgrad {command}: error: --out {p}:") and KINDS[kind] in err


def _interrupt_at(monkeypatch, epoch: int) -> None:
    """A Ctrl-C (a real SIGINT to this process) in the middle of epoch ``epoch``."""
    calls = []
    original = train_module.Trainer.run_epoch

    def run_epoch(self, perm, flag=None):
        calls.append(1)
        if len(calls) == epoch:
            os.kill(os.getpid(), signal.SIGINT)  # the handler symgrad train installed sets the flag
        return original(self, perm, flag)

    monkeypatch.setattr(train_module.Trainer, "run_epoch", run_epoch)


SPIRALS = ["train", "--dataset", "spirals", "--sizes", "2,8,2", "--activation", "tanh", "--cost",
           "log_likelihood", "--lr", "0.1", "--batch-size", "10", "--seed", "1", "--quiet", "--epochs", "50"]


def test_ctrl_c_with_save_writes_the_last_completed_epoch(tmp_path, monkeypatch, capsys):
    ref = tmp_path / "ref.npz"
    assert cli_main([*SPIRALS[:-1], "3", "--save", str(ref)]) == 0
    capsys.readouterr()
    _interrupt_at(monkeypatch, 4)
    out = tmp_path / "m.npz"
    assert cli_main([*SPIRALS, "--save", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted during epoch 4; saved the model of epoch 3 (the last completed) to {out}" in err
    got, want = load_model(out)[1], load_model(ref)[1]
    for name in want:  # bit for bit the 3-epoch run: not the half-trained epoch 4
        assert np.array_equal(got[name], want[name]), name


def test_ctrl_c_without_save_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _interrupt_at(monkeypatch, 2)
    assert cli_main(SPIRALS) == 130
    err = capsys.readouterr().err
    assert "interrupted during epoch 2; nothing was saved" in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_the_first_epoch_with_save_writes_nothing(tmp_path, monkeypatch, capsys):
    _interrupt_at(monkeypatch, 1)
    out = tmp_path / "m.npz"
    assert cli_main([*SPIRALS, "--save", str(out)]) == 130
    assert "no epoch was completed, nothing was saved" in capsys.readouterr().err
    assert not out.exists()


def test_ctrl_c_with_keep_best_and_save_names_the_best_epoch(tmp_path, monkeypatch, capsys):
    """keep-best restores the best epoch's parameters on Ctrl-C: the message names that epoch, not the last."""
    base = [*SPIRALS[:-2], "--holdout", "100", "--keep-best", "--lr", "3"]
    ref = tmp_path / "ref.npz"
    assert cli_main([*base, "--epochs", "3", "--save", str(ref)]) == 0
    said = capsys.readouterr()
    best = re.search(r"best epoch: (\d+) \(kept\)", said.out + said.err)
    assert best, said
    _interrupt_at(monkeypatch, 4)
    out = tmp_path / "m.npz"
    assert cli_main([*base, "--epochs", "50", "--save", str(out)]) == 130
    err = capsys.readouterr().err
    assert (f"interrupted during epoch 4; saved the model of epoch {best.group(1)} (the best of the 3 completed) "
            f"to {out}") in err
    got, want = load_model(out)[1], load_model(ref)[1]
    for name in want:  # the best epoch's parameters, as the 3-epoch keep-best run ends with
        assert np.array_equal(got[name], want[name]), name
