"""Training control: BLAS threads, learning-rate schedules, early stopping, keep-best, --init-from,
--resume with an explicit override, and a progress bar that does not garble the per-epoch lines."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from extras_hidden import needs, run_without

from symgrad import mlp
from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.numeric.program import compile_training
from symgrad.numeric.schedule import Schedule
from symgrad.numeric.threads import blas_threads, choose_threads
from symgrad.numeric.train import train
from symgrad.store.data import dataset
from symgrad.store.model_file import load_model, save_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blobs():
    X, y = dataset("blobs")
    return X[:240], y[:240], (X[240:], y[240:])


def _net(sizes=(2, 6, 3), seed=0):
    return mlp(list(sizes), level="layer", seed=seed)


def _run(**kw):
    X, y, hold = _blobs()
    net = _net()
    kw.setdefault("holdout", hold)
    h = train(net, X, y, progress=False, **{"epochs": 4, "batch_size": 10, "lr": 1.0, **kw})
    return net, h


# ------------------------------------------------------------------ schedules
def test_schedule_in_words_and_in_the_curves_title():
    from symgrad.printing.plotting import run_title

    assert Schedule("step", step_size=5, gamma=0.5).describe() == "step (k = 5, γ = 0.5)"
    assert Schedule("cosine").describe() == "cosine"
    title = run_title("blobs", (2, 6, 3), "sigmoid", "quadratic", "sgd", 1.0, 10, schedule="cosine")
    assert title.endswith("— sgd, η₀ = 1, cosine, batch 10")
    assert run_title("blobs", (2, 6, 3), "sigmoid", "quadratic", "sgd", 1.0, 10, schedule="constant").endswith(
        "— sgd, η = 1, batch 10")


def test_schedule_formulas():
    eta0, E = 2.0, 10
    assert [Schedule().lr(eta0, e, E) for e in (1, 5, 10)] == [2.0, 2.0, 2.0]
    step = Schedule("step", step_size=3, gamma=0.5)
    assert [step.lr(eta0, e, E) for e in range(1, 8)] == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5]
    assert Schedule("step").lr(eta0, 11, 20) == pytest.approx(0.2)  # k = 10, γ = 0.1 by default
    exp = Schedule("exponential", gamma=0.9)
    assert [exp.lr(eta0, e, E) for e in (1, 2, 3)] == pytest.approx([2.0, 1.8, 1.62])
    cos = Schedule("cosine", min_lr=0.5)
    vals = [cos.lr(eta0, e, E) for e in range(1, E + 1)]
    assert vals[0] == 2.0 and all(a > b for a, b in zip(vals, vals[1:]))
    assert vals[5] == pytest.approx(0.5 + 1.5 * (1 + math.cos(math.pi * 5 / 10)) / 2)
    assert Schedule("cosine", period=4).lr(eta0, 5, E) == 0.0  # past T it stays at η_min


@pytest.mark.parametrize("kw, pattern", [
    (dict(kind="linear"), r"unknown schedule 'linear'; choose one of constant, step, exponential, cosine"),
    (dict(kind="cosine", step_size=3), r"step_size is a setting of the step schedule, not of `schedule='cosine'`"),
    (dict(kind="constant", gamma=0.5), r"gamma is a setting of the step and exponential schedules"),
    (dict(kind="step", gamma=1.5), r"gamma \(γ\) must be in \(0, 1\]"),
    (dict(kind="step", step_size=0), r"step_size must be a whole number ≥ 1"),
    (dict(kind="cosine", min_lr=-1.0), r"min_lr \(η_min\) must be ≥ 0"),
])
def test_schedule_refuses_bad_settings(kw, pattern):
    with pytest.raises(UsageError, match=pattern):
        Schedule(**kw)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("jax", marks=needs("jax"))])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_program_takes_eta_at_run_time(backend, optimizer):
    """One program, called with eta=0.25, does what a program printed with lr=0.25 does (no recompiling)."""
    X, y, _ = _blobs()
    Y = np.eye(3)[y]
    perm = np.random.default_rng(1).permutation(X.shape[0])
    out = []
    for lr, eta in ((1.0, 0.25), (0.25, None)):
        net = _net()
        prog = compile_training(net, optimizer, lr=lr, backend=backend)
        params = prog.to_backend([net.params()[p] for p in prog.params])
        state = prog.init_state(params)
        rows = prog.to_backend([X, Y]) if backend == "jax" else [X, Y]
        kw = {} if eta is None else {"eta": eta}
        if backend == "numpy":
            prog.epoch(params, state, rows, perm, 10, **kw)
        else:
            params, state, _ = prog.epoch(params, state, rows, perm, 10, **kw)
        out.append(prog.to_host(params))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_schedule_in_train_is_recorded_and_equals_resume_with_lr_override(tmp_path):
    net, h = _run(epochs=2, schedule=Schedule("step", step_size=1, gamma=0.5))
    assert [r["lr"] for r in h] == [1.0, 0.5] and h.schedule == {"kind": "step", "step_size": 1, "gamma": 0.5}
    ck = tmp_path / "ck.npz"
    X, y, hold = _blobs()
    first = _net()
    train(first, X, y, epochs=1, lr=1.0, holdout=hold, progress=False, checkpoint=ck)
    with pytest.raises(UsageError, match=r"`lr` 1\.0, this run has 0\.5 \(give `lr=1\.0`, or `override` lr"):
        train(_net(), X, y, epochs=2, lr=0.5, holdout=hold, progress=False, resume=ck)
    second = _net()
    h2 = train(second, X, y, epochs=2, lr=0.5, holdout=hold, progress=False, resume=ck, override=("lr",))
    assert [r["lr"] for r in h2] == [1.0, 0.5]
    assert any("override" in n and "0.5" in n for n in h2.notices)
    for k, v in net.params().items():
        np.testing.assert_array_equal(second.params()[k], v)


def test_resume_follows_the_checkpoints_schedule(tmp_path):
    ck = tmp_path / "ck.npz"
    sched = Schedule("exponential", gamma=0.5)
    full, _ = _run(epochs=4, schedule=sched)
    X, y, hold = _blobs()
    train(_net(), X, y, epochs=2, lr=1.0, holdout=hold, progress=False, checkpoint=ck, schedule=sched)
    with pytest.raises(UsageError, match=r"`schedule` \{'kind': 'exponential', 'gamma': 0\.5\}, this run has "
                                         r"\{'kind': 'constant'\}"):
        train(_net(), X, y, epochs=4, lr=1.0, holdout=hold, progress=False, resume=ck)
    net = _net()
    h = train(net, X, y, epochs=4, lr=1.0, holdout=hold, progress=False, resume=ck, schedule=sched)
    assert [r["lr"] for r in h] == [1.0, 0.5, 0.25, 0.125]
    for k, v in full.params().items():
        np.testing.assert_array_equal(net.params()[k], v)


# ------------------------------------------------------------------ early stopping, keep-best
def test_early_stopping_and_keep_best():
    net, h = _run(epochs=30, lr=1.0, early_stop="accuracy", patience=3, keep_best=True)
    accs = [r["holdout_accuracy"] for r in h]
    best = int(np.argmax(accs)) + 1  # the first epoch reaching the maximum
    assert h.best_epoch == best and len(h) == best + 3 < 30
    assert h.early_stopped.startswith(f"early stop after epoch {best + 3}: the held-out accuracy has not improved")
    again, _ = _run(epochs=best)  # the same run stopped at the best epoch: the same parameters
    for k, v in again.params().items():
        np.testing.assert_array_equal(net.params()[k], v)
    # keep-best alone (no early stop) measures the held-out cost and runs every epoch
    net2, h2 = _run(epochs=6, keep_best=True)
    costs = [r["holdout_cost"] for r in h2]
    assert len(h2) == 6 and h2.best_epoch == int(np.argmin(costs)) + 1 and h2.early_stopped is None


def test_resuming_a_run_that_stopped_early_trains_no_more(tmp_path):
    ck = tmp_path / "ck.npz"
    X, y, hold = _blobs()
    net = _net()
    h = train(net, X, y, epochs=40, lr=1.0, holdout=hold, progress=False, checkpoint=ck, early_stop="accuracy",
              patience=2, keep_best=True)
    assert h.early_stopped and len(h) < 40
    again = _net(seed=3)
    h2 = train(again, X, y, epochs=40, lr=1.0, holdout=hold, progress=False, resume=ck, early_stop="accuracy",
               patience=2, keep_best=True)
    assert len(h2) == len(h) and h2.best_epoch == h.best_epoch and h2.early_stopped.startswith(
        f"early stop after epoch {len(h)}")
    for k, v in net.params().items():
        np.testing.assert_array_equal(again.params()[k], v)


@needs("jax")
def test_jax_follows_the_schedule_and_stops_early_like_numpy():
    kw = dict(epochs=12, schedule=Schedule("cosine", min_lr=0.1), early_stop="cost", patience=2, keep_best=True)
    a, ha = _run(**kw)
    b, hb = _run(backend="jax", **kw)
    assert [r["lr"] for r in ha] == [r["lr"] for r in hb] and ha.best_epoch == hb.best_epoch
    for k, v in a.params().items():
        np.testing.assert_allclose(b.params()[k], v, rtol=1e-9, atol=1e-9)


def test_keep_best_survives_resume(tmp_path):
    full, hf = _run(epochs=8, keep_best="accuracy", lr=3.0)
    ck = tmp_path / "ck.npz"
    X, y, hold = _blobs()
    train(_net(), X, y, epochs=3, lr=3.0, holdout=hold, progress=False, checkpoint=ck, keep_best="accuracy")
    net = _net()
    h = train(net, X, y, epochs=8, lr=3.0, holdout=hold, progress=False, resume=ck, keep_best="accuracy")
    assert h.best_epoch == hf.best_epoch
    for k, v in full.params().items():
        np.testing.assert_array_equal(net.params()[k], v)


@pytest.mark.parametrize("kw, pattern", [
    (dict(early_stop="loss"), r"early_stop must be one of cost, accuracy"),
    (dict(early_stop="cost", holdout=None), r"early_stop measures the held-out set"),
    (dict(keep_best=True, holdout=None), r"keep_best measures the held-out set"),
    (dict(early_stop="cost", patience=0), r"patience must be a whole number ≥ 1"),
    (dict(early_stop="cost", keep_best="accuracy"), r"measure different things"),
    (dict(threads=0), r"threads must be a whole number ≥ 1, 'auto' or 'default'"),
    (dict(override=("lr",)), r"override lr changes a resumed run's settings: it needs resume=PATH"),
    (dict(override=("batch_size",)), r"override: 'batch_size' cannot change on resume"),
    (dict(schedule="cosine", lr=0.1, ), None),
])
def test_train_refuses_bad_control_settings(kw, pattern):
    if pattern is None:
        with pytest.raises(UsageError, match=r"min_lr \(η_min = 0\.5\) is larger than lr"):
            _run(schedule=Schedule("cosine", min_lr=0.5), lr=0.1)
        return
    with pytest.raises(UsageError, match=pattern):
        _run(**kw)


# ------------------------------------------------------------------ init_from
def test_init_from_starts_from_a_saved_model(tmp_path):
    trained, _ = _run(epochs=3)
    path = tmp_path / "m.npz"
    save_model(path, trained.spec(), trained.params())
    X, y, hold = _blobs()
    net = _net(seed=5)
    h = train(net, X, y, epochs=0, holdout=hold, progress=False, init_from=path)
    assert len(h) == 0 and any("started from the parameters of" in n for n in h.notices)
    for k, v in trained.params().items():
        np.testing.assert_array_equal(net.params()[k], v)
    with pytest.raises(UsageError, match=r"init_from .*m\.npz: the saved model's network has `sizes` \[2, 6, 3\], "
                                         r"this run has \[2, 7, 3\]"):
        train(_net((2, 7, 3)), X, y, epochs=1, progress=False, init_from=path)
    with pytest.raises(UsageError, match=r"`activation` 'sigmoid', this run has 'tanh'"):
        train(mlp([2, 6, 3], "tanh", level="layer", seed=0), X, y, epochs=1, progress=False, init_from=path)
    with pytest.raises(UsageError, match=r"init_from and resume both"):
        train(_net(), X, y, epochs=1, progress=False, init_from=path, resume=path)


# ------------------------------------------------------------------ threads
@needs("threadpoolctl")
def test_threads_limit_blas_during_training_and_are_restored():
    import threadpoolctl

    def blas():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]

    before = blas()
    seen = []
    X, y, hold = _blobs()
    for threads, want in ((1, [1]), ("auto", [choose_threads("auto")])):
        h = train(_net(), X, y, epochs=1, progress=False, threads=threads, callback=lambda r: seen.append(blas()))
        assert seen[-1] == want * len(before) and h.threads == want[0] and not h.notices
    assert blas() == before
    train(_net(), X, y, epochs=1, progress=False, threads="default", callback=lambda r: seen.append(blas()))
    assert seen[-1] == before
    assert choose_threads("default") is None and choose_threads(3) == 3


def test_threads_without_threadpoolctl_train_on_with_one_notice(tmp_path):
    notices: list[str] = []
    with blas_threads(2, notices):
        pass  # with threadpoolctl installed: nothing to say
    res = run_without(["train", "--dataset", "blobs", "--sizes", "2,4,3", "--epochs", "1", "--threads", "1",
                       "--quiet"], tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "threadpoolctl" in ln]
    assert lines == ["symgrad train: --threads 1: limiting BLAS threads needs threadpoolctl: install "
                     "symgrad[threads] (pip install 'symgrad[threads]'); BLAS keeps its default thread count"]
    assert "epoch 1/1:" in res.stdout


# ------------------------------------------------------------------ the command line
def _cli(argv, capsys):
    capsys.readouterr()
    status = cli_main(argv)
    out, err = capsys.readouterr()
    return status, out, err


BLOBS = ["train", "--dataset", "blobs", "--sizes", "2,6,3", "--holdout", "60", "--quiet", "--lr", "1"]


def test_cli_schedule_early_stop_keep_best_and_save(tmp_path, capsys):
    path = tmp_path / "m.npz"
    status, out, err = _cli([*BLOBS, "--epochs", "30", "--schedule", "step", "--step-size", "2", "--gamma", "0.5",
                             "--early-stop", "accuracy", "--patience", "2", "--keep-best", "--save", str(path)], capsys)
    assert status == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert lines[0].startswith("epoch 1/30: lr 1, train cost") and lines[2].startswith("epoch 3/30: lr 0.5, ")
    best = int(re.search(r"best epoch: (\d+) \(kept\)", out).group(1))
    assert len(lines) == best + 2 and f"saved {path} (epoch {best}, the best)" in out
    assert "early stop after epoch" in err
    _, params, extra = load_model(path, with_extra=True)
    assert extra["best_epoch"] == best


@pytest.mark.parametrize("flags, message", [
    (["--schedule", "cosine", "--step-size", "3"], "--step-size is a setting of the step schedule, not of --schedule cosine"),
    (["--schedule", "step", "--gamma", "2"], "--gamma (γ) must be in (0, 1], got 2.0"),
    (["--threads", "0"], "argument --threads: --threads must be a whole number ≥ 1, auto or default, got '0'"),
    (["--holdout", "0", "--early-stop", "cost"], "--early-stop measures the held-out examples, and this run has none"),
    (["--override", "lr"], "--override lr changes a resumed run's settings: it needs --resume PATH"),
    (["--init-from", "nope.npz"], "--init-from nope.npz: no such file"),
])
def test_cli_control_errors(flags, message, capsys):
    status, _, err = _cli([*BLOBS, "--epochs", "2", *flags], capsys)
    assert status == 2 and message in err and err.count("\n") == 1, err


def test_cli_resume_lr_needs_override_and_init_from(tmp_path, capsys):
    ck, model = tmp_path / "ck.npz", tmp_path / "m.npz"
    assert _cli([*BLOBS, "--epochs", "1", "--checkpoint", str(ck), "--save", str(model)], capsys)[0] == 0
    status, _, err = _cli([*BLOBS, "--epochs", "2", "--lr", "0.5", "--resume", str(ck)], capsys)
    assert status == 2 and "the checkpoint was made with --lr 1.0, this run has 0.5 (give --lr 1.0, or " \
                           "--override lr to train on with this run's)" in err
    status, out, err = _cli([*BLOBS, "--epochs", "2", "--lr", "0.5", "--resume", str(ck), "--override", "lr"], capsys)
    assert status == 0 and "--override lr: this run's --lr replaces the checkpoint's" in err
    assert "epoch 2/2: lr 0.5, " in out
    status, _, err = _cli([*BLOBS, "--epochs", "1", "--sizes", "2,5,3", "--init-from", str(model)], capsys)
    assert status == 2 and "--init-from" in err and "--sizes [2, 6, 3], this run has [2, 5, 3]" in err
    status, out, _ = _cli([*BLOBS, "--epochs", "1", "--init-from", str(model)], capsys)
    assert status == 0 and "epoch 1/1:" in out


# ------------------------------------------------------------------ the progress bar in a terminal
def _screen(raw: str) -> list[str]:
    """What a terminal shows for ``raw`` (logical lines, no wrapping): \\r, \\n, ESC[A (up) and ESC[...m/K."""
    lines, row, col = [""], 0, 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\x1b":
            m = re.match(r"\x1b\[(\d*)([A-Za-z])", raw[i:])
            if m:
                if m.group(2) == "A":
                    row = max(0, row - int(m.group(1) or 1))
                i += m.end()
                continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
            col = 0  # the pty's onlcr: \n arrives as \r\n
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1:]
            col += 1
        i += 1
    return [ln.rstrip() for ln in lines]


@needs("tqdm")
def test_progress_bar_and_epoch_lines_do_not_garble_each_other_in_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 24 × 80: tqdm draws to the width
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": ROOT}
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "train", "--dataset", "mnist", "--sizes", "784,10,10",
                             "--epochs", "3", "--holdout", "9000", "--lr", "1"],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    raw = b"".join(chunks).decode("utf-8", "replace")
    assert "%|" in raw and "/3 [" in raw, raw  # the bar was drawn
    screen = [ln for ln in _screen(raw) if ln]
    epochs = [ln for ln in screen if "epoch " in ln and "/3:" in ln]
    assert len(epochs) == 3, screen
    for k, ln in enumerate(epochs, start=1):
        assert re.fullmatch(rf"epoch {k}/3: train cost [\d.e-]+, train accuracy [\d.]+, holdout accuracy [\d.]+ "
                            r"\([\d.]+ s\)", ln), ln
    assert not any("%|" in ln for ln in screen), screen  # no stale bar left behind


def test_the_training_page_shows_what_its_commands_print(tmp_path, monkeypatch, capsys):
    """docs/training.md's console examples: each shown line is printed (up to a trailing …)."""
    import shlex

    page = open(os.path.join(ROOT, "docs", "training.md"), encoding="utf-8").read()
    blocks = re.findall(r"```console\n(.*?)```", page, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        command, *shown = block.strip().splitlines()
        assert command.startswith("$ symgrad ")
        status, out, err = _cli(shlex.split(command[2:])[1:], capsys)
        assert status == 0, err
        printed = out.splitlines()
        assert len(printed) == len(shown), (shown, printed)
        for want, got in zip(shown, printed):
            assert got.startswith(want[:-1].rstrip()) if want.endswith("…") else got == want, (want, got)
