"""Issue 15: a trained model put to use — symgrad.load, predict, evaluate, info; provenance; --json and --log;
CSV and .npy/.npz data with any number of classes."""

from __future__ import annotations

import csv
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from extras_hidden import run_without

import symgrad as sg
from symgrad.cli import main
from symgrad.errors import UsageError
from symgrad.numeric import save, train
from symgrad.store.data import dataset, fingerprint, split
from symgrad.store.tabular import load_csv, load_npy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def blobs_model(tmp_path_factory):
    """A float32 2-8-3 softmax model trained on blobs (held-out 60), saved with its history."""
    X, labels = dataset("blobs", seed=0)
    (Xt, yt), hold = split(X, labels, 60)
    net = sg.mlp([2, 8, 3], cost="log_likelihood", level="layer", seed=0)
    history = train(net, Xt, yt, epochs=4, lr=0.5, holdout=hold, progress=False, dtype="float32")
    path = save(tmp_path_factory.mktemp("m") / "blobs.npz", net, history, data={"source": "test"})
    return path, history, (Xt, yt), hold


# ------------------------------------------------------------------ the API
def test_load_gives_the_run_back_float32_with_its_provenance(blobs_model):
    path, history, (Xt, yt), hold = blobs_model
    model = sg.load(path)
    assert model.dtype == "float32" and all(v.dtype == np.float32 for v in model.params.values())
    prov = model.provenance
    assert prov["symgrad"] == sg.__version__
    t = prov["training"]
    assert (t["lr"], t["epochs"], t["epochs_run"], t["optimizer"], t["dtype"], t["seed"]) == \
        (0.5, 4, 4, "sgd", "float32", 0)
    assert prov["data"]["train"] == {"examples": 240, "sha256": fingerprint(Xt.astype(np.float32), yt)}
    assert prov["data"]["holdout"]["sha256"] == fingerprint(hold[0].astype(np.float32), hold[1])
    assert prov["data"]["source"] == "test"
    assert [r["epoch"] for r in prov["history"]["epochs"]] == [1, 2, 3, 4]
    assert prov["history"]["epochs"][-1]["holdout_cost"] == pytest.approx(history[-1]["holdout_cost"])


def test_evaluate_measures_what_training_measured(blobs_model):
    path, history, _, (Xh, yh) = blobs_model
    e = sg.load(path).evaluate(Xh, yh)
    assert e.n == 60
    assert e.accuracy == history[-1]["holdout_accuracy"]
    assert e.cost == pytest.approx(history[-1]["holdout_cost"], rel=1e-5)
    # rows are the true classes: each row sums to that class's count; the diagonal is what is right
    assert e.confusion.sum(axis=1).tolist() == np.bincount(yh, minlength=3).tolist()
    assert np.trace(e.confusion) == round(e.accuracy * 60)


def test_predict_rows_in_rows_out(blobs_model):
    path, _, _, (Xh, yh) = blobs_model
    model = sg.load(path)
    p = model.predict(Xh)
    assert p.classes.shape == (60,) and p.probabilities.shape == (60, 3) and p.outputs.shape == (60, 3)
    assert np.allclose(p.probabilities.sum(axis=1), 1, atol=1e-5)  # softmax: a^L itself
    assert (p.classes == np.argmax(p.probabilities, axis=1)).all()
    # the confusion matrix is made of these predictions: column sums are the predicted counts
    assert model.evaluate(Xh, yh).confusion.sum(axis=0).tolist() == np.bincount(p.classes, minlength=3).tolist()
    assert model.predict(Xh[0]).classes.tolist() == p.classes[:1].tolist()  # one example as a vector


def test_a_sigmoid_model_with_one_output_neuron_has_two_classes(tmp_path):
    X, y = dataset("xor")
    net = sg.mlp([2, 4, 1], level="layer", seed=0)
    history = train(net, X, y, epochs=200, batch_size=1, lr=3.0, progress=False)
    model = sg.load(save(tmp_path / "xor.npz", net, history))
    p = model.predict(X)
    assert model.classes == 2 and p.probabilities.shape == (4, 2)
    assert np.allclose(p.probabilities[:, 1], p.outputs[:, 0])
    assert model.evaluate(X, y).confusion.shape == (2, 2)


