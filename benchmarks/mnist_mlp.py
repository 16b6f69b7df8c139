"""Benchmark: symgrad's printed training programs (NumPy, JAX) against hand-written NumPy, JAX and PyTorch.

Run by hand (never a timed test), from the repository root::

    python benchmarks/mnist_mlp.py                 # the s/epoch grid (3 nets × 2 dtypes × batch 10, 100)
    python benchmarks/mnist_mlp.py --quick         # 784-30-10 only
    python benchmarks/mnist_mlp.py --full          # also: 30 epochs × 3 seeds, held-out accuracy;
                                                   # start-up (build + backprop + compile + first jit,
                                                   # cold and warm cache) and peak memory, fresh processes
    python benchmarks/mnist_mlp.py --full --write  # also write its section of docs/benchmarks.md
    python benchmarks/mnist_mlp.py --mnist DIR     # the full set instead (symgrad data fetch mnist)

Setup: the real MNIST test set shipped with symgrad (``symgrad.store.data.packaged_mnist``), examples
0..7,999 to train, 8,000..9,999 held out; with ``--mnist DIR``, Nielsen's split of the full training set
instead (the first 50,000 to train, the last 10,000 held out); pixels / 255; sigmoid layers, quadratic cost summed over the
batch, SGD with η = 3.0 and Nielsen's η/m (the last, partial batch with its own m), N(0, 1) init. All
implementations start from the same parameters and see the same permutations; each epoch includes the
implementation's own shuffling (NumPy's ``X[perm]``, JAX's gather inside the scan). Epochs are interleaved
in one process and the order is rotated every round (a fixed order biases the first one), the first
round (compiles, warms caches) is not timed, the median of the other rounds is reported; one BLAS thread
everywhere (two are 7–87× slower on these small products on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One BLAS thread for every implementation (PyTorch too): must precede numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad import mlp  # noqa: E402
from symgrad.errors import UsageError  # noqa: E402
from symgrad.networks import count_params, init_params  # noqa: E402
from symgrad.numeric.program import UNROLL  # noqa: E402
from symgrad.numeric.train import Trainer  # noqa: E402
from symgrad.store.data import NIELSEN_VALIDATION, load_mnist, packaged_mnist  # noqa: E402

NETS = {"784-30-10": [784, 30, 10], "784-100-10": [784, 100, 10], "784-256-128-10": [784, 256, 128, 10]}
ETA = 3.0


# ------------------------------------------------------------------ data
def load(mnist: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(X rows, pixels / 255; labels; how many of them to train on): the packaged test set, 8,000 + 2,000, or
    with ``mnist`` (a folder of the four files) Nielsen's 50,000 + 10,000 of the training set."""
    if mnist is None:
        X, labels = packaged_mnist()
        return X, labels, X.shape[0] - 2000
    X, labels = load_mnist(mnist)["train"]
    return X, labels, X.shape[0] - NIELSEN_VALIDATION


def split(X, labels, cut, dtype):
    X = X.astype(dtype)
    Y = np.eye(10, dtype=dtype)[labels]
    return (X[:cut], Y[:cut], labels[:cut]), (X[cut:], labels[cut:])


# ------------------------------------------------------------------ implementations
class SymgradNumpy:
    name = "symgrad NumPy"
    backend = "numpy"

    def __init__(self, sizes, params, bs, dtype, X, Y):
        net = mlp(sizes, "sigmoid", "quadratic", level="layer", params=params)
        self.t = Trainer(net, ETA, bs, dtype=dtype, backend=self.backend)
        self.t.set_data(X, Y)

    def epoch(self, perm):
        self.t.run_epoch(perm)  # returns the summed cost: for JAX a float, so the device has finished

    def params(self):
        return dict(zip(self.t.pnames, self.t.host_params()))


class SymgradJax(SymgradNumpy):
    name = "symgrad JAX"
    backend = "jax"


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


