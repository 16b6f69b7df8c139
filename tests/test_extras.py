"""Without the optional extras every command works or stops at once with one line naming the extra.

Each subcommand runs in a child process in which matplotlib, tqdm, mkdocs, torch and jax
cannot be imported (see ``extras_hidden.py``), as after a plain ``pip install -e .``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest
from extras_hidden import EXTRAS, ROOT, environment, needs, python_without, run_without

from symgrad.cli.main import build_parser

#: (name, arguments, expected exit status, the extra a status-2 line must name, files that must exist after)
CASES = [
    ("demo", ["demo", "--epochs", "2", "--out", "demo"], 0, None, ["demo/graph-2-2-2.svg", "demo/step-2-2-2.html"]),
    ("derive", ["derive", "--sizes", "2,3,2"], 0, None, []),
    ("derive-neuron", ["derive", "--sizes", "2,2,2", "--level", "neuron", "--format", "latex"], 0, None, []),
    ("verify", ["verify", "--sizes", "2,2,2"], 0, None, []),
    ("train", ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3"], 0, None, []),
    ("train-save", ["train", "--dataset", "spirals", "--sizes", "2,8,2", "--cost", "log_likelihood", "--epochs", "2",
                    "--save", "m.npz", "--json"], 0, None, ["m.npz"]),
    ("train-plot", ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3", "--plot", "c.png"], 2, "plot", []),
    ("train-jax", ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3", "--backend", "jax"], 2, "jax", []),
    ("graph-svg", ["graph", "--with-derivatives", "--out", "g.svg"], 0, None, ["g.svg"]),
    ("graph-layer-svg", ["graph", "--sizes", "2,3,2", "--level", "layer", "--with-derivatives", "--out", "l.svg"],
     0, None, ["l.svg"]),
    ("graph-dot", ["graph", "--with-derivatives", "--out", "g.dot"], 0, None, ["g.dot"]),
    ("graph-png", ["graph", "--with-derivatives", "--out", "g.png"], 2, "plot", []),
    ("explain-md", ["explain", "--out", "s.md"], 0, None, ["s.md"]),
    ("explain-html", ["explain", "--sizes", "2,3,1", "--activation", "tanh", "--out", "s.html"], 0, None, ["s.html"]),
    ("data-list", ["data", "list", "--dir", "nowhere"], 0, None, []),
    # a model file is needed to evaluate, predict or look into: without one, one line naming it; --plot needs the extra
    ("evaluate-plot", ["evaluate", "--model", "m.npz", "--dataset", "mnist", "--plot", "c.png"], 2, "plot", []),
    ("predict", ["predict", "--model", "m.npz", "--dataset", "mnist"], 2, None, []),
    ("info", ["info", "m.npz"], 2, None, []),
    # no mirror answers on the discard port of loopback: the one-line "every mirror failed" error, no extra involved
    ("data-fetch", ["data", "fetch", "mnist", "--dir", "d", "--mirror", "http://127.0.0.1:9/", "--quiet"], 2, None, []),
]


def subcommands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_subcommand_has_a_case():
    missing = subcommands() - {args[0] for _, args, *_ in CASES}
    assert not missing, f"add a case without the extras for: {', '.join(sorted(missing))}"


def test_the_extras_are_really_hidden(tmp_path):
    for module in EXTRAS:
        res = python_without(f"import {module}", tmp_path)
        assert res.returncode == 1 and f"No module named '{module}'" in res.stderr, module
    # ...and symgrad itself still imports, with its notebook displays
    res = python_without("import symgrad as sg; n = sg.mlp([2, 2, 2]); n.backprop(); "
                         "b = n._repr_mimebundle_(); print(sorted(b)); print(len(n.graph._repr_svg_()))", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "['text/html', 'text/latex', 'text/plain']"


@pytest.mark.parametrize("name, args, status, extra, files", CASES, ids=[c[0] for c in CASES])
def test_subcommand_without_extras(tmp_path, name, args, status, extra, files):
    work = tmp_path / "work"
    work.mkdir()
    res = run_without(args, work, tmp_path)
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    assert "Warning" not in res.stderr, res.stderr
    assert res.returncode == status, res.stderr
    if status == 2:
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert extra is None or f"install symgrad[{extra}]" in lines[0], lines[0]
        assert res.stdout == ""  # stopped before any work
        assert list(work.iterdir()) == []  # and wrote nothing
    for f in files:
        assert (work / f).stat().st_size > 200, f
    if name == "demo":
        out = res.stdout
        assert "ALL HOLD" in out and "held-out accuracy" in out
        assert "skipped demo/training.png (the training curves): drawing them needs matplotlib: " \
               "install symgrad[plot]" in out
        assert not (work / "demo" / "training.png").exists()
    if name == "explain-html":
        assert "<svg" in (work / "s.html").read_text()  # the picture needs no extra


def _train_on_a_terminal(tmp_path, env) -> tuple[subprocess.CompletedProcess, bytes]:
    """``symgrad train`` with stderr an 80-column terminal; (the run, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a pty starts 0 columns wide
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "symgrad", "train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3"],
            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, text=True, timeout=120,
            cwd=tmp_path, env=env,
        )
    finally:
        os.close(slave)
    err = b""
    try:
        while chunk := os.read(master, 4096):
            err += chunk
    except OSError:  # EIO: the terminal has no writer left
        pass
    finally:
        os.close(master)
    return proc, err


def test_training_on_a_terminal_without_tqdm_has_no_bar_and_no_noise(tmp_path):
    proc, err = _train_on_a_terminal(tmp_path, environment(tmp_path))
    assert proc.returncode == 0
    assert proc.stdout.count("epoch ") == 3
    assert err == b"", err  # no bar, no warning, no traceback


@needs("tqdm")
def test_training_on_a_terminal_with_tqdm_draws_a_bar(tmp_path):
    """The control of the test above: with the progress extra the same run draws a bar."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    proc, err = _train_on_a_terminal(tmp_path, env)
    assert proc.returncode == 0
    assert b"epoch" in err and b"3/3" in err, err
