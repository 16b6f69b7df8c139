"""Training curves written as real PNG files."""

import math
import struct
import sys

import pytest

from symgrad.errors import UsageError
from symgrad.printing.plotting import figure, training_curves


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def history(n=12):
    return [
        {"epoch": e, "train_cost": 1.5 * math.exp(-e / 4) + 0.05, "holdout_cost": 1.5 * math.exp(-e / 4) + 0.1,
         "train_accuracy": 1 - 0.8 * math.exp(-e / 3), "holdout_accuracy": 0.97 - 0.8 * math.exp(-e / 3)}
        for e in range(1, n + 1)
    ]


def test_cost_and_accuracy_panels(tmp_path):
    path = training_curves(history(), tmp_path / "curves.png", title="xor")
    w, h = png_size(path.read_bytes())
    assert 900 <= w <= 2000 and 300 <= h <= 800
    fig = figure(history())
    cost, acc = fig.axes
    assert [ln.get_label() for ln in cost.lines] == ["training", "held out"]
    assert list(cost.lines[0].get_xdata()) == list(range(1, 13))
    assert acc.get_ylabel() == "accuracy" and "held out" in acc.get_title()


def test_missing_keys_and_bad_values_are_skipped(tmp_path):
    rows = history(6)
    rows[2].pop("holdout_cost")
    rows[3]["train_cost"] = float("nan")
    rows[4]["train_accuracy"] = None
    for r in rows:
        r.pop("holdout_accuracy")
    fig = figure(rows)
    cost, acc = fig.axes
    assert len(cost.lines[0].get_xdata()) == 5 and len(cost.lines[1].get_xdata()) == 5
    assert [ln.get_label() for ln in acc.lines] == ["training"]
    only_cost = [{"epoch": 1, "train_cost": 0.9}, {"epoch": 2, "train_cost": 0.4}]
    assert len(figure(only_cost).axes) == 1
    w, _ = png_size(training_curves(only_cost, tmp_path / "c.png").read_bytes())
    assert w < 900  # one panel


@pytest.mark.parametrize("rows, path, match", [
    ([], "c.png", "non-empty"),
    ([{"epoch": 1}], "c.png", "no epoch has"),
    (history(2), "c.svg", r"\.png"),
])
def test_user_errors(tmp_path, rows, path, match):
    with pytest.raises(UsageError, match=match):
        training_curves(rows, tmp_path / path)


def test_missing_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(UsageError, match=r"install symgrad\[plot\]"):
        training_curves(history(2), tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()
