"""`symgrad demo`: derives, verifies, trains and draws, on built-in data."""

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
    assert len(figures["files"]) == 3
    assert abs(figures["E_total"] - 0.298371109) < 1e-9


def test_demo_command_exit_status(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--epochs", "5"]) == 0
