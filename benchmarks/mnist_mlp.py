"""Benchmark: symgrad's compiled training against hand-written NumPy, Nielsen's loop and PyTorch CPU.

Run by hand (never a timed test), from the repository root::

    python benchmarks/mnist_mlp.py            # timings (batch 10 and 100) + build/backprop/compile time
    python benchmarks/mnist_mlp.py --full     # also 30 epochs × 3 seeds: held-out accuracy
    python benchmarks/mnist_mlp.py --write    # also write the table into docs/benchmarks.md
    python benchmarks/mnist_mlp.py --mnist DIR   # the full set instead (symgrad data fetch mnist)

Setup (the issue's): the real MNIST test set shipped with symgrad (symgrad.store.data.packaged_mnist),
examples 0..7999 to train, 8000..9999 held out; with --mnist DIR, Nielsen's split of the full
training set instead (the first 50,000 to train, the last 10,000 held out); pixels / 255; 784-30-10, sigmoid, quadratic cost, η = 3.0, N(0, 1) init, float64, one seed
for all. Every implementation starts from the same parameters and sees the same shuffles;
their epochs are interleaved (round robin) so that load on the shared cores hits all alike.
Times are the mini-batch loop of one epoch (shuffling and evaluation excluded), median of
the rounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# One BLAS thread for every implementation (PyTorch too, --threads): the matrices are small and
# the 2 cores are shared, so a threaded BLAS spins and runs several times slower. Must precede numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad import mlp  # noqa: E402
from symgrad.errors import UsageError  # noqa: E402
from symgrad.networks import init_params  # noqa: E402
from symgrad.numeric import compile as sg_compile  # noqa: E402
from symgrad.numeric.train import Trainer  # noqa: E402
from symgrad.store.data import NIELSEN_VALIDATION, load_mnist, packaged_mnist  # noqa: E402

SIZES = [784, 30, 10]
ETA = 3.0
HOLDOUT = 2000  # of the packaged set: examples 0..7,999 train, 8,000..9,999 held out


# ------------------------------------------------------------------ implementations
class Symgrad:
    name = "symgrad compiled"

    def __init__(self, params, bs):
        net = mlp(SIZES, "sigmoid", "quadratic", level="layer", params=params)
        self.trainer = Trainer(net, ETA, bs)

    def epoch(self, Xe, Ye):
        self.trainer.run_epoch(Xe, Ye)

    def params(self):
        return dict(zip(self.trainer.pnames, self.trainer.params))


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


class NumpyRef:
    """What an expert writes: mini-batch as columns, σ′ = a(1 − a), in-place updates."""

    name = "hand-written NumPy"

    def __init__(self, params, bs):
        self.W2, self.b2, self.W3, self.b3 = (params[k].copy() for k in ("W2", "b2", "W3", "b3"))
        self.bs = bs

    def epoch(self, Xe, Ye):
        W2, b2, W3, b3, bs = self.W2, self.b2, self.W3, self.b3, self.bs
        for s in range(0, Xe.shape[0], bs):
            x = Xe[s : s + bs].T
            y = Ye[s : s + bs].T
            a2 = _sig(W2 @ x + b2)
            a3 = _sig(W3 @ a2 + b3)
            d3 = (a3 - y) * a3 * (1 - a3)
            d2 = (W3.T @ d3) * a2 * (1 - a2)
            k = ETA / x.shape[1]
            W3 -= k * (d3 @ a2.T)
            b3 -= k * d3.sum(axis=1, keepdims=True)
            W2 -= k * (d2 @ x.T)
            b2 -= k * d2.sum(axis=1, keepdims=True)

    def params(self):
        return {"W2": self.W2, "b2": self.b2, "W3": self.W3, "b3": self.b3}


class Nielsen:
    """Nielsen's network.py: one example at a time, lists of per-layer arrays."""

    name = "Nielsen per-example loop"

    def __init__(self, params, bs):
        self.weights = [params["W2"].copy(), params["W3"].copy()]
        self.biases = [params["b2"].copy(), params["b3"].copy()]
        self.bs = bs

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = _sig(z)
            activations.append(activation)
        delta = (activations[-1] - y) * _sig(zs[-1]) * (1 - _sig(zs[-1]))
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, 3):
            z = zs[-l]
            sp = _sig(z) * (1 - _sig(z))
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def epoch(self, Xe, Ye):
        n = Xe.shape[0]
        for s in range(0, n, self.bs):
            batch = [(Xe[i].reshape(-1, 1), Ye[i].reshape(-1, 1)) for i in range(s, min(s + self.bs, n))]
            nabla_b = [np.zeros(b.shape) for b in self.biases]
            nabla_w = [np.zeros(w.shape) for w in self.weights]
            for x, y in batch:
                db, dw = self.backprop(x, y)
                nabla_b = [nb + d for nb, d in zip(nabla_b, db)]
                nabla_w = [nw + d for nw, d in zip(nabla_w, dw)]
            k = ETA / len(batch)
            self.weights = [w - k * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - k * nb for b, nb in zip(self.biases, nabla_b)]

    def params(self):
        return {"W2": self.weights[0], "b2": self.biases[0], "W3": self.weights[1], "b3": self.biases[1]}


