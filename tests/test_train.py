"""symgrad.numeric.train: SGD/momentum/Adam on compiled networks, determinism, checkpoints, the CLI."""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from extras_hidden import run_without

from symgrad import mlp
from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.numeric.train import TrainingError, train

ROOT = Path(__file__).resolve().parents[1]
#: The real MNIST test set shipped in the package.
MNIST = Path(str(resources.files("symgrad.store").joinpath("datasets", "mnist")))


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
    return centres[labels] + rng.normal(0, 0.5, (n, 2)), labels


def test_sgd_matches_a_hand_written_nielsen_step():
    X, labels = _blobs(30)
    net = mlp([2, 4, 3], "sigmoid", "quadratic", level="layer", seed=3)
    p0 = net.params()
    train(net, X, labels, epochs=1, batch_size=30, lr=0.5, seed=0, progress=False)
    # one full-batch step by hand: w -> w - (η/m) Σ_x ∂C_x/∂w
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x = X.T
    y = np.eye(3)[:, labels]
    a2 = sig(p0["W2"] @ x + p0["b2"])
    a3 = sig(p0["W3"] @ a2 + p0["b3"])
    d3 = (a3 - y) * a3 * (1 - a3)
    d2 = (p0["W3"].T @ d3) * a2 * (1 - a2)
    want = {"W3": p0["W3"] - 0.5 / 30 * d3 @ a2.T, "b3": p0["b3"] - 0.5 / 30 * d3.sum(1, keepdims=True),
            "W2": p0["W2"] - 0.5 / 30 * d2 @ x.T, "b2": p0["b2"] - 0.5 / 30 * d2.sum(1, keepdims=True)}
    got = net.params()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 3.0), ("momentum", 0.5), ("adam", 0.05)])
def test_optimizers_learn_blobs(optimizer, lr):
    X, labels = _blobs()
    net = mlp([2, 8, 3], "sigmoid", "cross_entropy", level="layer", seed=0)
    h = train(net, X[:200], labels[:200], epochs=15, batch_size=10, lr=lr, optimizer=optimizer,
              holdout=(X[200:], labels[200:]), progress=False)
    assert len(h) == 15
    assert h[-1]["train_cost"] < h[0]["train_cost"]
    assert h[-1]["holdout_accuracy"] > 0.9
    assert all(r["seconds"] > 0 for r in h)


def test_xor_with_one_output_and_weight_decay():
    from symgrad.store.data import dataset

    X, labels = dataset("xor", n=200, seed=1)
    net = mlp([2, 6, 1], "tanh", "quadratic", level="layer", output="sigmoid", seed=2, init="glorot")
    h = train(net, X, labels, epochs=60, batch_size=10, lr=2.0, weight_decay=1e-4, progress=False)
    assert h[-1]["train_accuracy"] > 0.95
    with pytest.raises(UsageError, match="twice"):
        train(mlp([2, 2, 1], level="layer", weight_decay=0.1, seed=0), X, labels, epochs=1, weight_decay=0.1)


def test_same_seed_same_result_and_float32():
    X, labels = _blobs(100)
    runs = []
    for _ in range(2):
        net = mlp([2, 5, 3], "relu", "log_likelihood", level="layer", seed=7, init="he")
        h = train(net, X, labels, epochs=3, batch_size=7, lr=0.1, optimizer="momentum", seed=11, progress=False)
        runs.append((net.params(), [r["train_cost"] for r in h]))
    assert runs[0][1] == runs[1][1]
    for k in runs[0][0]:
        assert np.array_equal(runs[0][0][k], runs[1][0][k])
    net = mlp([2, 5, 3], "relu", "log_likelihood", level="layer", seed=7, init="he")
    h32 = train(net, X, labels, epochs=3, batch_size=7, lr=0.1, optimizer="momentum", seed=11, dtype="float32",
                progress=False)
    assert abs(h32[-1]["train_cost"] - runs[0][1][-1]) < 1e-3


