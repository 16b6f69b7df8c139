"""Training curves written as real PNG files."""

import math
import struct
import sys

import pytest
from extras_hidden import needs

from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.printing.plotting import figure, run_title, training_curves


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def history(n=12):
    return [
        {"epoch": e, "train_cost": 1.5 * math.exp(-e / 4) + 0.05, "holdout_cost": 1.5 * math.exp(-e / 4) + 0.1,
         "train_accuracy": 1 - 0.8 * math.exp(-e / 3), "holdout_accuracy": 0.97 - 0.8 * math.exp(-e / 3)}
        for e in range(1, n + 1)
    ]


@needs("matplotlib")
def test_cost_and_accuracy_panels(tmp_path):
    path = training_curves(history(), tmp_path / "curves.png", title="xor")
    w, h = png_size(path.read_bytes())
    assert 900 <= w <= 2000 and 300 <= h <= 800
    fig = figure(history())
    cost, acc = fig.axes
    assert [ln.get_label() for ln in cost.lines] == ["training", "held out"]
    assert list(cost.lines[0].get_xdata()) == list(range(1, 13))
    assert acc.get_ylabel() == "accuracy" and "held out" in acc.get_title()


@needs("matplotlib")
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
@needs("matplotlib")
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


def test_run_title_names_data_network_and_optimizer():
    assert run_title("spirals", (2, 32, 32, 2), "relu", "log_likelihood", "adam", 0.01, 10, n_train=400,
                     n_holdout=200, output="softmax") == (
        "spirals (400 train / 200 held out) — 2-32-32-2 relu, log-likelihood — adam, η = 0.01, batch 10")
    assert run_title("MNIST (data/)", [784, 30, 10], "sigmoid", "quadratic", "momentum", 3.0, 10, n_train=50000,
                     momentum=0.9, weight_decay=1e-4) == (
        "MNIST (data/) (50,000 train) — 784-30-10 sigmoid, quadratic + λ = 0.0001 weight decay — momentum "
        "(μ = 0.9), η = 3, batch 10")
    assert "(identity output)" in run_title("xor", [2, 1], "tanh", "quadratic", "sgd", 1, 4, output="identity")


@needs("matplotlib")
def test_curves_carry_the_title(tmp_path):
    fig = figure(history(), title="xor (4 train) — 2-4-1 sigmoid, quadratic — sgd, η = 3, batch 4")
    assert fig._suptitle.get_text().startswith("xor (4 train)")


@needs("matplotlib")
def test_train_and_demo_title_their_curves(tmp_path, monkeypatch):
    import symgrad.cli.commands as commands
    import symgrad.cli.demo as demo

    seen = []
    monkeypatch.setattr(commands, "training_curves", lambda h, p, title=None: seen.append(title))
    monkeypatch.setattr(demo, "training_curves", lambda h, p, title=None: seen.append(title))
    assert cli_main(["train", "--dataset", "spirals", "--sizes", "2,8,2", "--cost", "log_likelihood", "--holdout",
                     "50", "--epochs", "2", "--optimizer", "adam", "--lr", "0.01", "--quiet", "--plot",
                     str(tmp_path / "c.png")]) == 0
    demo.run(out=str(tmp_path / "demo"), epochs=1, progress=False)
    assert seen == [
        "spirals (150 train / 50 held out) — 2-8-2 sigmoid, log-likelihood — adam, η = 0.01, batch 10",
        "spirals (400 train / 200 held out) — 2-32-32-2 relu, log-likelihood — adam, η = 0.01, batch 10",
    ]