class Torch:
    """PyTorch CPU eager: autograd on the same summed quadratic cost, plain SGD with lr η/m."""

    name = "PyTorch CPU"

    def __init__(self, params, bs):
        import torch

        self.torch = torch
        self.p = [torch.tensor(params[k], dtype=torch.float64, requires_grad=True) for k in ("W2", "b2", "W3", "b3")]
        self.opt = torch.optim.SGD(self.p, lr=ETA / bs)
        self.bs = bs

    def epoch(self, Xe, Ye):
        torch = self.torch
        X = torch.from_numpy(Xe)
        Y = torch.from_numpy(Ye)
        W2, b2, W3, b3 = self.p
        opt, bs = self.opt, self.bs
        for s in range(0, X.shape[0], bs):
            x = X[s : s + bs].T
            y = Y[s : s + bs].T
            a3 = torch.sigmoid(W3 @ torch.sigmoid(W2 @ x + b2) + b3)
            loss = 0.5 * ((a3 - y) ** 2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def params(self):
        return {k: t.detach().numpy() for k, t in zip(("W2", "b2", "W3", "b3"), self.p)}


def accuracy(params, X, labels):
    a3 = _sig(params["W3"] @ _sig(params["W2"] @ X.T + params["b2"]) + params["b3"])
    return float(np.mean(np.argmax(a3, axis=0) == labels))


# ------------------------------------------------------------------ runs
def load(mnist: str | None = None):
    """((X, Y, labels) to train, (X, labels) held out): the packaged test set 8,000 + 2,000, or
    with ``mnist`` (a folder of the four files) Nielsen's 50,000 + 10,000 of the training set."""
    if mnist is None:
        X, labels = packaged_mnist()
        cut = X.shape[0] - HOLDOUT
    else:
        X, labels = load_mnist(mnist)["train"]
        cut = X.shape[0] - NIELSEN_VALIDATION
    Y = np.zeros((X.shape[0], 10))
    Y[np.arange(X.shape[0]), labels] = 1
    return (X[:cut], Y[:cut], labels[:cut]), (X[cut:], labels[cut:])


def impls(with_torch: bool):
    out = [Symgrad, NumpyRef, Nielsen]
    if with_torch:
        out.append(Torch)
    return out


def timed_run(classes, train, hold, bs, epochs, seed):
    X, Y, _ = train
    params = init_params(SIZES, "normal", seed)
    runners = [c(params, bs) for c in classes]
    times = {r.name: [] for r in runners}
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = rng.permutation(X.shape[0])
        Xe, Ye = X[perm], Y[perm]
        for r in runners:
            t = time.perf_counter()
            r.epoch(Xe, Ye)
            times[r.name].append(time.perf_counter() - t)
    acc = {r.name: accuracy(r.params(), *hold) for r in runners}
    return times, acc


def build_times(repeats: int = 3) -> dict[str, float]:
    layer = []
    for _ in range(repeats):
        t = time.perf_counter()
        net = mlp(SIZES, "sigmoid", "quadratic", level="layer")
        table = net.backprop()
        sg_compile(net, outputs=list(table.values()))
        layer.append(time.perf_counter() - t)
    return {"cold": layer[0], "layer": statistics.median(layer)}


def neuron_times() -> dict[str, float]:
    t = time.perf_counter()
    net = mlp(SIZES, "sigmoid", "quadratic", level="neuron")
    t1 = time.perf_counter()
    net.backprop()
    t2 = time.perf_counter()
    model = sg_compile(net)
    t3 = time.perf_counter()
    return {"nodes": len(net.graph), "build": t1 - t, "backprop": t2 - t1, "compile": t3 - t2,
            "statements": len(model.source.split("def compiled(")[1].splitlines()) - 3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per batch size (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="also 30 epochs × 3 seeds, held-out accuracy")
    ap.add_argument("--neuron", action="store_true", help="also build/backprop/compile the neuron-level graph")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: small matrices)")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    ap.add_argument("--mnist", metavar="DIR", help="the four full MNIST files (symgrad data fetch mnist): "
                    "train on the first 50,000, hold out the last 10,000, instead of the packaged test set")
    a = ap.parse_args()
    if a.write and a.mnist:
        print("--write documents the run on the packaged set; run it without --mnist", file=sys.stderr)
        return 2
    with_torch = not a.no_torch
    torch_version = None
    if with_torch:
        try:
            import torch

            torch.set_num_threads(a.threads)
            torch_version = torch.__version__
        except ImportError:
            with_torch = False
    try:
        train, hold = load(a.mnist)
    except UsageError as e:
        print(f"mnist_mlp.py: {e}", file=sys.stderr)
        return 2
    n_train, n_hold = train[0].shape[0], hold[0].shape[0]
    classes = impls(with_torch)
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    bt = build_times()
    out(f"build + backprop + compile (layer level, 784-30-10): {bt['cold']:.3f} s first in the process, "
        f"{bt['layer']:.3f} s median of 3 (target < 1 s)")
    if a.neuron:
        nt = neuron_times()
        out(f"neuron level 784-30-10: {nt['nodes']} nodes; build {nt['build']:.2f} s, backprop "
            f"{nt['backprop']:.2f} s, compile {nt['compile']:.2f} s ({nt['statements']} statements)")
    table = []
    for bs in (10, 100):
        times, acc = timed_run(classes, train, hold, bs, a.epochs, a.seed)
        med = {k: statistics.median(v) for k, v in times.items()}
        ref = med[NumpyRef.name]
        out()
        out(f"batch {bs}: seconds per epoch (median of {a.epochs}), {n_train:,} examples; held-out accuracy after "
            f"{a.epochs} epochs")
        out(f"{'implementation':28s} {'s/epoch':>9s} {'× NumPy':>8s} {'accuracy':>9s}")
        for k, v in med.items():
            out(f"{k:28s} {v:9.4f} {v / ref:8.2f} {acc[k]:9.4f}")
            table.append((bs, k, v, v / ref, acc[k]))
        sg = med[Symgrad.name]
        target = " (target < 1)" if bs == 10 else ""
        out(f"symgrad / NumPy = {sg / ref:.3f} (target ≤ 1.15)"
            + (f"; symgrad / PyTorch = {sg / med[Torch.name]:.3f}{target}" if with_torch else ""))
    full = None
    if a.full:
        out()
        out(f"30 epochs, batch 10, held-out accuracy ({n_hold:,} examples), seeds 0, 1, 2:")
        accs = {Symgrad.name: [], NumpyRef.name: []}
        for seed in (0, 1, 2):
            _, acc = timed_run([Symgrad, NumpyRef], train, hold, 10, 30, seed)
            for k in accs:
                accs[k].append(acc[k])
            out(f"  seed {seed}: " + ", ".join(f"{k} {acc[k]:.4f}" for k in accs))
        full = {k: float(np.mean(v)) for k, v in accs.items()}
        diff = 100 * (full[Symgrad.name] - full[NumpyRef.name])
        out("  mean: " + ", ".join(f"{k} {v:.4f}" for k, v in full.items()) + f"; difference {diff:+.2f} points "
            "(target within 1)")
    if a.write:
        write_doc(table, bt, full, lines, torch_version, a)
    return 0