class HandNumpy:
    """What an expert writes: mini-batch as columns, σ′ = a(1 − a), in-place updates, the epoch's own shuffle."""

    name = "hand-written NumPy"

    def __init__(self, sizes, params, bs, dtype, X, Y):
        L = len(sizes)
        self.W = [params[f"W{l}"].astype(dtype) for l in range(2, L + 1)]
        self.b = [params[f"b{l}"].astype(dtype) for l in range(2, L + 1)]
        self.bs, self.X, self.Y = bs, X, Y

    def epoch(self, perm):
        Ws, bs_, bs = self.W, self.b, self.bs
        Xe, Ye = self.X[perm], self.Y[perm]
        with np.errstate(over="ignore"):
            for s in range(0, Xe.shape[0], bs):
                x = Xe[s : s + bs].T
                y = Ye[s : s + bs].T
                acts = [x]
                for W, b in zip(Ws, bs_):
                    acts.append(_sig(W @ acts[-1] + b))
                a = acts[-1]
                d = (a - y) * a * (1 - a)
                k = ETA / x.shape[1]
                for l in range(len(Ws) - 1, -1, -1):
                    gW = d @ acts[l].T
                    gb = d.sum(axis=1, keepdims=True)
                    if l:
                        h = acts[l]
                        d = (Ws[l].T @ d) * h * (1 - h)  # with W^l before its update
                    Ws[l] -= k * gW
                    bs_[l] -= k * gb

    def params(self):
        out = {}
        for i, (W, b) in enumerate(zip(self.W, self.b), start=2):
            out[f"W{i}"], out[f"b{i}"] = W, b
        return out


class HandJax:
    """jax.value_and_grad of the same cost, the same SGD update, the same scan (gather inside, same unroll)."""

    name = "hand-written JAX"

    def __init__(self, sizes, params, bs, dtype, X, Y):
        import jax
        import jax.numpy as jnp
        from jax import lax

        self.jax = jax
        if dtype == "float64":
            jax.config.update("jax_enable_x64", True)  # before any array: else float64 is float32
        L = len(sizes)
        p = []
        for l in range(2, L + 1):
            p += [jnp.asarray(params[f"W{l}"].astype(dtype)), jnp.asarray(params[f"b{l}"].astype(dtype))]
        self.p = tuple(p)
        self.bs, self.X, self.Y = bs, jax.device_put(X), jax.device_put(Y)

        def cost(p, x, y):
            a = x
            for i in range(0, len(p), 2):
                a = jax.nn.sigmoid(p[i] @ a + p[i + 1])
            e = a - y
            return 0.5 * jnp.vdot(e, e)

        def step(p, x, y):
            c, g = jax.value_and_grad(cost)(p, x, y)
            k = ETA / x.shape[1]
            return tuple(pi - k * gi for pi, gi in zip(p, g)), c

        def scan(p, X, Y, idx):
            def body(p, i):
                return step(p, X[i].T, Y[i].T)

            p, costs = lax.scan(body, p, idx, unroll=UNROLL)
            return p, costs.sum()

        self.scan = jax.jit(scan, donate_argnums=(0,))
        self.step = jax.jit(step, donate_argnums=(0,))

    def epoch(self, perm):
        bs, n = self.bs, perm.shape[0]
        full = n - n % bs
        self.p, c = self.scan(self.p, self.X, self.Y, perm[:full].reshape(-1, bs))
        if full < n:
            self.p, c2 = self.step(self.p, self.X[perm[full:]].T, self.Y[perm[full:]].T)
            c = c + c2
        float(c)  # wait for the device

    def params(self):
        out = {}
        for i in range(0, len(self.p), 2):
            out[f"W{i // 2 + 2}"], out[f"b{i // 2 + 2}"] = np.asarray(self.p[i]), np.asarray(self.p[i + 1])
        return out