def test_resume_equals_uninterrupted(tmp_path):
    X, labels = _blobs(120)
    ck = tmp_path / "ck.npz"
    kw = dict(batch_size=8, lr=0.02, optimizer="adam", seed=5, progress=False)
    full = mlp([2, 6, 3], "sigmoid", "cross_entropy", level="layer", seed=1)
    h_full = train(full, X, labels, epochs=4, **kw)
    part = mlp([2, 6, 3], "sigmoid", "cross_entropy", level="layer", seed=1)
    train(part, X, labels, epochs=2, checkpoint=ck, **kw)
    again = mlp([2, 6, 3], "sigmoid", "cross_entropy", level="layer", seed=99)  # other init: overwritten
    h = train(again, X, labels, epochs=4, resume=ck, checkpoint=ck, **kw)
    for k, v in full.params().items():
        assert np.array_equal(again.params()[k], v)
    assert [r["train_cost"] for r in h] == [r["train_cost"] for r in h_full]
    with pytest.raises(UsageError, match="batch_size"):
        train(mlp([2, 6, 3], "sigmoid", "cross_entropy", level="layer", seed=1), X, labels, epochs=5, resume=ck,
              **{**kw, "batch_size": 9})


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_names_epoch_step_and_parameter():
    X, labels = _blobs(60)
    X = X * 1e150
    net = mlp([2, 4, 3], "identity", "quadratic", level="layer", seed=0)
    with pytest.raises(TrainingError, match=r"epoch 1, step \d+: .*(W|b)\d"):
        train(net, X, labels, epochs=2, batch_size=10, lr=1e10, progress=False)


def test_bad_inputs():
    net = mlp([2, 3, 3], level="layer", seed=0)
    X, labels = _blobs(20)
    with pytest.raises(UsageError, match="features"):
        train(net, np.zeros((20, 5)), labels, epochs=1)
    with pytest.raises(UsageError, match="labels span"):
        train(net, X, labels + 5, epochs=1)
    with pytest.raises(UsageError, match="optimizer"):
        train(net, X, labels, epochs=1, optimizer="rmsprop")


def test_callback_stops_and_history_json():
    X, labels = _blobs(50)
    net = mlp([2, 3, 3], level="layer", seed=0)
    h = train(net, X, labels, epochs=10, progress=False, callback=lambda r: r["epoch"] < 2)
    assert [r["epoch"] for r in h] == [1, 2]
    assert json.loads(h.to_json())["epochs"][0]["epoch"] == 1


def test_mnist_one_epoch_smoke():
    from symgrad.store.data import dataset

    X, labels = dataset("mnist")
    net = mlp([784, 30, 10], "sigmoid", "cross_entropy", level="layer", seed=0, init="glorot")
    h = train(net, X[:2000], labels[:2000], epochs=1, batch_size=10, lr=0.5,
              holdout=(X[8000:], labels[8000:]), progress=False)
    assert h[0]["holdout_accuracy"] > 0.8


def test_cli_json_save_and_usage_errors(tmp_path, capsys):
    save = tmp_path / "model.npz"
    status = cli_main(["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3", "--lr", "3.0",
                       "--json", "--quiet", "--save", str(save)])
    assert status == 0
    out = capsys.readouterr().out.strip().splitlines()
    doc = json.loads(out[-1])
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2, 3]
    assert {"epoch", "seconds", "train_cost", "holdout_accuracy"} <= set(doc["epochs"][0])
    from symgrad.store.model_file import load_model

    spec, params = load_model(save)
    assert spec["sizes"] == [2, 4, 1] and params["W2"].shape == (4, 2)
    assert cli_main(["train", "--dataset", "xor", "--sizes", "3,4,1", "--epochs", "1"]) == 2
    assert "3 inputs" in capsys.readouterr().err
    assert cli_main(["train", "--sizes", "2,4,1"]) == 2


