"""Hostile inputs to training (issue 6, item 2): each is a UsageError from the Python API and, from
``symgrad train``, one line on stderr naming the culprit with exit status 2 — and nothing half-written."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from symgrad import mlp
from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.numeric.train import TrainingError, train
from symgrad.store.data import dataset
from symgrad.store.model_file import load_model, save_model


def _xor_net(sizes=(2, 4, 2)):
    return mlp(list(sizes), "tanh", "log_likelihood", level="layer", seed=0)


def _data(n=40):
    return dataset("spirals", n=n, seed=0)


def _strict_json(text: str):
    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=no_constant)


# ------------------------------------------------------------------ the Python API
@pytest.mark.parametrize("where, value, pattern", [
    ((3, 1), np.nan, r"^X: NaN at index \(3, 1\)"),
    ((7, 0), np.inf, r"^X: \+Inf at index \(7, 0\)"),
    ((0, 0), -np.inf, r"^X: -Inf at index \(0, 0\)"),
])
def test_nonfinite_inputs_are_named_with_their_index(where, value, pattern):
    X, labels = _data()
    X = X.copy()
    X[where] = value
    with pytest.raises(UsageError, match=pattern):
        train(_xor_net(), X, labels, epochs=1, progress=False)


def test_nonfinite_labels_targets_and_holdout():
    X, labels = _data()
    bad = labels.astype(float)
    bad[5] = np.nan
    with pytest.raises(UsageError, match=r"^labels: NaN at index 5"):
        train(_xor_net(), X, bad, epochs=1, progress=False)
    Y = np.eye(2)[labels]
    Y[4, 1] = np.inf
    with pytest.raises(UsageError, match=r"^labels: \+Inf at index \(4, 1\)"):
        train(_xor_net(), X, Y, epochs=1, progress=False)
    frac = labels.astype(float)
    frac[2] = 0.5
    with pytest.raises(UsageError, match=r"label 0.5 at index 2 is not a whole number"):
        train(_xor_net(), X, frac, epochs=1, progress=False)
    Xh = X[:10].copy()
    Xh[2, 0] = np.nan
    with pytest.raises(UsageError, match=r"^holdout X: NaN at index \(2, 0\)"):
        train(_xor_net(), X, labels, epochs=1, progress=False, holdout=(Xh, labels[:10]))
    lh = labels[:10].astype(float)
    lh[9] = -np.inf
    with pytest.raises(UsageError, match=r"^holdout labels: -Inf at index 9"):
        train(_xor_net(), X, labels, epochs=1, progress=False, holdout=(X[:10], lh))


def test_float32_overflow_of_the_data_is_named():
    X, labels = _data()
    X = X.copy()
    X[1, 1] = 1e300
    with pytest.raises(UsageError, match=r"X \(as float32: too large\): \+Inf at index \(1, 1\)"):
        train(_xor_net(), X, labels, epochs=1, progress=False, dtype="float32")


def test_nonfinite_initial_parameters_are_named():
    X, labels = _data()
    net = _xor_net()
    p = net.params()
    p["b3"][1, 0] = np.nan
    net.set_params(p)
    with pytest.raises(UsageError, match=r"initial parameter b3: NaN at index \(1, 0\)"):
        train(net, X, labels, epochs=1, progress=False)


@pytest.mark.parametrize("lr", [math.nan, math.inf, -math.inf, -0.5, 0, 0.0, True, "3.0", None])
def test_bad_learning_rates(lr):
    X, labels = _data()
    with pytest.raises(UsageError, match=r"^lr \(η\) must be a positive finite number"):
        train(_xor_net(), X, labels, epochs=1, lr=lr, progress=False)


def test_numpy_learning_rate_is_fine():
    X, labels = _data()
    h = train(_xor_net(), X, labels, epochs=1, lr=np.float32(0.1), progress=False)
    assert len(h) == 1


@pytest.mark.parametrize("kwargs, pattern", [
    ({"momentum": math.nan}, "momentum"),
    ({"momentum": 1.0}, "momentum"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"weight_decay": math.inf}, "weight_decay"),
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"on_nonfinite": "maybe"}, "on_nonfinite"),
    ({"holdout": (np.zeros((3, 2)),)}, "holdout"),
])
def test_bad_settings(kwargs, pattern):
    X, labels = _data()
    with pytest.raises(UsageError, match=pattern):
        train(_xor_net(), X, labels, **{"epochs": 1, "progress": False, **kwargs})


def test_sizes_that_do_not_match_the_data():
    X, labels = _data()
    with pytest.raises(UsageError, match=r"X: examples have 3 features \(shape \(40, 3\)\).*first of sizes\) has 2"):
        train(_xor_net(), np.hstack([X, X[:, :1]]), labels, epochs=1, progress=False)
    with pytest.raises(UsageError, match=r"labels span 0\.\.3 but the output layer \(last of sizes\) has 2 neurons"):
        train(_xor_net(), X, labels + 2 * (labels == 1), epochs=1, progress=False)
    with pytest.raises(UsageError, match=r"one output neuron .* needs labels 0 or 1, found 0\.\.2"):
        train(mlp([2, 3, 1], level="layer", seed=0), X, labels * 2, epochs=1, progress=False)


# ------------------------------------------------------------------ divergence
def _diverging():
    X, labels = dataset("xor")
    return mlp([2, 2], "identity", "quadratic", level="layer", seed=0), X, labels


def test_divergence_raises_naming_epoch_step_and_parameter():
    net, X, labels = _diverging()
    with pytest.raises(TrainingError, match=r"^epoch (\d+), (after )?step \d+.*parameter (W|b)2"):
        train(net, X, labels, epochs=100, lr=1e6, progress=False)
    # NaN in the gradients (inf - inf) is named by the replayed step and the gradient's parameter
    X2, l2 = _data(60)
    net2 = mlp([2, 4, 2], "identity", "quadratic", level="layer", seed=0)
    with pytest.raises(TrainingError, match=r"^epoch 1, step \d+: .*(W|b)\d"):
        train(net2, X2 * 1e150, l2, epochs=2, batch_size=10, lr=1e10, progress=False)


def test_divergence_stop_keeps_the_last_finite_parameters():
    net, X, labels = _diverging()
    h = train(net, X, labels, epochs=100, lr=1e6, progress=False, on_nonfinite="stop")
    assert h.stopped and "epoch" in h.stopped and "parameter" in h.stopped
    assert 1 <= len(h) < 100 and all(math.isfinite(r["train_cost"]) for r in h)
    assert all(np.isfinite(p).all() for p in net.params().values())
    again, _, _ = _diverging()
    train(again, X, labels, epochs=len(h), lr=1e6, progress=False)  # the same epochs, uninterrupted
    for name, p in again.params().items():
        assert np.array_equal(p, net.params()[name]), name
    assert _strict_json(h.to_json())["stopped"] == h.stopped


def test_divergence_ignore_carries_on_and_writes_no_nonfinite_checkpoint(tmp_path):
    net, X, labels = _diverging()
    ck = tmp_path / "ck.npz"
    h = train(net, X, labels, epochs=40, lr=1e6, progress=False, on_nonfinite="ignore", checkpoint=ck)
    assert len(h) == 40 and not h.stopped
    assert not math.isfinite(h[-1]["train_cost"])
    doc = _strict_json(h.to_json())  # NaN/Inf become null: still valid JSON
    assert doc["epochs"][-1]["train_cost"] is None
    _, params, extra = load_model(ck, with_extra=True)  # the checkpoint holds finite parameters
    assert all(np.isfinite(p).all() for p in params.values())


# ------------------------------------------------------------------ resume mismatches (API)
def test_resume_mismatches(tmp_path):
    X, labels = _data()
    ck, model = tmp_path / "ck.npz", tmp_path / "model.npz"
    net = _xor_net()
    train(net, X, labels, epochs=2, lr=0.1, progress=False, checkpoint=ck)
    save_model(model, net.spec(), net.params())
    cases = [
        (dict(net=_xor_net((2, 5, 2))), r"`sizes` \[2, 4, 2\], this run has \[2, 5, 2\]$"),
        (dict(net=mlp([2, 4, 2], "relu", "log_likelihood", level="layer", seed=0)), r"`activation` 'tanh', this run has 'relu'$"),
        (dict(lr=0.2), r"`lr` 0\.1, this run has 0\.2 \(give `lr=0\.1`, or `override` lr to train on with this run's\)$"),
        (dict(batch_size=5), r"`batch_size` 10, this run has 5$"),
        (dict(seed=1), r"`seed` 0, this run has 1$"),
        (dict(optimizer="adam"), r"`optimizer` 'sgd', this run has 'adam'$"),
        (dict(resume=model), r"not a training checkpoint"),
        (dict(resume=tmp_path / "missing.npz"), r"^resume .*missing\.npz: no such file"),
    ]
    for change, pattern in cases:
        kw = {"net": _xor_net(), "lr": 0.1, "resume": ck, **change}
        with pytest.raises(UsageError, match=pattern):
            train(kw.pop("net"), X, labels, epochs=4, progress=False, **kw)


# ------------------------------------------------------------------ the command line
def _cli_error(argv, capsys) -> str:
    capsys.readouterr()
    status = cli_main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (argv, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symgrad train: error: ")
    assert "epoch 1/" not in out  # failed before any training
    return lines[0]


TRAIN = ["train", "--quiet", "--epochs", "2"]


@pytest.mark.parametrize("argv, culprit", [
    (["--dataset", "xor", "--sizes", "2,2", "--lr", "nan"], "--lr"),
    (["--dataset", "xor", "--sizes", "2,2", "--lr", "inf"], "--lr"),
    (["--dataset", "xor", "--sizes", "2,2", "--lr", "-1"], "--lr"),
    (["--dataset", "xor", "--sizes", "2,2", "--lr", "0"], "--lr"),
    (["--dataset", "xor", "--sizes", "2,2", "--batch-size", "0"], "--batch-size"),
    (["--dataset", "xor", "--sizes", "2,2", "--epochs", "0"], "--epochs"),
    (["--dataset", "xor", "--sizes", "2,2", "--epochs", "-3"], "--epochs"),
    (["--dataset", "xor", "--sizes", "2,2", "--momentum", "nan", "--optimizer", "momentum"], "--momentum"),
    (["--dataset", "xor", "--sizes", "2,2", "--weight-decay", "-1"], "--weight-decay"),
    (["--dataset", "xor", "--sizes", "2,2", "--weight-decay", "nan"], "--weight-decay"),
    (["--dataset", "xor", "--sizes", "2,2", "--holdout", "4"], "--holdout 4"),
    (["--dataset", "spirals", "--sizes", "2,2", "--holdout", "200"], "--holdout 200"),
    (["--dataset", "xor", "--sizes", "2,2", "--holdout", "-1"], "--holdout must be 0 or more"),
    (["--dataset", "xor", "--sizes", "3,4,1"], "--sizes 3,4,1 starts with 3 inputs"),
    (["--dataset", "blobs", "--sizes", "2,4,2"], "--sizes 2,4,2 ends with 2 output neurons"),
    (["--dataset", "xor", "--sizes", "2,1", "--cost", "log_likelihood"], "--cost log_likelihood"),
])
def test_cli_bad_training_flags(argv, culprit, capsys):
    line = _cli_error([*TRAIN, *argv], capsys)
    assert culprit in line
    if "--sizes" in culprit:
        assert "data shape (" in line


def test_cli_divergence(capsys):
    argv = [*TRAIN, "--dataset", "xor", "--sizes", "2,2", "--activation", "identity", "--lr", "1e6", "--epochs", "100"]
    capsys.readouterr()
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("symgrad train: error: epoch ")
    assert "step" in err[0] and "parameter" in err[0] and "--lr" in err[0]
    assert cli_main([*argv, "--on-nonfinite", "stop", "--json"]) == 0
    out, err = capsys.readouterr()  # with --json the words go to stderr, and stdout is the JSON alone
    assert err.strip().splitlines()[-1].startswith("symgrad train: stopped: epoch ")
    assert _strict_json(out)["stopped"]


@pytest.mark.parametrize("flag", ["--save", "--checkpoint", "--plot"])
def test_cli_unwritable_outputs_fail_before_training(flag, tmp_path, capsys):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    name = "out.png" if flag == "--plot" else "out.npz"
    base = [*TRAIN, "--dataset", "xor", "--sizes", "2,2"]
    targets = [(str(tmp_path / "no-such-dir" / name), "does not exist"), (str(blocker / name), "is a file")]
    if flag != "--plot":
        targets.append((str(folder), "is a directory"))
    for target, why in targets:
        line = _cli_error([*base, flag, target], capsys)
        assert line.startswith(f"symgrad train: error: {flag} {target}: ") and why in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]  # nothing written
    assert list(folder.iterdir()) == []


def test_cli_read_only_folder_fails_before_training(tmp_path, capsys, monkeypatch):
    # Tests run as root, where chmod does not stop writes: the refusal is simulated where
    # the probe creates its file, which is what a read-only folder would make fail.
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def refuse(path, flags, *a, **kw):
        if str(path).startswith(str(ro)) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", refuse)
    line = _cli_error([*TRAIN, "--dataset", "xor", "--sizes", "2,2", "--save", str(ro / "m.npz")], capsys)
    assert "--save" in line and "cannot write" in line and "Permission denied" in line
    assert list(ro.iterdir()) == []


def _checkpoint(tmp_path, capsys) -> str:
    ck = tmp_path / "ck.npz"
    assert cli_main([*TRAIN, "--dataset", "xor", "--sizes", "2,4,1", "--lr", "3.0", "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    return str(ck)


def test_cli_resume_mismatch(tmp_path, capsys):
    ck = _checkpoint(tmp_path, capsys)
    base = [*TRAIN, "--dataset", "xor", "--lr", "3.0", "--resume", ck]
    for extra, culprit in [
        (["--sizes", "2,5,1"], "--sizes"),
        (["--sizes", "2,4,1", "--activation", "tanh"], "--activation"),
        (["--sizes", "2,4,1", "--batch-size", "2"], "--batch-size"),
        (["--sizes", "2,4,1", "--seed", "7"], "--seed"),
        (["--sizes", "2,4,1", "--weight-decay", "0.1"], "--weight-decay"),
        (["--sizes", "2,4,1", "--optimizer", "adam"], "--optimizer"),
        (["--sizes", "2,4,1", "--dtype", "float32"], "--dtype"),
    ]:
        line = _cli_error([*base, *extra], capsys)
        assert line.startswith(f"symgrad train: error: --resume {ck}: ") and culprit in line, line
    model = tmp_path / "model.npz"
    assert cli_main([*TRAIN, "--dataset", "xor", "--sizes", "2,4,1", "--save", str(model)]) == 0
    line = _cli_error([*TRAIN, "--dataset", "xor", "--sizes", "2,4,1", "--resume", str(model)], capsys)
    assert "not a training checkpoint" in line
    line = _cli_error([*TRAIN, "--dataset", "xor", "--sizes", "2,4,1", "--resume", str(tmp_path)], capsys)
    assert "--resume" in line and "not a file" in line


def test_cli_resume_of_a_tampered_checkpoint_with_nan(tmp_path, capsys):
    ck = _checkpoint(tmp_path, capsys)
    with np.load(ck, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["params/W3"] = arrays["params/W3"].copy()
    arrays["params/W3"][0, 2] = np.nan
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **arrays)
    line = _cli_error([*TRAIN, "--dataset", "xor", "--sizes", "2,4,1", "--resume", str(tampered)], capsys)
    assert "'W3'" in line and "(0, 2)" in line and "non-finite" in line