@pytest.mark.parametrize("X, labels, culprit", [
    (np.zeros((3, 5)), [0, 1, 2], "rows of 2 numbers, shape (n, 2); got shape (3, 5)"),
    (np.zeros((3, 2)), [0, 1, 3], "label 3 of example 2 is not a class of this model (0..2"),
    (np.zeros((3, 2)), [0, 1], "2 labels for 3 examples"),
    (np.array([[0.0, np.nan]]), [0], "NaN"),
])
def test_bad_examples_are_named(blobs_model, X, labels, culprit):
    with pytest.raises(UsageError, match=re.escape(culprit)):
        sg.load(blobs_model[0]).evaluate(X, labels)


def test_a_file_saved_without_a_history_loads_with_empty_provenance(tmp_path):
    from symgrad.store.model_file import save_model

    net = sg.mlp([2, 3, 2], level="layer", seed=1)
    model = sg.load(save_model(tmp_path / "plain.npz", net.spec(), net.params()))
    assert model.provenance == {} and model.predict(np.zeros((2, 2))).classes.shape == (2,)
    assert main(["info", str(tmp_path / "plain.npz")]) == 0


# --------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory):
    """``symgrad train --dataset mnist --epochs 1 --save m.npz --json``: its stdout, and the model file."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "m.npz"
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["train", "--dataset", "mnist", "--epochs", "2", "--quiet", "--dtype", "float32",
                       "--save", str(path), "--json", "--log", str(folder / "log.jsonl")])
    assert status == 0, err.getvalue()
    return path, out.getvalue(), err.getvalue(), folder


def test_train_json_is_all_of_stdout_and_the_words_go_to_stderr(mnist_model):
    path, out, err, folder = mnist_model
    doc = json.loads(out)  # the whole of stdout, not its last line
    assert [r["epoch"] for r in doc["epochs"]] == [1, 2] and doc["saved"] == str(path)
    assert doc["config"]["dtype"] == "float32" and doc["data"]["train"]["examples"] == 8000
    assert "epoch 2/2:" in err and "saved" in err and "data:" in err
    lines = (folder / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert json.loads(lines[-1]) == doc["epochs"][-1]


def test_log_lines_are_written_as_each_epoch_ends(tmp_path, monkeypatch):
    """The log holds epoch e's line while epoch e + 1 is still to come (it is flushed, not buffered)."""
    training = importlib.import_module("symgrad.numeric.train")  # the module (symgrad.numeric.train is the function)
    seen = []
    log = tmp_path / "log.jsonl"
    original = training._epoch

    def spy(trainer, data, epoch, *rest):
        seen.append(len(log.read_text().splitlines()) if log.exists() else 0)
        return original(trainer, data, epoch, *rest)

    monkeypatch.setattr(training, "_epoch", spy)
    assert main(["train", "--dataset", "xor", "--sizes", "2,3,1", "--epochs", "3", "--quiet",
                 "--log", str(log)]) == 0
    assert seen == [0, 1, 2]


def test_evaluate_prints_accuracy_cost_and_the_matrix(mnist_model, capsys):
    path, out, _, _ = mnist_model
    assert main(["evaluate", "--model", str(path), "--dataset", "mnist"]) == 0
    text = capsys.readouterr().out
    last = json.loads(out)["epochs"][-1]
    assert f"accuracy {last['holdout_accuracy']:.4f}" in text
    assert "confusion matrix (rows: true class, columns: predicted class)" in text
    rows = [line for line in text.splitlines() if line.startswith("true ")]
    assert len(rows) == 10 and sum(int(v) for r in rows for v in r.split()[2:]) == 2000