def write_doc(table, bt, full, lines, torch_version, a) -> None:
    from symgrad.store.files import atomic_write_text

    today = datetime.date.today().isoformat()
    machine = f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, NumPy {np.__version__}"
    if torch_version:
        machine += f", PyTorch {torch_version} ({a.threads} thread)"
    rows = "\n".join(f"| {bs} | {k} | {v:.4f} | {r:.2f} | {acc:.4f} |" for bs, k, v, r, acc in table)
    text = f"""{SECTION}

Run on {today}; machine: {machine}.

Setup: the real MNIST test set shipped with symgrad (`symgrad.store.data.packaged_mnist`, the
same data as `symgrad train --dataset mnist`), examples 0..7,999 to train and 8,000..9,999 held out, pixels / 255; 784-30-10, sigmoid, quadratic cost, η = 3.0, N(0, 1)
initialisation, float64, the same seed, parameters and shuffles for every implementation, epochs
interleaved round robin in one process, one BLAS thread. Seconds are one epoch's mini-batch loop (median of
{a.epochs}); the ratio is to the hand-written NumPy reference; accuracy is on the 2,000 held-out
examples after those epochs.

| batch | implementation | s / epoch | × NumPy | held-out accuracy |
| ---: | --- | ---: | ---: | ---: |
{rows}

Build + backprop + compile of the layer-level network: {bt['cold']:.3f} s (first time in the
process; {bt['layer']:.3f} s median of 3).
"""
    if full:
        text += "\nAfter 30 epochs at batch 10 (mean of seeds 0, 1, 2): " + ", ".join(
            f"{k} {v:.4f}" for k, v in full.items()) + ".\n"
    text += "\nThe run's output:\n\n```text\n" + "\n".join(lines) + "\n```\n"
    path = ROOT / "docs" / "benchmarks.md"
    atomic_write_text(path, replace_section(path.read_text(encoding="utf-8") if path.exists() else "", text))
    print(f"wrote {path}")


SECTION = "## MNIST 784-30-10 (`benchmarks/mnist_mlp.py`)"


def replace_section(page: str, section: str) -> str:
    """``page`` with its :data:`SECTION` (up to the next ``## `` heading) replaced by ``section``;
    the title and the other sections (e.g. the full-MNIST figures measured by hand) are kept."""
    head, found, rest = page.partition(SECTION)
    if not found:
        return (page.rstrip() + "\n\n" if page.strip() else "# Benchmarks\n\n") + section
    after = rest.find("\n## ")
    tail = "" if after < 0 else rest[after + 1 :]
    return head + section + ("\n" + tail if tail else "")


if __name__ == "__main__":
    sys.exit(main())
