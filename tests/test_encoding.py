"""Streams that cannot encode σ, δ, ⊙ (issue 14): ``PYTHONIOENCODING=cp1252 symgrad derive`` (and verify,
and error messages) print ASCII spellings instead of dying in a UnicodeEncodeError."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.cli.encoding import ERRORS, SPELLINGS, ascii_fallback, spell

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str], encoding: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": encoding}
    return subprocess.run([sys.executable, "-m", "symgrad", *argv], capture_output=True, timeout=120, env=env)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_derive_spells_the_symbols_in_ascii(encoding):
    res = _run(["derive", "--sizes", "2,3,2"], encoding)
    assert res.returncode == 0 and b"Traceback" not in res.stderr, res.stderr
    out = res.stdout.decode(encoding)
    assert "BP2  delta^2 = ((W^3)^T delta^3) (.) sigma'(z^2)" in out


def test_verify_spells_the_symbols_in_ascii():
    res = _run(["verify", "--sizes", "2,2"], "cp1252")
    assert res.returncode == 0 and b"Traceback" not in res.stderr, res.stderr
    out = res.stdout.decode("cp1252")
    assert "ALL HOLD" in out and "delta" in out and "δ" not in out


def test_an_error_message_is_spelled_too():
    res = _run(["train", "--dataset", "xor", "--seed", "-1"], "ascii")
    assert res.returncode == 2
    assert res.stderr.decode("ascii") == ("symgrad train: error: argument --seed: --seed must be a whole number "
                                          ">= 0, got '-1'\n")


def test_a_utf8_stream_is_left_alone(monkeypatch):
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    ascii_fallback()
    assert out.errors == "strict"
    print("σ δ ⊙", file=out, end="")
    out.flush()
    assert out.buffer.getvalue().decode("utf-8") == "σ δ ⊙"


def test_spellings():
    assert "σ′(z) ⊙ δ ≥ 0 é ∀".encode("cp1252", ERRORS) == b"sigma'(z) (.) delta >= 0 \xe9 ?"
    assert "é".encode("ascii", ERRORS) == b"e"
    assert all(v.isascii() for v in SPELLINGS.values()) and spell("ᵀ") == "^T"