def test_evaluate_json(mnist_model, capsys):
    path, out, _, _ = mnist_model
    assert main(["evaluate", "--model", str(path), "--dataset", "mnist", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["accuracy"] == json.loads(out)["epochs"][-1]["holdout_accuracy"] and doc["n"] == 2000
    assert np.array(doc["confusion"]).sum() == 2000 and captured.err == ""


def test_predict_writes_csv_and_json_lines(mnist_model, tmp_path, capsys):
    path = mnist_model[0]
    assert main(["predict", "--model", str(path), "--dataset", "mnist", "--out", str(tmp_path / "p.csv")]) == 0
    assert "wrote 2,000 predictions" in capsys.readouterr().out
    rows = list(csv.reader((tmp_path / "p.csv").open()))
    assert rows[0] == ["index", "class", *(f"p{j}" for j in range(10))] and len(rows) == 2001
    assert main(["predict", "--model", str(path), "--dataset", "mnist", "--out", str(tmp_path / "p.jsonl"),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["examples"] == 2000 and sum(summary["counts"]) == 2000
    first = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(first) == 2000 and [r["class"] for r in first] == [int(r[1]) for r in rows[1:]]
    assert main(["predict", "--model", str(path), "--dataset", "mnist", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["predictions"]) == 2000 and doc["predictions"][0]["class"] == first[0]["class"]


def test_info_text_and_json(mnist_model, capsys):
    path = mnist_model[0]
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "784-30-10 sigmoid network" in text and "float32" in text
    assert "training: 2 of 2 epochs, sgd, η = 3.0, batch size 10" in text
    assert re.search(r"data: trained on 8,000 examples, sha256 [0-9a-f]{64}", text)
    assert "data: from --dataset mnist" in text and "  epoch 2: train cost" in text
    assert main(["info", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dtype"] == "float32" and doc["provenance"]["training"]["epochs"] == 2
    assert doc["spec"]["sizes"] == [784, 30, 10]


@pytest.mark.parametrize("argv, culprit", [
    (["evaluate", "--model", "nothing.npz", "--dataset", "mnist"], "--model nothing.npz: no such file"),
    (["predict", "--model", "MODEL", "--dataset", "mnist", "--out", "p.txt"], "--out p.txt: write predictions to a"),
    (["evaluate", "--model", "MODEL", "--dataset", "xor"], "the network takes 784 inputs"),
    (["evaluate", "--model", "MODEL", "--images", "x.idx"], "--images needs --labels"),
    (["evaluate", "--model", "MODEL", "--dataset", "mnist", "--plot", "c.svg"], "must end in .png"),
    (["info", "missing.npz"], "missing.npz: no such file"),
])
def test_bad_use_is_one_line(mnist_model, argv, culprit, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(mnist_model[0]) if a == "MODEL" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and culprit in err, err


def test_evaluate_plot_without_matplotlib_names_the_extra(tmp_path):
    res = run_without(["evaluate", "--model", "m.npz", "--dataset", "mnist", "--plot", "c.png"], tmp_path)
    assert res.returncode == 2 and "install symgrad[plot]" in res.stderr and res.stdout == ""


# ------------------------------------------------------------------- data files
def _letters(n: int = 260, classes: int = 26, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = rng.normal(size=(classes, d)) * 4
    return centres[labels] + rng.normal(size=(n, d)) * 0.1, labels


def _write_csv(path: Path, X: np.ndarray, y: np.ndarray, header: bool = True, label_at: int = 0) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        cols = [f"f{j}" for j in range(X.shape[1])]
        cols.insert(label_at, "label")
        if header:
            w.writerow(cols)
        for row, label in zip(X, y):
            values = [repr(float(v)) for v in row]
            values.insert(label_at, str(int(label)))
            w.writerow(values)
    return path


def test_26_classes_from_csv_train_evaluate_predict(tmp_path, capsys):
    """The output size decides the classes: --sizes 4,16,26 with labels 0..25 (EMNIST letters' count)."""
    X, y = _letters()
    data = _write_csv(tmp_path / "letters.csv", X, y, label_at=2)  # the label column named, not first
    model = tmp_path / "letters.npz"
    assert main(["train", "--csv", str(data), "--sizes", "4,16,26", "--cost", "log-likelihood", "--epochs", "40",
                 "--lr", "0.5", "--quiet", "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--csv", str(data), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n"] == 260 and len(doc["confusion"]) == 26 and doc["accuracy"] > 0.9
    assert main(["predict", "--model", str(model), "--csv", str(data)]) == 0  # the label column dropped
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(",")[-1] == "p25" and len(out) == 261


def test_a_label_beyond_the_output_layer_names_the_file_and_line(tmp_path, capsys):
    X, y = _letters()
    y[6] = 26
    data = _write_csv(tmp_path / "bad.csv", X, y)
    assert main(["train", "--csv", str(data), "--sizes", "4,16,26", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"{data}: label 26 on line 8 is not a class of the network: its output layer has 26 neurons" in err


def test_csv_without_header_label_first_and_predict_drops_it(tmp_path):
    X, y = _letters(n=52)
    path = _write_csv(tmp_path / "plain.csv", X, y, header=False)
    Xr, yr = load_csv(path)
    assert np.allclose(Xr, X) and (yr == y).all()
    Xp, none = load_csv(path, labels=False, n_inputs=4)
    assert none is None and Xp.shape == (52, 4)
    Xq, _ = load_csv(path, labels=False, n_inputs=5)  # as many columns as inputs: all of them are features
    assert Xq.shape == (52, 5)


@pytest.mark.parametrize("text, culprit", [
    ("label,a\n1,2\nx,3\n", "not a table of numbers"),
    ("label,a,b\n1,2\n", "the header names 3 columns but the rows have 2"),
    ("label,a\n1.5,2\n", "label 1.5 on line 2 is not a class number"),
    ("", "empty CSV file"),
])
def test_bad_csv_files_are_named(tmp_path, text, culprit):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UsageError, match=re.escape(culprit)):
        load_csv(path)


def test_npy_and_npz(tmp_path, capsys):
    X, y = _letters(n=60, classes=3)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "both.npz", X=X, y=y)
    a = load_npy(tmp_path / "X.npy", tmp_path / "y.npy")
    b = load_npy(tmp_path / "both.npz")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    model = tmp_path / "m.npz"
    assert main(["train", "--npy", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.npy"), "--sizes", "4,8,3",
                 "--epochs", "5", "--quiet", "--save", str(model)]) == 0
    assert main(["evaluate", "--model", str(model), "--npy", str(tmp_path / "both.npz")]) == 0
    assert main(["predict", "--model", str(model), "--npy", str(tmp_path / "X.npy"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out.splitlines()[-1])["predictions"]) == 60


def test_npy_refuses_objects_and_names_missing_arrays(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UsageError, match="refusing to unpickle"):
        load_npy(tmp_path / "obj.npy", labels=False)
    np.savez(tmp_path / "odd.npz", data=np.zeros((2, 2)))
    with pytest.raises(UsageError, match="expected one named X or x or images"):
        load_npy(tmp_path / "odd.npz")
    np.save(tmp_path / "X.npy", np.zeros((2, 2)))
    with pytest.raises(UsageError, match="give --labels FILE.npy"):
        load_npy(tmp_path / "X.npy")


def test_idx_labels_beyond_9_train_when_the_output_layer_has_room(tmp_path):
    import gzip
    import struct

    rng = np.random.default_rng(0)
    n = 52
    labels = (np.arange(n) % 26).astype(np.uint8)
    images = rng.integers(0, 256, size=(n, 2, 2), dtype=np.uint8)
    (tmp_path / "i.gz").write_bytes(gzip.compress(struct.pack(">HBBIII", 0, 8, 3, n, 2, 2) + images.tobytes()))
    (tmp_path / "l.gz").write_bytes(gzip.compress(struct.pack(">HBBI", 0, 8, 1, n) + labels.tobytes()))
    common = ["train", "--images", str(tmp_path / "i.gz"), "--labels", str(tmp_path / "l.gz"), "--epochs", "1",
              "--quiet"]
    assert main([*common, "--sizes", "4,8,26"]) == 0
    assert main([*common, "--sizes", "4,8,10"]) == 2


def test_the_workflow_page_python_runs(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "workflow.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/workflow.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert namespace["e"].n == 2000 and (tmp_path / "digits.npz").exists()


def test_predict_idx_images_without_labels(mnist_model, tmp_path, capsys):
    """An IDX images file alone is enough to predict; its pixels are scaled to [0, 1] as training's were."""
    import gzip

    from symgrad.store.data import PACKAGED_MNIST, read_idx
    from symgrad.store.data import dataset as builtin

    images = read_idx(ROOT / "symgrad" / "store" / "datasets" / "mnist" / PACKAGED_MNIST[0])[8000:8010]
    header = bytes([0, 0, 8, 3]) + b"".join(int(n).to_bytes(4, "big") for n in images.shape)
    (tmp_path / "ten.gz").write_bytes(gzip.compress(header + images.tobytes()))
    assert main(["predict", "--model", str(mnist_model[0]), "--images", str(tmp_path / "ten.gz"), "--json"]) == 0
    got = [r["class"] for r in json.loads(capsys.readouterr().out)["predictions"]]
    X, _ = builtin("mnist")
    assert got == sg.load(mnist_model[0]).predict(X[8000:8010]).classes.tolist()


def test_json_pipes_through_json_tool(tmp_path):
    """`symgrad train --json | python -m json.tool`: nothing but the document on stdout, in a real pipe."""
    import subprocess
    import sys

    train_ = subprocess.Popen([sys.executable, "-m", "symgrad", "train", "--dataset", "xor", "--sizes", "2,3,1",
                               "--epochs", "2", "--json", "--save", "m.npz"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tool = subprocess.run([sys.executable, "-m", "json.tool"], stdin=train_.stdout, capture_output=True, text=True,
                          timeout=120)
    train_.stdout.close()
    err = train_.stderr.read().decode()
    assert train_.wait(timeout=120) == 0 and tool.returncode == 0, (err, tool.stderr)
    assert json.loads(tool.stdout)["saved"] == "m.npz" and "epoch 2/2" in err
