"""`symgrad demo`: derives, verifies, trains and draws, on built-in data."""

import importlib.util
from pathlib import Path

from symgrad.cli import main
from symgrad.cli.demo import run


def test_demo_figures(tmp_path, capsys):
    figures = run(out=str(tmp_path), progress=False)
    out = capsys.readouterr().out
    assert figures["verified"] is True
    assert figures["holdout_accuracy"] >= 0.9
    assert "BP2  δ^2 = ((W^3)ᵀ δ^3) ⊙ σ'(z^2)" in out
    for f in figures["files"]:
        assert Path(f).stat().st_size > 1000
    names = sorted(Path(f).name for f in figures["files"])
    # training.png needs matplotlib (the plot extra); without it the demo says so and goes on
    if importlib.util.find_spec("matplotlib") is None:
        assert names == ["graph-2-2-2.svg", "step-2-2-2.html"] and "install symgrad[plot]" in out
    else:
        assert names == ["graph-2-2-2.svg", "step-2-2-2.html", "training.png"]
    assert "2-2-2 sigmoid network, quadratic cost — neuron level, with derivatives" in (
        tmp_path / "graph-2-2-2.svg").read_text(encoding="utf-8")
    assert abs(figures["E_total"] - 0.298371109) < 1e-9


def test_demo_command_exit_status(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "5"]) == 0