def test_cli_idx_holdout_json():
    res = subprocess.run(
        [sys.executable, "-m", "symgrad.cli", "train", "--images", str(MNIST / "t10k-images-idx3-ubyte.gz"),
         "--labels", str(MNIST / "t10k-labels-idx1-ubyte.gz"), "--holdout", "8000", "--epochs", "1", "--json",
         "--cost", "cross_entropy", "--init", "glorot", "--lr", "0.5"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["epochs"][0]["holdout_accuracy"] > 0.7


def test_sigterm_keeps_last_complete_checkpoint(tmp_path):
    ck = tmp_path / "ck.npz"
    code = (
        "import sys, signal, os\n"
        "import importlib\n"
        "T = importlib.import_module('symgrad.numeric.train')  # the module: symgrad.numeric.train is the function\n"
        "orig = T.save_checkpoint\n"
        "def save(*a, **k):\n"
        "    orig(*a, **k)\n"
        "    if a[4] == 2: os.kill(os.getpid(), signal.SIGTERM)\n"
        "T.save_checkpoint = save\n"
        "from symgrad.cli import main\n"
        f"sys.exit(main(['train', '--dataset', 'spirals', '--sizes', '2,8,1', '--epochs', '50', '--lr', '1.0', "
        f"'--checkpoint', {str(ck)!r}, '--quiet']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 128 + signal.SIGTERM, res.stderr
    assert "interrupted" in res.stderr
    from symgrad.store.model_file import load_checkpoint

    _, _, extra = load_checkpoint(ck)
    assert extra["epoch"] == 2


def test_progress_bar_quiet_without_a_terminal():
    from symgrad.numeric.train import _progress

    assert _progress(10, 0, True) is None  # pytest captures stderr: not a terminal
    assert _progress(10, 0, False) is None


def test_cli_plot_without_matplotlib_fails_before_training(tmp_path):
    png = tmp_path / "curves.png"
    res = run_without(["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "3", "--quiet", "--plot",
                       str(png)], tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symgrad train: error: --plot needs matplotlib"), res.stderr
    assert "symgrad[plot]" in lines[0] and "Traceback" not in res.stderr
    assert res.stdout == ""  # no epoch was trained (nor printed)
    assert not png.exists()


# ------------------------------------------------------------ the data flags: --dataset mnist, --mnist, --eval


@pytest.fixture
def seen(monkeypatch):
    """What ``symgrad train`` hands to the trainer: the training examples and the evaluation set."""
    import symgrad.cli.commands as commands

    calls = []
    real = commands.train_network

    def spy(net, X, labels, **kw):
        calls.append({"X": X, "labels": labels, "holdout": kw["holdout"]})
        return real(net, X, labels, **kw)

    monkeypatch.setattr(commands, "train_network", spy)
    return calls


def test_cli_dataset_mnist_trains_on_8000_and_holds_out_2000(seen, capsys):
    from symgrad.store.data import dataset

    assert cli_main(["train", "--dataset", "mnist", "--epochs", "1", "--quiet", "--json"]) == 0
    captured = capsys.readouterr()  # --json: the JSON on stdout, the words on stderr
    out, err = captured.out.strip().splitlines(), captured.err.strip().splitlines()
    assert err[0].startswith("data: training on 8,000 examples of the MNIST test set shipped with symgrad")
    assert "evaluating on the last 2,000 held out (examples 8,000..9,999)" in err[0]
    assert len(out) == 1
    X, labels = dataset("mnist")
    (call,) = seen
    np.testing.assert_array_equal(call["X"], X[:8000])
    np.testing.assert_array_equal(call["holdout"][0], X[8000:])
    np.testing.assert_array_equal(call["holdout"][1], labels[8000:])
    doc = json.loads(out[-1])
    assert doc["epochs"][0]["holdout_accuracy"] > 0.8  # 784-30-10, η = 3.0, one epoch: 0.8555 for seed 0


def test_cli_dataset_mnist_holdout_keeps_its_meaning(seen, capsys):
    assert cli_main(["train", "--dataset", "mnist", "--holdout", "500", "--epochs", "1", "--quiet",
                     "--sizes", "784,10"]) == 0
    assert seen[0]["X"].shape == (9500, 784) and seen[0]["holdout"][0].shape == (500, 784)
    assert "holdout accuracy" in capsys.readouterr().out
    assert cli_main(["train", "--dataset", "mnist", "--holdout", "0", "--epochs", "1", "--quiet",
                     "--sizes", "784,10"]) == 0
    assert seen[1]["X"].shape == (10000, 784) and seen[1]["holdout"] is None
    assert "holdout accuracy" not in capsys.readouterr().out


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape) + arr.tobytes()


@pytest.fixture
def full_mnist(tmp_path):
    """A made-up MNIST folder of the full set's layout: 10,050 'training' and 40 'test' images of 2×2 pixels.

    The last 10,000 training images are all 0s with label 0, the first 50 all 255 with label 1 and the test
    images half and half, so each set is told apart by its pixels.
    """
    folder = tmp_path / "mnist"
    folder.mkdir()
    train = np.zeros((10050, 2, 2), np.uint8)
    train[:50] = 255
    train_labels = (train[:, 0, 0] == 255).astype(np.uint8)
    test = np.zeros((40, 2, 2), np.uint8)
    test[:20] = 255
    test_labels = (test[:, 0, 0] == 255).astype(np.uint8)
    for name, arr in (("train-images-idx3-ubyte", train), ("train-labels-idx1-ubyte", train_labels),
                      ("t10k-images.idx3-ubyte", test), ("t10k-labels-idx1-ubyte", test_labels)):
        (folder / (name + ".gz")).write_bytes(gzip.compress(_idx(arr)))
    return folder


def test_cli_mnist_dir_uses_nielsens_split(full_mnist, seen, capsys):
    argv = ["train", "--mnist", str(full_mnist), "--sizes", "4,2", "--epochs", "1", "--quiet"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert f"training on 50 examples of the MNIST training set in {full_mnist}" in out
    assert "evaluating on the last 10,000 held out (examples 50..10,049)" in out
    assert "holdout accuracy" in out
    call = seen[-1]
    assert call["X"].shape == (50, 4) and (call["X"] == 1.0).all()
    assert call["holdout"][0].shape == (10000, 4) and (call["holdout"][0] == 0.0).all()
    # --eval test: the same 50 examples trained, the 40 test images evaluated
    assert cli_main([*argv, "--eval", "test"]) == 0
    out = capsys.readouterr().out
    assert "(the last 10,000 held out, unused), evaluating on the 40 test examples" in out
    assert "test accuracy" in out and "holdout accuracy" not in out
    call = seen[-1]
    assert call["X"].shape == (50, 4) and call["holdout"][0].shape == (40, 4)
    assert call["holdout"][1].tolist() == [1] * 20 + [0] * 20
    # --holdout 0 --eval test: all 10,050 trained, then the test set
    assert cli_main([*argv, "--holdout", "0", "--eval", "test"]) == 0
    assert seen[-1]["X"].shape == (10050, 4) and seen[-1]["holdout"][0].shape == (40, 4)
    # --holdout N keeps its meaning
    assert cli_main([*argv, "--holdout", "50"]) == 0
    assert seen[-1]["X"].shape == (10000, 4) and seen[-1]["holdout"][0].shape == (50, 4)


def test_cli_mnist_without_dir_uses_the_fetch_folder(full_mnist, seen, capsys, monkeypatch):
    monkeypatch.setenv("SYMGRAD_DATA_DIR", str(full_mnist.parent))  # the files are in $SYMGRAD_DATA_DIR/mnist
    assert cli_main(["train", "--mnist", "--sizes", "4,2", "--epochs", "1", "--quiet"]) == 0
    assert seen[-1]["X"].shape == (50, 4)
    assert f"MNIST training set in {full_mnist}" in capsys.readouterr().out


@pytest.mark.parametrize("argv, culprit", [
    (["--dataset", "mnist", "--eval", "test"], "--eval test needs --mnist DIR"),
    (["--dataset", "spirals", "--sizes", "2,2", "--eval", "test"], "--eval test needs --mnist DIR"),
    (["--dataset", "spirals", "--sizes", "2,2", "--eval", "validation"], "--eval validation needs held-out"),
    (["--dataset", "mnist", "--holdout", "0", "--eval", "validation"], "--eval validation needs held-out"),
    (["--dataset", "mnist", "--holdout", "10000"], "--holdout 10000 must be between 0 and 9999"),
    (["--dataset", "mnist", "--holdout", "-1"], "--holdout must be 0 or more"),
    (["--dataset", "mnist", "--eval", "all"], "--eval: invalid choice"),
])
def test_cli_data_flag_errors(argv, culprit, capsys):
    assert cli_main(["train", "--epochs", "1", "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and culprit in err[0], err


def test_cli_mnist_too_small_for_nielsens_split(tmp_path, capsys):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, arr in (("train-images-idx3-ubyte", np.zeros((30, 2, 2), np.uint8)),
                      ("train-labels-idx1-ubyte", np.zeros(30, np.uint8)),
                      ("t10k-images-idx3-ubyte", np.zeros((5, 2, 2), np.uint8)),
                      ("t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))):
        (folder / name).write_bytes(_idx(arr))
    assert cli_main(["train", "--mnist", str(folder), "--sizes", "4,2", "--epochs", "1"]) == 2
    assert "too few to hold out Nielsen's 10,000 for validation; give --holdout N" in capsys.readouterr().err
    assert cli_main(["train", "--mnist", str(folder), "--sizes", "4,2", "--epochs", "1", "--quiet",
                     "--holdout", "10"]) == 0


def test_cli_train_dataset_mnist_offline_in_a_fresh_process(tmp_path):
    """The issue's check: `symgrad train --dataset mnist --epochs 1` works with nothing but the package."""
    res = subprocess.run([sys.executable, "-m", "symgrad", "train", "--dataset", "mnist", "--epochs", "1"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert "epoch 1/1: train cost 0.12887, train accuracy 0.8416, holdout accuracy 0.8555" in res.stdout
