"""Issue 11, question 3: the whole training step printed as NumPy — plain expressions vs preallocated buffers.

    .venv/bin/python benchmarks/explore/numpy_step.py                       # all nets, batch 10 and 100, float64
    .venv/bin/python benchmarks/explore/numpy_step.py --dtype float32 --nets 784-30-10
    .venv/bin/python benchmarks/explore/numpy_step.py --torch               # also PyTorch eager, 1 thread

Every variant runs the same epochs (same start, same permutations, pre-permuted rows ``Xe = X[perm]``
given to it, as benchmarks/mnist_mlp.py does: shuffling not timed), interleaved round robin in one
process; median of the epochs after one untimed warm-up. BLAS threads are switched per variant with
threadpoolctl (the process starts with OpenBLAS's default, 2 threads here); '@1' / '@2' in a name is
the BLAS thread count.

Variants (see ``printed_numpy`` for the code each prints):
* ``symgrad today``  — ``Trainer.run_epoch``: the generated ``fn(W2, b2, W3, b3, x, y, eta)`` with
  the update in place, loop in train.py.
* ``hand-written``   — benchmarks/mnist_mlp.py's NumpyRef (generalised to any depth).
* ``plain …``        — the printed step with plain expressions and ``W -= k*(d @ a.T)``.
* ``buf …``          — preallocated work buffers, every operation with ``out=`` / in place.
* ``… caller``       — the caller's Python loop calls ``step(...)`` per mini-batch;
  ``… module``       — the printed ``epoch(...)`` holds the loop and calls ``step``;
  ``… inline``       — the printed ``epoch(...)`` holds the loop with the step's body inlined.
* ``kfold``          — η/m multiplied into δ^L once (δ^l are linear in δ^L, so every gradient comes
  out already scaled) instead of scaling each gradient.
* ``gemm``           — the weight update as one BLAS call W ← W − k·δ aᵀ (scipy.linalg.blas ?gemm, beta=1).
* ``XT``             — the data stored transposed (d, n) so a mini-batch is the column slice X[:, s:s+bs].
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from common import ETA, NETS, load, machine, median, params0, perms, rss_mb  # noqa: E402

import numpy as np  # noqa: E402  (no BLAS env var: threadpoolctl sets 1 or 2 per variant)
from threadpoolctl import threadpool_limits  # noqa: E402

SIG_HELPER = '''
def _sigmoid(z):
    t = np.tanh(0.5 * z)
    t *= 0.5
    t += 0.5
    return t
'''


def printed_numpy(sizes, style="plain", loop="inline", kfold=False, gemm=False, xT=False, cost=False) -> str:
    """Source of the printed NumPy module for sizes (sigmoid, quadratic cost, SGD)."""
    L = len(sizes)
    ls = list(range(2, L + 1))
    P = ", ".join(f"W{l}, b{l}" for l in ls)
    B = []  # step body, indented 4
    if style == "plain":
        prev = "x"
        for l in ls:
            B.append(f"z{l} = W{l} @ {prev} + b{l}")
            B.append(f"a{l} = _sigmoid(z{l})")
            prev = f"a{l}"
        B.append(f"e = a{L} - y")
        if cost:
            B.append("C = 0.5*np.vdot(e, e)")
        if kfold:
            B.append(f"d{L} = (k*e)*a{L}*(1 - a{L})")
        else:
            B.append(f"d{L} = e*a{L}*(1 - a{L})")
        for l in range(L, 1, -1):
            ap = "x" if l == 2 else f"a{l - 1}"
            if l > 2:
                B.append(f"d{l - 1} = (W{l}.T @ d{l})*a{l - 1}*(1 - a{l - 1})")
            if kfold:
                B.append(f"W{l} -= d{l} @ {ap}.T")
                B.append(f"b{l} -= d{l}.sum(axis=1, keepdims=True)")
            else:
                B.append(f"W{l} -= k*(d{l} @ {ap}.T)")
                B.append(f"b{l} -= k*d{l}.sum(axis=1, keepdims=True)")
    else:
        prev = "x"
        for l in ls:
            B += [f"np.matmul(W{l}, {prev}, out=a{l})", f"a{l} += b{l}",
                  f"a{l} *= 0.5", f"np.tanh(a{l}, out=a{l})", f"a{l} *= 0.5", f"a{l} += 0.5"]
            prev = f"a{l}"
        B.append(f"np.subtract(a{L}, y, out=d{L})")
        if cost:
            B.append(f"C = 0.5*np.vdot(d{L}, d{L})")
        if kfold:
            B.append(f"d{L} *= k")
        B += [f"d{L} *= a{L}", f"np.subtract(1, a{L}, out=t{L})", f"d{L} *= t{L}"]
        for l in range(L, 1, -1):
            ap = "x" if l == 2 else f"a{l - 1}"
            if l > 2:
                B += [f"np.matmul(W{l}.T, d{l}, out=d{l - 1})", f"d{l - 1} *= a{l - 1}",
                      f"np.subtract(1, a{l - 1}, out=t{l - 1})", f"d{l - 1} *= t{l - 1}"]
            if gemm:
                a_arg, ta = (f"{ap}", 0) if l == 2 else (f"{ap}.T", 1)
                alpha = "-1.0" if kfold else "-k"
                B.append(f"_gemm({alpha}, {a_arg}, d{l}.T, 1.0, W{l}.T, trans_a={ta}, overwrite_c=1)")
            else:
                B.append(f"np.matmul(d{l}, {ap}.T, out=gW{l})")
                if not kfold:
                    B.append(f"gW{l} *= k")
                B.append(f"W{l} -= gW{l}")
            B.append(f"np.sum(d{l}, axis=1, keepdims=True, out=gb{l})")
            if not kfold:
                B.append(f"gb{l} *= k")
            B.append(f"b{l} -= gb{l}")
    bufs = []
    if style == "buf":
        for l in ls:
            bufs += [f"a{l}", f"t{l}", f"d{l}", f"gW{l}", f"gb{l}"]
    ws = ""
    if style == "buf":
        lines = []
        for l in ls:
            n, p = sizes[l - 1], sizes[l - 2]
            lines += [f"        np.empty(({n}, bs), dtype), np.empty(({n}, bs), dtype), np.empty(({n}, bs), dtype),",
                      f"        np.empty(({n}, {p}), dtype), np.empty(({n}, 1), dtype),"]
        ws = "\n\ndef workspace(bs, dtype):\n    # a, t, d, gW, gb for each layer\n    return (\n" + "\n".join(lines) + "\n    )\n"
    unpack = f"    {', '.join(bufs)} = ws\n" if bufs else ""
    sl = ("X[:, s:s + bs], Y[:, s:s + bs]" if xT else "X[s:s + bs].T, Y[s:s + bs].T")
    tail_sl = ("X[:, full:], Y[:, full:]" if xT else "X[full:].T, Y[full:].T")
    nexpr = "X.shape[1]" if xT else "X.shape[0]"
    ret = "C" if cost else "None"
    step = f"def step({P}, x, y, k{', ws' if bufs else ''}):\n{unpack}" + "".join(f"    {s}\n" for s in B) + f"    return {ret}\n"
    if loop == "inline":
        body = "".join(f"        {s}\n" for s in B)
        cst = "        total += C\n" if cost else ""
        epoch = f'''
def epoch({P}, X, Y, eta, bs{', ws' if bufs else ''}):
{unpack}    n = {nexpr}
    full = n - n % bs
    k = eta/bs
    total = 0.0
    for s in range(0, full, bs):
        x, y = {sl}
{body}{cst}    if full < n:  # the last, partial mini-batch (its own m)
        total += step({P}, {tail_sl}, eta/(n - full){', None' if bufs else ''}) or 0.0
    return total
'''
    else:
        cst = "total += " if cost else ""
        epoch = f'''
def epoch({P}, X, Y, eta, bs{', ws' if bufs else ''}):
    n = {nexpr}
    full = n - n % bs
    k = eta/bs
    total = 0.0
    for s in range(0, full, bs):
        {cst}step({P}, {sl}, k{', ws' if bufs else ''})
    if full < n:
        total += step({P}, {tail_sl}, eta/(n - full){', None' if bufs else ''}) or 0.0
    return total
'''
    if bufs:  # a partial last batch gets its own workspace (shapes differ): printed as a fallback
        step = step.replace(f"{unpack}", f"    if ws is None:\n        ws = workspace(x.shape[1], x.dtype)\n{unpack}", 1)
    head = "import numpy as np\n" + ("from scipy.linalg.blas import dgemm as _gemm\n" if gemm else "") + SIG_HELPER + ws
    return head + "\n\n" + step + epoch


class Printed:
    def __init__(self, name, sizes, params, bs, dtype, threads, **opts):
        self.name, self.bs, self.threads = name, bs, threads
        self.loop = opts.get("loop", "inline")
        self.xT = opts.get("xT", False)
        src = printed_numpy(sizes, **opts)
        if opts.get("gemm") and dtype == "float32":
            src = src.replace("dgemm as _gemm", "sgemm as _gemm")
        self.source = src
        ns = {}
        exec(compile(src, f"<printed {name}>", "exec"), ns)
        self.ns = ns
        self.p = [p.copy() for p in params]
        self.ws = (ns["workspace"](bs, np.dtype(dtype)),) if "workspace" in ns else ()

    def epoch(self, Xe, Ye, XeT, YeT):
        X, Y = (XeT, YeT) if self.xT else (Xe, Ye)
        if self.loop == "caller":
            step, p, bs, ws = self.ns["step"], self.p, self.bs, self.ws
            k = ETA / bs
            if self.xT:
                for s in range(0, X.shape[1], bs):
                    step(*p, X[:, s:s + bs], Y[:, s:s + bs], k, *ws)
            else:
                for s in range(0, X.shape[0], bs):
                    step(*p, X[s:s + bs].T, Y[s:s + bs].T, k, *ws)
        else:
            self.ns["epoch"](*self.p, X, Y, ETA, self.bs, *self.ws)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


class HandWritten:
    """benchmarks/mnist_mlp.py's NumpyRef, for any depth (same statements for 784-30-10)."""

    def __init__(self, name, sizes, params, bs, dtype, threads):
        self.name, self.bs, self.threads = name, bs, threads
        self.p = [p.copy() for p in params]

    def epoch(self, Xe, Ye, XeT, YeT):
        p, bs = self.p, self.bs
        Ws, bs_ = p[0::2], p[1::2]
        for s in range(0, Xe.shape[0], bs):
            x = Xe[s:s + bs].T
            y = Ye[s:s + bs].T
            acts = [x]
            for W, b in zip(Ws, bs_):
                acts.append(_sig(W @ acts[-1] + b))
            a = acts[-1]
            d = (a - y) * a * (1 - a)
            k = ETA / x.shape[1]
            for l in range(len(Ws) - 1, -1, -1):
                dn = (Ws[l].T @ d) * acts[l] * (1 - acts[l]) if l > 0 else None
                Ws[l] -= k * (d @ acts[l].T)
                bs_[l] -= k * d.sum(axis=1, keepdims=True)
                d = dn


