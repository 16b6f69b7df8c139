"""verify refuses up front a proof predicted to exceed its time budget (--max-seconds), issue 14."""
from __future__ import annotations

import pytest

import symgrad.cli.commands as commands
from symgrad.cli.main import main as cli_main
from symgrad.derivation.budget import DEFAULT_MAX_SECONDS, check_budget, estimate_seconds
from symgrad.errors import UsageError

DEEP = ["verify", "--sizes", "6,6,6,6", "--activation", "tanh", "--output", "sigmoid", "--cost", "cross_entropy"]


@pytest.fixture
def no_proof(monkeypatch):
    """Replace the proof by a recorder: a refusal must come before it, an accepted run reaches it."""
    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(commands, "verify_bp", fake)
    return calls


@pytest.mark.parametrize("argv", [
    DEEP,  # measured 61-75 s on the development machine
    ["verify", "--sizes", "2,3,2", "--points", "100000"],
    ["verify", "--sizes", "2,3,2", "--batch", "20", "--max-seconds", "10"],
])
def test_a_run_over_the_budget_is_refused_before_it_starts(argv, no_proof, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symgrad verify: error: an exact proof of "), err
    assert "is predicted to take ~" in err and "over the budget of ~" in err and "--max-seconds " in err
    assert no_proof == []


def test_the_refusal_names_a_budget_that_would_accept_it(no_proof, capsys):
    assert cli_main(["verify", "--sizes", "2,3,2", "--points", "100000"]) == 2
    err = capsys.readouterr().err
    raise_to = int(err.split("--max-seconds ")[1].split(",")[0])
    assert raise_to >= estimate_seconds((2, 3, 2), points=100000) > 3600  # hours, as measured per point
    with pytest.raises(SystemExit):
        cli_main(["verify", "--sizes", "2,3,2", "--points", "100000", "--max-seconds", str(raise_to)])
    assert len(no_proof) == 1


def test_max_seconds_raises_the_limit(no_proof):
    with pytest.raises(SystemExit):
        cli_main([*DEEP, "--max-seconds", "100000"])
    assert len(no_proof) == 1 and list(no_proof[0][0][0]) == [6, 6, 6, 6]


@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 2), (3, 3, 3, 2), (4, 5, 4)])
def test_small_default_runs_are_accepted(sizes):
    assert check_budget(sizes) < DEFAULT_MAX_SECONDS


def test_a_small_default_run_still_runs(capsys):
    assert cli_main(["verify", "--sizes", "2,2"]) == 0
    assert "ALL HOLD" in capsys.readouterr().out


def test_the_estimate_grows_with_batch_points_and_depth():
    base = estimate_seconds((3, 3, 3))
    assert estimate_seconds((3, 3, 3), batch=2) > base
    assert estimate_seconds((3, 3, 3), points=30) > base
    assert estimate_seconds((3, 3, 3, 3)) > base
    assert estimate_seconds((3, 3, 3), "tanh", "sigmoid") > base


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_max_seconds_must_be_positive(bad):
    with pytest.raises(UsageError, match="--max-seconds must be positive"):
        check_budget((2, 2), max_seconds=bad)