class Torch:
    """PyTorch CPU eager: autograd on the same summed quadratic cost, the same SGD update with η/m."""

    name = "PyTorch CPU"

    def __init__(self, sizes, params, bs, dtype, X, Y):
        import torch

        self.torch = torch
        dt = getattr(torch, dtype)
        L = len(sizes)
        self.p = []
        for l in range(2, L + 1):
            self.p += [torch.tensor(params[f"W{l}"], dtype=dt, requires_grad=True),
                       torch.tensor(params[f"b{l}"], dtype=dt, requires_grad=True)]
        self.bs, self.X, self.Y = bs, torch.from_numpy(X), torch.from_numpy(Y)

    def epoch(self, perm):
        torch, p, bs = self.torch, self.p, self.bs
        idx = torch.from_numpy(perm)
        X, Y = self.X[idx], self.Y[idx]
        for s in range(0, X.shape[0], bs):
            x = X[s : s + bs].T
            y = Y[s : s + bs].T
            a = x
            for i in range(0, len(p), 2):
                a = torch.sigmoid(p[i] @ a + p[i + 1])
            loss = 0.5 * ((a - y) ** 2).sum()
            grads = torch.autograd.grad(loss, p)
            k = ETA / x.shape[1]
            with torch.no_grad():
                for pi, gi in zip(p, grads):
                    pi.sub_(gi, alpha=k)

    def params(self):
        out = {}
        for i in range(0, len(self.p), 2):
            out[f"W{i // 2 + 2}"], out[f"b{i // 2 + 2}"] = (self.p[i].detach().numpy(),
                                                           self.p[i + 1].detach().numpy())
        return out


IMPLS = {"symgrad-numpy": SymgradNumpy, "symgrad-jax": SymgradJax, "numpy": HandNumpy, "jax": HandJax,
         "torch": Torch}


def accuracy(params, X, labels):
    a = X.T
    with np.errstate(over="ignore"):
        for l in range(2, 2 + len(params) // 2):
            a = _sig(params[f"W{l}"] @ a + params[f"b{l}"])
    return float(np.mean(np.argmax(a, axis=0) == labels))


# ------------------------------------------------------------------ the grid
def timed(classes, sizes, bs, dtype, train, epochs, seed):
    """Interleaved, order-rotated epochs; the first (compile, warm-up) untimed. {name: [s, ...]}, params."""
    X, Y, _ = train
    params = init_params(sizes, "normal", seed)
    runners, setup = [], {}
    for c in classes:
        t = time.perf_counter()
        runners.append(c(sizes, params, bs, dtype, X, Y))
        setup[c.name] = time.perf_counter() - t
    times = {r.name: [] for r in runners}
    first = {}
    rng = np.random.default_rng(seed)
    for e in range(epochs + 1):
        perm = rng.permutation(X.shape[0])
        k = e % len(runners)
        for r in runners[k:] + runners[:k]:
            t = time.perf_counter()
            r.epoch(perm)
            dt = time.perf_counter() - t
            if e == 0:
                first[r.name] = dt
            else:
                times[r.name].append(dt)
    return times, {r.name: r.params() for r in runners}, setup, first


def grid(classes, nets, dtypes, batches, train, epochs, seed, out):
    rows = []
    for dtype in dtypes:
        for net in nets:
            for bs in batches:
                times, params, setup, first = timed(classes, NETS[net], bs, dtype, train, epochs, seed)
                med = {k: statistics.median(v) for k, v in times.items()}
                ref = params[HandNumpy.name]
                drift = {k: max(float(np.max(np.abs(v[p].astype(np.float64) - ref[p]))) for p in ref)
                         for k, v in params.items()}
                row = {"dtype": dtype, "net": net, "bs": bs, "median": med, "setup": setup, "first": first,
                       "drift": drift, "load": os.getloadavg()[0]}
                rows.append(row)
                cells = "  ".join(f"{k} {v:.4f}" for k, v in med.items())
                out(f"{dtype} {net:15s} bs {bs:3d}: {cells}  (load {row['load']:.1f})")
    return rows


# ------------------------------------------------------------------ accuracy, start-up, memory
def accuracy_runs(train, hold, out, epochs=30, seeds=(0, 1, 2)):
    names = [SymgradNumpy, SymgradJax, HandNumpy]
    accs = {c.name: [] for c in names}
    for seed in seeds:
        _, params, _, _ = timed(names, NETS["784-30-10"], 10, "float64", train, epochs - 1, seed)
        for k, p in params.items():
            accs[k].append(accuracy(p, *hold))
        out(f"  seed {seed}: " + ", ".join(f"{k} {accs[k][-1]:.4f}" for k in accs))
    mean = {k: float(np.mean(v)) for k, v in accs.items()}
    return accs, mean


def _peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM): ru_maxrss would report the parent's when it was larger at exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(impl, net, bs, dtype, mnist, cache_dir):
    """In a fresh process: import, then build + backprop + compile (+ the first jit, in the first epoch), 3 epochs,
    peak RSS."""
    if cache_dir:
        os.environ["XDG_CACHE_HOME"] = cache_dir  # symgrad's JAX cache lives under it
    else:
        os.environ["SYMGRAD_JAX_CACHE"] = "0"
    t0 = time.perf_counter()
    if "jax" in impl:
        import jax  # noqa: F401 - the import is timed apart from the build
    if impl == "torch":
        import torch

        torch.set_num_threads(1)
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    X, labels, cut = load(mnist)
    train, _ = split(X, labels, cut, dtype)
    t_data = time.perf_counter() - t0
    c = IMPLS[impl]
    params = init_params(NETS[net], "normal", 0)
    t = time.perf_counter()
    r = c(NETS[net], params, bs, dtype, train[0], train[1])
    build = time.perf_counter() - t
    rng = np.random.default_rng(0)
    ep = []
    for _ in range(3):
        perm = rng.permutation(cut)
        t = time.perf_counter()
        r.epoch(perm)
        ep.append(time.perf_counter() - t)
    rss = _peak_rss_mib()
    return {"impl": c.name, "import": t_import, "data": t_data, "build": build, "first": ep[0], "later": min(ep[1:]),
            "startup": build + ep[0] - min(ep[1:]), "rss": rss}