class SymgradToday:
    def __init__(self, name, sizes, params, bs, dtype, threads):
        from symgrad import mlp
        from symgrad.train import Trainer

        self.name, self.threads = name, threads
        names = [f"{w}{l}" for l in range(2, len(sizes) + 1) for w in "Wb"]
        net = mlp(sizes, "sigmoid", "quadratic", level="layer", params=dict(zip(names, params)))
        self.tr = Trainer(net, ETA, bs, dtype=dtype)
        self.p = self.tr.params

    def epoch(self, Xe, Ye, XeT, YeT):
        self.tr.run_epoch(Xe, Ye)


class Torch:
    def __init__(self, name, sizes, params, bs, dtype, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch, self.name, self.threads, self.bs = torch, name, threads, bs
        self.t = [torch.tensor(p, requires_grad=True) for p in params]
        self.opt = torch.optim.SGD(self.t, lr=ETA / bs)

    @property
    def p(self):
        return [t.detach().numpy() for t in self.t]

    def epoch(self, Xe, Ye, XeT, YeT):
        torch = self.torch
        X, Y = torch.from_numpy(Xe), torch.from_numpy(Ye)
        for s in range(0, X.shape[0], self.bs):
            a = X[s:s + self.bs].T
            for W, b in zip(self.t[0::2], self.t[1::2]):
                a = torch.sigmoid(W @ a + b)
            loss = 0.5 * ((a - Y[s:s + self.bs].T) ** 2).sum()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()


def build(sizes, params, bs, dtype, with_torch, with_gemm):
    V = [
        SymgradToday("symgrad today @1", sizes, params, bs, dtype, 1),
        HandWritten("hand-written @1", sizes, params, bs, dtype, 1),
        HandWritten("hand-written @2", sizes, params, bs, dtype, 2),
        Printed("plain caller @1", sizes, params, bs, dtype, 1, style="plain", loop="caller"),
        Printed("plain module @1", sizes, params, bs, dtype, 1, style="plain", loop="module"),
        Printed("plain inline @1", sizes, params, bs, dtype, 1, style="plain", loop="inline"),
        Printed("plain inline kfold @1", sizes, params, bs, dtype, 1, style="plain", loop="inline", kfold=True),
        Printed("buf caller @1", sizes, params, bs, dtype, 1, style="buf", loop="caller"),
        Printed("buf inline @1", sizes, params, bs, dtype, 1, style="buf", loop="inline"),
        Printed("buf inline kfold @1", sizes, params, bs, dtype, 1, style="buf", loop="inline", kfold=True),
        Printed("buf inline kfold cost @1", sizes, params, bs, dtype, 1, style="buf", loop="inline", kfold=True,
                cost=True),
        Printed("buf inline kfold XT @1", sizes, params, bs, dtype, 1, style="buf", loop="inline", kfold=True,
                xT=True),
        Printed("buf inline kfold @2", sizes, params, bs, dtype, 2, style="buf", loop="inline", kfold=True),
    ]
    if with_gemm:
        V.append(Printed("buf inline kfold gemm @1", sizes, params, bs, dtype, 1, style="buf", loop="inline",
                         kfold=True, gemm=True))
    if with_torch:
        V.append(Torch("PyTorch eager @1", sizes, params, bs, dtype, 1))
    return V


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--nets", default="784-30-10,784-100-10,784-256-128-10")
    ap.add_argument("--batches", default="10,100")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--torch", action="store_true")
    ap.add_argument("--no-gemm", action="store_true")
    ap.add_argument("--print-source", default="", help="print the source of this variant for 784-30-10 and stop")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if a.print_source:
        kw = dict(kv.split("=") for kv in a.print_source.split(","))
        kw = {k: (v == "1") if k in ("kfold", "gemm", "xT", "cost") else v for k, v in kw.items()}
        print(printed_numpy([784, 30, 10], **kw))
        return
    dt = a.dtype
    print(f"# numpy_step.py dtype={dt}; {machine()}", flush=True)
    (X, Y), _ = load(dt)
    n = X.shape[0]
    for net in a.nets.split(","):
        sizes = NETS[net]
        for bs in map(int, a.batches.split(",")):
            P0 = params0(sizes, 0, dt)
            V = build(sizes, P0, bs, dt, a.torch and dt == "float64", not a.no_gemm)
            times = {v.name: [] for v in V}
            cpu = {v.name: [] for v in V}
            shuf = []
            for e, perm in enumerate(perms(n, a.epochs + 1, seed=1)):
                t = time.perf_counter()
                Xe, Ye = X[perm], Y[perm]
                shuf.append(time.perf_counter() - t)
                XeT, YeT = np.ascontiguousarray(Xe.T), np.ascontiguousarray(Ye.T)
                for v in V[e % len(V):] + V[:e % len(V)]:  # rotate: no variant always first
                    with threadpool_limits(limits=v.threads, user_api="blas"):
                        t, c = time.perf_counter(), time.process_time()
                        v.epoch(Xe, Ye, XeT, YeT)
                        dtw, dtc = time.perf_counter() - t, time.process_time() - c
                    if e > 0:
                        times[v.name].append(dtw)
                        cpu[v.name].append(dtc)
            ref = median(times["hand-written @1"])
            cref = median(cpu["hand-written @1"])
            refp = V[1].p
            print(f"\n## {net}, batch {bs}, {dt}: s/epoch median of {a.epochs} (X[perm] not timed: "
                  f"{median(shuf):.4f} s)")
            print(f"{'variant':28s} {'s/epoch':>8s} {'× hand':>7s} {'min':>8s} {'cpu s':>8s} {'cpu ×':>6s} "
                  f"{'max|Δp| vs hand':>15s}")
            for v in V:
                t, c = median(times[v.name]), median(cpu[v.name])
                diff = max(float(np.max(np.abs(np.asarray(p) - r))) for p, r in zip(v.p, refp))
                print(f"{v.name:28s} {t:8.4f} {t / ref:7.3f} {min(times[v.name]):8.4f} {c:8.4f} {c / cref:6.3f} "
                      f"{diff:15.2e}", flush=True)
                if a.json:
                    import json

                    with open(a.json, "a") as f:
                        f.write(json.dumps({"script": "numpy_step", "dtype": dt, "net": net, "bs": bs,
                                            "variant": v.name, "s": t, "ratio": t / ref, "cpu": c,
                                            "cpu_ratio": c / cref, "maxdiff": diff}) + "\n")
    print(f"\npeak RSS {rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
