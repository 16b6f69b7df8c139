"""Command-line errors (issue 5, item 4): every user error of every subcommand is one line on stderr
naming the culprit, exit status 2, never a traceback; every subcommand's --help shows an example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli.main import EXAMPLES, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A working folder with a few hostile files; relative paths in the cases below point into it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "garbage.npz").write_bytes(b"this is not an archive")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "truncated.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npz").write_bytes((tmp_path / "single.npy").read_bytes())
    (tmp_path / "images.idx").write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02" * 3)  # truncated
    (tmp_path / "labels.idx").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")
    (tmp_path / "mnist").mkdir()
    return tmp_path


CASES = [
    # top level
    (["bogus"], "symgrad", "invalid choice: 'bogus'"),
    (["--sizes", "2,2"], "symgrad", "invalid choice: '2,2'"),
    (["derive", "--sizes", "2,2", "extra"], "symgrad derive", "unrecognized arguments: extra"),
    # bad --sizes, for every command that takes it
    *[(["derive", "--sizes", s], "symgrad derive", "--sizes") for s in ("2,,", "2,,3", ",2,3", "0,3", "a,b", "2", "-1,2", "")],
    (["verify", "--sizes", "2,,"], "symgrad verify", "--sizes"),
    (["train", "--sizes", "0,3", "--dataset", "xor"], "symgrad train", "--sizes"),
    (["graph", "--sizes", "a,b", "--out", "g.svg"], "symgrad graph", "--sizes"),
    (["explain", "--sizes", "2,,", "--out", "x.md"], "symgrad explain", "--sizes"),
    # unknown names and bad flag values
    (["derive", "--activation", "softplus"], "symgrad derive", "--activation"),
    (["derive", "--cost", "hinge"], "symgrad derive", "--cost"),
    (["derive", "--level", "atom"], "symgrad derive", "--level"),
    (["derive", "--format", "pdf"], "symgrad derive", "--format"),
    (["derive", "--sizes", "2,2", "--param", "W9"], "symgrad derive", "--param 'W9'"),
    (["derive", "--sizes", "2,2", "--param", "zz"], "symgrad derive", "--param 'zz'"),
    (["derive", "--sizes", "2,2", "--level", "neuron", "--param", "W2"], "symgrad derive", "--param 'W2'"),
    (["derive", "--bogus-flag"], "symgrad derive", "--bogus-flag"),
    (["verify", "--activation", "nope"], "symgrad verify", "--activation"),
    (["verify", "--sizes", "2,2", "--points", "0"], "symgrad verify", "--points"),
    (["verify", "--sizes", "2,2", "--batch", "-1"], "symgrad verify", "--batch"),
    (["verify", "--seed", "x"], "symgrad verify", "--seed"),
    (["train", "--dataset", "nope", "--sizes", "2,2"], "symgrad train", "unknown dataset 'nope'"),
    (["train", "--dataset", "xor", "--optimizer", "rmsprop"], "symgrad train", "--optimizer"),
    (["train", "--dataset", "xor", "--init", "zeros"], "symgrad train", "--init"),
    (["train", "--dataset", "xor", "--dtype", "float16"], "symgrad train", "--dtype"),
    (["train", "--dataset", "xor", "--lr", "fast"], "symgrad train", "--lr"),
    (["train", "--dataset", "xor", "--epochs", "1.5"], "symgrad train", "--epochs"),
    (["train", "--dataset", "xor", "--mnist", "mnist"], "symgrad train", "not allowed with"),
    (["train", "--sizes", "2,2"], "symgrad train", "--mnist DIR, --images FILE --labels FILE, --csv FILE, --npy FILE, or --dataset"),
    (["graph", "--sizes", "2,2"], "symgrad graph", "--out"),
    (["graph", "--level", "atom", "--out", "g.svg"], "symgrad graph", "--level"),
    (["explain", "--activation", "softsign", "--out", "x.md"], "symgrad explain", "--activation"),
    (["explain", "--out", "x.md", "--input", "a,b"], "symgrad explain", "--input"),
    (["explain", "--out", "x.md", "--input", "1,2,3"], "symgrad explain", "--input"),
    (["explain", "--out", "x.md", "--target", "nan,1"], "symgrad explain", "--target"),
    (["explain", "--out", "x.md", "--lr", "nan"], "symgrad explain", "--lr"),
    (["explain", "--out", "x.md", "--lr", "-0.5"], "symgrad explain", "--lr"),
    (["explain", "--sizes", "30,30,30", "--out", "x.md"], "symgrad explain", "--sizes 30,30,30"),
    (["demo", "--epochs", "0", "--out", "d"], "symgrad demo", "--epochs"),
    (["demo", "--out", "garbage.npz"], "symgrad demo", "--out garbage.npz"),
    # wrong --out / --plot extensions and places that cannot be written
    (["graph", "--out", "g.txt"], "symgrad graph", "--out 'g.txt'"),
    (["graph", "--out", "adir"], "symgrad graph", "--out 'adir'"),
    (["graph", "--out", "no-dir/g.svg"], "symgrad graph", "no-dir/g.svg"),
    (["graph", "--out", "garbage.npz/g.svg"], "symgrad graph", "garbage.npz is a file"),
    (["explain", "--out", "x.txt"], "symgrad explain", "--out 'x.txt'"),
    (["explain", "--out", "no-dir/x.html"], "symgrad explain", "no-dir/x.html"),
    (["train", "--dataset", "xor", "--sizes", "2,2", "--plot", "curves.pdf"], "symgrad train", "--plot"),
    (["train", "--dataset", "xor", "--sizes", "2,2", "--save", "adir"], "symgrad train", "--save adir"),
    (["train", "--dataset", "xor", "--sizes", "2,2", "--checkpoint", "no-dir/ck.npz"], "symgrad train",
     "--checkpoint no-dir/ck.npz"),
    # missing and unreadable files
    (["train", "--images", "images.idx"], "symgrad train", "--images needs --labels"),
    (["train", "--labels", "labels.idx"], "symgrad train", "--labels goes with --images"),
    (["train", "--images", "missing.idx", "--labels", "labels.idx"], "symgrad train", "missing.idx: no such file"),
    (["train", "--images", "images.idx", "--labels", "labels.idx"], "symgrad train", "images.idx: truncated"),
    (["train", "--images", "adir", "--labels", "labels.idx"], "symgrad train", "adir: is a directory"),
    (["train", "--mnist", "no-dir"], "symgrad train", "no-dir: no such directory"),
    (["train", "--mnist", "mnist"], "symgrad train", "missing MNIST file"),
    (["train", "--dataset", "xor", "--sizes", "2,2", "--resume", "missing.npz"], "symgrad train", "--resume missing.npz"),
    (["train", "--dataset", "xor", "--sizes", "2,2", "--resume", "garbage.npz"], "symgrad train", "garbage.npz"),
    (["explain", "--out", "x.md", "--weights", "missing.npz"], "symgrad explain", "--weights 'missing.npz'"),
    (["explain", "--out", "x.md", "--weights", "adir"], "symgrad explain", "--weights 'adir'"),
    (["explain", "--out", "x.md", "--weights", "garbage.npz"], "symgrad explain", "garbage.npz"),
    (["explain", "--out", "x.md", "--weights", "empty.npz"], "symgrad explain", "empty.npz"),
    (["explain", "--out", "x.md", "--weights", "truncated.npz"], "symgrad explain", "truncated.npz"),
    (["explain", "--out", "x.md", "--weights", "single.npz"], "symgrad explain", "single.npz"),
]


def _id(case) -> str:
    return " ".join(case[0]) or "(no command)"


@pytest.mark.parametrize("argv, prefix, culprit", CASES, ids=[_id(c) for c in CASES])
def test_user_error_is_one_line_and_status_2(argv, prefix, culprit, files, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prefix}: error: "), lines[0]
    assert culprit in lines[0], lines[0]
    # nothing written next to the hostile files
    assert not [p.name for p in files.iterdir() if p.suffix in (".svg", ".png", ".dot", ".md", ".html", ".tmp")]


def test_explain_weights_with_wrong_shapes_or_nan(files, capsys):
    from symgrad.store.model_file import save_model

    save_model("w3.npz", {"sizes": [3, 2, 2], "activation": "sigmoid", "cost": "quadratic"},
               {"W2": np.ones((2, 3)), "b2": np.zeros(2), "W3": np.ones((2, 2)), "b3": np.zeros(2)})
    assert main(["explain", "--sizes", "4,2,2", "--weights", "w3.npz", "--out", "x.md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--sizes 4,2,2" in err[0] and "w3.npz" in err[0]
    np.savez("plain.npz", W2=np.full((2, 2), np.nan), b2=np.zeros((2, 1)), W3=np.ones((2, 2)), b3=np.zeros((2, 1)))
    assert main(["explain", "--weights", "plain.npz", "--out", "x.md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("symgrad explain: error: ") and "W2" in err[0]
    assert not Path("x.md").exists()


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_every_subcommand_help_shows_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    line, _, promise = EXAMPLES[command].partition("  # → ")
    assert out.rstrip().endswith(f"example:\n  {line}\n  # → {promise}")
    assert line.split("&&")[-1].split()[:2] == ["symgrad", command]  # a chain makes the file it uses first


def test_top_level_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(c in out for c in EXAMPLES)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("symgrad ")


def test_python_dash_m_symgrad():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    ok = subprocess.run([sys.executable, "-m", "symgrad", "--version"], capture_output=True, text=True,
                        timeout=60, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("symgrad "), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "symgrad", "derive", "--sizes", "2,,"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "symgrad derive: error: argument --sizes: --sizes has an empty entry in '2,,' (write e.g. 784,30,10)"
    ]


def test_big_networks_are_refused_with_the_limit_named(capsys):
    from symgrad.cli import main

    assert main(["verify", "--sizes", "784,30,10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--max-params" in err and "23860" in err
    assert main(["derive", "--sizes", "784,30,10", "--level", "neuron"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--max-formulas" in err
