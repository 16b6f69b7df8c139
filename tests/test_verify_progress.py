"""`symgrad verify` on a long proof (issue 14): each check's result is printed as it completes, and Ctrl-C
stops the proofs cleanly with what was proven so far (exit 130), instead of minutes of silence and a
traceback."""

from __future__ import annotations

import importlib
import os
import signal
import sys

import pytest

from symgrad.cli import main as cli_main

V = importlib.import_module("symgrad.derivation.verify")


def test_results_are_printed_as_they_come(capsys):
    assert cli_main(["verify", "--sizes", "2,2,2"]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 6 and all(line.startswith("symgrad verify: [") for line in lines), err
    assert lines[0].startswith("symgrad verify: [1/6] BP1 ") and lines[-1].startswith("symgrad verify: [6/6] BP4 ")
    assert all(line.endswith(" ok") for line in lines)
    assert out.rstrip().splitlines()[-1].startswith("ALL HOLD")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_with_what_was_proven_so_far(monkeypatch, capsys):
    original = V._Checker.check
    calls = []

    def check(self, deriv):
        calls.append(deriv)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of the 4th proof
        return original(self, deriv)

    monkeypatch.setattr(V._Checker, "check", check)
    assert cli_main(["verify", "--sizes", "2,2,2"]) == 130
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert out.rstrip().splitlines()[-1].startswith("INTERRUPTED after 3 of 6 checks (all of them hold)")
    assert err.splitlines()[-1] == "symgrad verify: interrupted: 3 of 6 checks done (shown above)"
    assert "[3/6]" in err and "[4/6]" not in err