def fresh(impl, net, bs, dtype, mnist, cache_dir=""):
    cmd = [sys.executable, __file__, "--child", json.dumps([impl, net, bs, dtype, mnist, cache_dir])]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per configuration (median; default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mnist", metavar="DIR", help="the four full MNIST files (symgrad data fetch mnist): "
                    "train on the first 50,000, hold out the last 10,000, instead of the packaged test set")
    ap.add_argument("--quick", action="store_true", help="784-30-10 only")
    ap.add_argument("--full", action="store_true", help="also accuracy (30 epochs × 3 seeds), start-up and memory")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    ap.add_argument("--rewrite", action="store_true", help="only write docs/benchmarks.md from benchmarks/results.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*json.loads(a.child))))
        return 0
    if a.write and a.mnist:
        print("--write documents the run on the packaged set; run it without --mnist", file=sys.stderr)
        return 2
    path = ROOT / "benchmarks" / "results.json"
    if a.rewrite:
        results = json.loads(path.read_text())
        write_doc(results, results.get("lines", []))
        return 0
    classes = [SymgradNumpy, SymgradJax, HandNumpy, HandJax]
    versions = {"numpy": np.__version__}
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 runs first; float32 arrays stay float32
    versions["jax"] = jax.__version__
    if not a.no_torch:
        try:
            import torch

            torch.set_num_threads(1)
            versions["torch"] = torch.__version__
            classes.append(Torch)
        except ImportError:
            pass
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    try:
        X, labels, cut = load(a.mnist)
    except UsageError as e:
        print(f"mnist_mlp.py: {e}", file=sys.stderr)
        return 2
    nets = ["784-30-10"] if a.quick else list(NETS)
    results = {"versions": versions, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}",
               "epochs": a.epochs, "unroll": UNROLL}
    data = {dt: split(X, labels, cut, dt) for dt in ("float64", "float32")}
    out(f"s/epoch, median of {a.epochs} after one untimed epoch; interleaved, order rotated; load "
        f"{os.getloadavg()[0]:.1f} at the start")
    results["grid"] = []
    for dtype in ("float64", "float32"):
        results["grid"] += grid(classes, nets, [dtype], (10, 100), data[dtype][0], a.epochs, a.seed, out)
    if a.full:
        out()
        out("30 epochs, batch 10, float64, held-out accuracy (2,000 examples), seeds 0, 1, 2:")
        accs, mean = accuracy_runs(data["float64"][0], data["float64"][1], out)
        results["accuracy"] = {"seeds": accs, "mean": mean}
        out("  mean: " + ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
        out()
        out("fresh processes: build + backprop + compile (+ first jit) = build + first epoch − a later epoch; peak RSS")
        results["startup"] = []
        cache = tempfile.mkdtemp(prefix="symgrad-bench-cache-")
        for net in ("784-30-10", "784-256-128-10"):
            for impl in IMPLS:
                if impl == "torch" and "torch" not in versions:
                    continue
                runs = [("", fresh(impl, net, 10, "float64", a.mnist))]
                if impl == "symgrad-jax":
                    runs += [("cold cache", fresh(impl, net, 10, "float64", a.mnist, cache)),
                             ("warm cache", fresh(impl, net, 10, "float64", a.mnist, cache))]
                for label, r in runs:
                    r.update(net=net, cache=label)
                    results["startup"].append(r)
                    out(f"  {net:15s} {r['impl'] + (' ' + label if label else ''):28s} import {r['import']:.2f} s, "
                        f"build {r['build']:.3f} s, "
                        f"first epoch {r['first']:.3f} s, later {r['later']:.3f} s, start-up {r['startup']:.3f} s, "
                        f"peak RSS {r['rss']:.0f} MiB")
    out(f"\nwrote {path.relative_to(ROOT)}")
    results["lines"] = lines
    path.write_text(json.dumps(results, indent=1))
    if a.write:
        write_doc(results, lines)
    return 0


def _table(results) -> str:
    names = [SymgradNumpy.name, SymgradJax.name, HandNumpy.name, HandJax.name, Torch.name]
    names = [n for n in names if n in results["grid"][0]["median"]]
    head = ("| dtype | net | batch | " + " | ".join(names)
            + " | symgrad NumPy / hand NumPy | symgrad JAX / hand JAX | load |")
    rows = [head, "|" + "---|" * 3 + "---:|" * (len(names) + 3)]
    for r in results["grid"]:
        m = r["median"]
        cells = " | ".join(f"{m[n]:.4f}" for n in names)
        rows.append(f"| {r['dtype']} | {r['net']} | {r['bs']} | {cells} | "
                    f"{m[SymgradNumpy.name] / m[HandNumpy.name]:.2f} | {m[SymgradJax.name] / m[HandJax.name]:.2f} | "
                    f"{r['load']:.1f} |")
    return "\n".join(rows)


def _targets(results) -> str:
    """The issue's targets, each with the figures of this run that decide it."""
    g = results["grid"]
    sn = [r["median"][SymgradNumpy.name] / r["median"][HandNumpy.name] for r in g]
    sj = {dt: [r["median"][SymgradJax.name] / r["median"][HandJax.name] for r in g if r["dtype"] == dt]
          for dt in ("float64", "float32")}
    lines = ["", "Targets (this run):", "",
             f"- symgrad NumPy ≤ 1.0× hand-written NumPy: {sum(x <= 1.0 for x in sn)} of {len(sn)} rows; ratios "
             f"{min(sn):.2f}–{max(sn):.2f}, median {statistics.median(sn):.2f}."]
    for dt, v in sj.items():
        if v:
            lines.append(f"- symgrad JAX ≤ 1.0× hand-written JAX, {dt}: {sum(x <= 1.0 for x in v)} of {len(v)} rows; "
                         f"ratios {min(v):.2f}–{max(v):.2f}, median {statistics.median(v):.2f} (the two compile to "
                         "the same FLOPs: a tie, decided by noise).")
    if "accuracy" in results:
        mean = results["accuracy"]["mean"]
        ref = mean[HandNumpy.name]
        for name in (SymgradNumpy.name, SymgradJax.name):
            d = 100 * (mean[name] - ref)
            lines.append(f"- held-out accuracy within 0.5 points of the reference: {name} {d:+.2f} points "
                         f"({'met' if abs(d) <= 0.5 else 'missed'}).")
    if "startup" in results:
        for r in results["startup"]:
            if r["impl"] == SymgradJax.name:
                ok = "met" if r["startup"] < 2 else "missed"
                lines.append(f"- build + backprop + compile + first jit < 2 s, {r['net']}"
                             f"{' (' + r['cache'] + ')' if r['cache'] else ' (no cache)'}: {r['startup']:.2f} s ({ok}).")
    return "\n".join(lines) + "\n"


def write_doc(results, lines) -> None:
    from symgrad.store.files import atomic_write_text

    v = results["versions"]
    machine = (f"{results['machine']}, NumPy {v['numpy']}, JAX {v['jax']}"
               + (f", PyTorch {v['torch']} (1 thread)" if "torch" in v else ""))
    growth = []
    for dtype in ("float64", "float32"):
        for bs in (10, 100):
            sel = {r["net"]: r["median"] for r in results["grid"] if r["dtype"] == dtype and r["bs"] == bs}
            if len(sel) == 3:
                parts = []
                for name in (SymgradNumpy.name, SymgradJax.name):
                    a, b = sel["784-30-10"][name], sel["784-256-128-10"][name]
                    parts.append(f"{name} {a:.3f} → {b:.3f} s ({b / a:.1f}×)")
                growth.append(f"- {dtype}, batch {bs}: " + "; ".join(parts))
    p = [count_params(s) for s in NETS.values()]
    text = f"""{SECTION}

Run on {results['date']} (UTC); machine: {machine}.

Setup: the MNIST test set shipped with symgrad, examples 0..7,999 to train and 8,000..9,999 held out,
pixels / 255; sigmoid layers, quadratic cost, SGD with η = 3.0 (η/m per mini-batch, the last partial
batch with its own m), N(0, 1) initialisation, the same parameters and permutations for every
implementation. Each epoch includes the implementation's own shuffling. Epochs are interleaved in one
process with the order rotated every round; the first round (compilation) is not timed; the table gives
the median of {results['epochs']} epochs in seconds, one BLAS thread, lax.scan unroll {results['unroll']}
for both JAX columns. The machine is a shared 2-core VM: ratios within one row are what to read;
differences under ~10 % are noise.

{_table(results)}

How the cost grows from 784-30-10 ({p[0]:,} parameters) to 784-256-128-10 ({p[2]:,}, {p[2] / p[0]:.1f}×):

{chr(10).join(growth)}
"""
    if "accuracy" in results:
        mean = results["accuracy"]["mean"]
        text += "\nHeld-out accuracy after 30 epochs (784-30-10, batch 10, float64), mean of seeds 0, 1, 2: " + \
            ", ".join(f"{k} {100 * v:.2f} %" for k, v in mean.items()) + ".\n"
    if "startup" in results:
        text += ("\nStart-up in a fresh process (after importing the library: build + backprop + compile, and for "
                 "JAX the first jit = build + first epoch − a later epoch; batch 10, float64) and peak memory "
                 "(VmHWM, 3 epochs, with the MNIST arrays):\n\n"
                 "| net | implementation | import (s) | start-up (s) | peak RSS (MiB) |\n|---|---|---:|---:|---:|\n")
        for r in results["startup"]:
            label = r["impl"] + (f" ({r['cache']})" if r["cache"] else "")
            text += f"| {r['net']} | {label} | {r['import']:.2f} | {r['startup']:.3f} | {r['rss']:.0f} |\n"
    text += _targets(results)
    text += "\nThe run's output:\n\n```text\n" + "\n".join(lines) + "\n```\n"
    path = ROOT / "docs" / "benchmarks.md"
    atomic_write_text(path, replace_section(path.read_text(encoding="utf-8") if path.exists() else "", text))
    print(f"wrote {path}")


SECTION = "## MNIST: printed training programs against hand-written code (`benchmarks/mnist_mlp.py`)"
OLD_SECTIONS = ("## MNIST 784-30-10 (`benchmarks/mnist_mlp.py`)",)  # what earlier runs titled this section


def replace_section(page: str, section: str) -> str:
    """``page`` with its :data:`SECTION` (up to the next ``## `` heading) replaced by ``section``;
    the title and the other sections (e.g. the full-MNIST figures measured by hand) are kept."""
    for title in (SECTION, *OLD_SECTIONS):
        head, found, rest = page.partition(title)
        if found:
            after = rest.find("\n## ")
            tail = "" if after < 0 else rest[after + 1 :]
            return head + section + ("\n" + tail if tail else "")
    return (page.rstrip() + "\n\n" if page.strip() else "# Benchmarks\n\n") + section


if __name__ == "__main__":
    sys.exit(main())
