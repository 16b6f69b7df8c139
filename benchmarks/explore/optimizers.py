"""Issue 11, question 4 (and part of 6): SGD / momentum / Adam and L2 decay fused into the printed step.

    .venv/bin/python benchmarks/explore/optimizers.py                    # float64 (x64 on), 784-30-10, batch 10, 100
    .venv/bin/python benchmarks/explore/optimizers.py --dtype float32    # x64 off
    .venv/bin/python benchmarks/explore/optimizers.py --print-source numpy:adam:1e-4   # show a printed program

For each optimizer and weight decay λ (cost + λ Σ‖W‖², so ∂/∂W gains 2λW), four implementations start
from the same parameters and see the same permutations, interleaved epoch by epoch:

* ``numpy unfused``   — today's ``symgrad.train.Trainer`` (generated gradients + ``_Optimizer.step_fn``);
* ``numpy fused``     — the printed NumPy epoch: buffers, η/m folded into δ^L, update in the loop;
* ``jax grad``        — hand-written JAX: ``jax.value_and_grad`` of the (decayed) cost, the same update,
  ``lax.scan`` over pre-batched columns (nb, d, bs);
* ``jax printed``     — the explicit backprop formulas + update in the same scan.
  Adam: ``alpha-scan`` computes α_t = η√(1−β₂ᵗ)/(1−β₁ᵗ) inside the scan from the step counter
  carried in the state; ``alpha-host`` passes the epoch's α_t computed in float64 on the host as a
  scanned input (what NumPy does: α is a Python float).

Implementations run in an order that rotates every epoch. Reported: s/epoch (median of the timed epochs after 3
untimed ones), and max |Δp| against
``numpy unfused`` after the first 3 epochs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import NETS, blas_threads, load, machine, median, params0, perms, rss_mb  # noqa: E402

blas_threads(1)
ap = argparse.ArgumentParser()
ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
ap.add_argument("--net", default="784-30-10")
ap.add_argument("--batches", default="10,100")
ap.add_argument("--epochs", type=int, default=5, help="timed epochs after the 3 compared ones")
ap.add_argument("--lam", type=float, default=1e-4, help="the λ of the decayed runs")
ap.add_argument("--print-source", default="")
A = ap.parse_args()

import numpy as np  # noqa: E402
import jax  # noqa: E402

if A.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

LR = {"sgd": 3.0, "momentum": 0.5, "adam": 0.01}
MU, B1, B2, EPS = 0.9, 0.9, 0.999, 1e-8


# ------------------------------------------------------------------ printed NumPy (buffers, fused)
def numpy_source(sizes, opt, lam) -> str:
    L = len(sizes)
    ls = list(range(2, L + 1))
    P = ", ".join(f"W{l}, b{l}" for l in ls)
    S = []  # optimizer state names
    if opt == "momentum":
        S = [f"v{w}{l}" for l in ls for w in "Wb"]
    if opt == "adam":
        S = [f"{m}{w}{l}" for m in ("m", "s") for l in ls for w in "Wb"]
    bufs = [f"{x}{l}" for l in ls for x in ("a", "t", "d", "gW", "gb", "tW", "tb")]
    B = []
    prev = "x"
    for l in ls:
        B += [f"np.matmul(W{l}, {prev}, out=a{l})", f"a{l} += b{l}", f"a{l} *= 0.5", f"np.tanh(a{l}, out=a{l})",
              f"a{l} *= 0.5", f"a{l} += 0.5"]
        prev = f"a{l}"
    B += [f"np.subtract(a{L}, y, out=d{L})", f"C = 0.5*np.vdot(d{L}, d{L})",
          f"d{L} *= k  # k = eta/m (sgd, momentum) or 1/m (adam): every gradient below comes out scaled",
          f"d{L} *= a{L}", f"np.subtract(1, a{L}, out=t{L})", f"d{L} *= t{L}"]
    for l in range(L, 1, -1):
        ap_ = "x" if l == 2 else f"a{l - 1}"
        if l > 2:
            B += [f"np.matmul(W{l}.T, d{l}, out=d{l - 1})", f"d{l - 1} *= a{l - 1}",
                  f"np.subtract(1, a{l - 1}, out=t{l - 1})", f"d{l - 1} *= t{l - 1}"]
        B += [f"np.matmul(d{l}, {ap_}.T, out=gW{l})", f"np.sum(d{l}, axis=1, keepdims=True, out=gb{l})"]
        if lam:
            B += [f"np.multiply(W{l}, lam2k, out=tW{l})  # k·2λW", f"gW{l} += tW{l}"]
        for w in "Wb":
            p, g, t = f"{w}{l}", f"g{w}{l}", f"t{w}{l}"
            if opt == "sgd":
                B.append(f"{p} -= {g}")
            elif opt == "momentum":
                B += [f"v{p} *= {MU}", f"v{p} -= {g}", f"{p} += v{p}"]
            else:
                B += [f"m{p} *= {B1}", f"{g} *= {1 - B1:.17g}", f"m{p} += {g}",  # (1-b1) g
                      f"{g} *= {g}", f"{g} *= {(1 - B2) / (1 - B1) ** 2:.17g}", f"s{p} *= {B2}", f"s{p} += {g}",
                      f"np.sqrt(s{p}, out={t})", f"{t} += {EPS}", f"np.divide(m{p}, {t}, out={t})",
                      f"{t} *= alpha", f"{p} -= {t}"]
    lines = []
    for l in ls:
        n, p = sizes[l - 1], sizes[l - 2]
        lines.append(f"        np.empty(({n}, bs), dtype), np.empty(({n}, bs), dtype), np.empty(({n}, bs), dtype), "
                     f"np.empty(({n}, {p}), dtype), np.empty(({n}, 1), dtype), np.empty(({n}, {p}), dtype), "
                     f"np.empty(({n}, 1), dtype),")
    state_doc = f"state = [{', '.join(S)}]" if S else "no optimizer state"
    adam_t = ""
    if opt == "adam":
        adam_t = (f"        t += 1\n        alpha = {LR['adam']}*math.sqrt(1 - {B2}**t)/(1 - {B1}**t)"
                  "  # Python float (float64), as _Optimizer does\n")
    k = f"{LR[opt]}/bs" if opt != "adam" else "1/bs"
    body = "".join(f"        {s}\n" for s in B)
    src = f'''import math

import numpy as np


def workspace(bs, dtype):
    # per layer: a, t (bs columns), d, gW, gb, tW, tb
    return [
{chr(10).join(lines)}
    ]


def epoch({P}, {', '.join(S) + ', ' if S else ''}t, X, Y, bs, ws):
    """One epoch over the rows of X (already shuffled), full mini-batches of bs; {state_doc}; returns (t, cost)."""
    {', '.join(bufs)} = ws
    k = {k}
    lam2k = {2 * lam!r}*k
    total = 0.0
    for s in range(0, X.shape[0] - X.shape[0] % bs, bs):
        x, y = X[s:s + bs].T, Y[s:s + bs].T
{adam_t}{body}        total += C
    return t, total
'''
    return src


# ------------------------------------------------------------------ printed JAX
def jax_source(sizes, opt, lam, alpha="scan") -> str:
    L = len(sizes)
    ls = list(range(2, L + 1))
    P = ", ".join(f"W{l}, b{l}" for l in ls)
    B = [f"{P} = params"]
    if opt == "momentum":
        B.append(f"{', '.join(f'v{w}{l}' for l in ls for w in 'Wb')} = state")
    if opt == "adam":
        B.append(f"{', '.join(f'm{w}{l}' for l in ls for w in 'Wb')}, "
                 f"{', '.join(f's{w}{l}' for l in ls for w in 'Wb')}, t = state")
    prev = "x"
    for l in ls:
        B += [f"a{l} = jax.nn.sigmoid(W{l} @ {prev} + b{l})"]
        prev = f"a{l}"
    B += [f"e = a{L} - y", "C = 0.5*jnp.vdot(e, e)", f"d{L} = e*a{L}*(1 - a{L})"]
    for l in range(L - 1, 1, -1):
        B.append(f"d{l} = (W{l + 1}.T @ d{l + 1})*a{l}*(1 - a{l})")
    B.append("m = x.shape[1]")
    for l in range(L, 1, -1):
        ap_ = "x" if l == 2 else f"a{l - 1}"
        B.append(f"gW{l} = d{l} @ {ap_}.T" + (f" + {2 * lam!r}*W{l}" if lam else ""))
        B.append(f"gb{l} = d{l}.sum(axis=1, keepdims=True)")
    new_state = "()"
    if opt == "sgd":
        for l in ls:
            B += [f"W{l} = W{l} - ({LR['sgd']}/m)*gW{l}", f"b{l} = b{l} - ({LR['sgd']}/m)*gb{l}"]
    elif opt == "momentum":
        for l in ls:
            for w in "Wb":
                B += [f"v{w}{l} = {MU}*v{w}{l} - ({LR['momentum']}/m)*g{w}{l}", f"{w}{l} = {w}{l} + v{w}{l}"]
        new_state = f"({', '.join(f'v{w}{l}' for l in ls for w in 'Wb')})"
    else:
        if alpha == "scan":
            B += ["t = t + 1", f"alpha = {LR['adam']}*jnp.sqrt(1 - {B2}**t)/(1 - {B1}**t)"]
        else:
            B += ["t = t + 1  # alpha: this step's α_t, computed on the host in float64 (scanned input)"]
        for l in ls:
            for w in "Wb":
                g = f"g{w}{l}"
                B += [f"{g} = {g}/m", f"m{w}{l} = {B1}*m{w}{l} + {1 - B1:.17g}*{g}",
                      f"s{w}{l} = {B2}*s{w}{l} + {1 - B2:.17g}*({g}*{g})",
                      f"{w}{l} = {w}{l} - alpha*m{w}{l}/(jnp.sqrt(s{w}{l}) + {EPS})"]
        new_state = (f"({', '.join(f'm{w}{l}' for l in ls for w in 'Wb')}, "
                     f"{', '.join(f's{w}{l}' for l in ls for w in 'Wb')}, t)")
    B.append(f"return ({P}), {new_state}, C")
    extra = ", alpha" if (opt == "adam" and alpha == "host") else ""
    src = f"def step(params, state, x, y{extra}):\n" + "".join(f"    {s}\n" for s in B)
    xs = "(Xb, Yb, alphas)" if extra else "(Xb, Yb)"
    src += f'''

def epoch(params, state, Xb, Yb{', alphas' if extra else ''}):
    """Xb (nb, d, bs), Yb (nb, k, bs): this epoch's mini-batches, columns are examples."""
    def body(carry, xs):
        p, s, C = step(*carry, *xs)
        return (p, s), C
    (params, state), costs = lax.scan(body, (params, state), {xs})
    return params, state, costs
'''
    return src


def jax_grad_epoch(L, opt, lam):
    def cost(params, x, y):
        a = x
        for j in range(0, len(params), 2):
            a = jax.nn.sigmoid(params[j] @ a + params[j + 1])
        e = a - y
        C = 0.5 * jnp.sum(e * e)
        return C + lam * sum(jnp.sum(W * W) for W in params[0::2]) if lam else C

    vg = jax.value_and_grad(cost)

    def step(params, state, x, y):
        C, g = vg(params, x, y)
        m = x.shape[1]
        if opt == "sgd":
            return tuple(p - (LR["sgd"] / m) * gp for p, gp in zip(params, g)), state, C
        if opt == "momentum":
            v = tuple(MU * vp - (LR["momentum"] / m) * gp for vp, gp in zip(state, g))
            return tuple(p + vp for p, vp in zip(params, v)), v, C
        m1, m2, t = state
        t = t + 1
        alpha = LR["adam"] * jnp.sqrt(1 - B2**t) / (1 - B1**t)
        g = tuple(gp / m for gp in g)
        m1 = tuple(B1 * a + (1 - B1) * gp for a, gp in zip(m1, g))
        m2 = tuple(B2 * a + (1 - B2) * (gp * gp) for a, gp in zip(m2, g))
        return tuple(p - alpha * a / (jnp.sqrt(b) + EPS) for p, a, b in zip(params, m1, m2)), (m1, m2, t), C

    def epoch(params, state, Xb, Yb):
        def body(carry, xs):
            p, s, C = step(*carry, *xs)
            return (p, s), C
        (params, state), costs = lax.scan(body, (params, state), (Xb, Yb))
        return params, state, costs
    return epoch


# ------------------------------------------------------------------ runners
class NumpyUnfused:
    def __init__(self, sizes, P0, bs, opt, lam, dt):
        from symgrad import mlp
        from symgrad.train import Trainer

        names = [f"{w}{l}" for l in range(2, len(sizes) + 1) for w in "Wb"]
        net = mlp(sizes, "sigmoid", "quadratic", level="layer", params=dict(zip(names, P0)))
        self.tr = Trainer(net, LR[opt], bs, optimizer=opt, momentum=MU, weight_decay=lam, dtype=dt)

    def epoch(self, Xe, Ye, Xb, Yb, alphas):
        self.tr.run_epoch(Xe, Ye)

    def params(self):
        return self.tr.params


class NumpyFused:
    def __init__(self, sizes, P0, bs, opt, lam, dt):
        ns = {}
        exec(compile(numpy_source(sizes, opt, lam), "<printed numpy>", "exec"), ns)
        self.fn, self.bs = ns["epoch"], bs
        self.p = [p.copy() for p in P0]
        self.s = [np.zeros_like(p) for p in P0] * {"sgd": 0, "momentum": 1, "adam": 2}[opt]
        self.s = [np.zeros_like(p) for p in self.s]
        self.t = 0
        self.ws = ns["workspace"](bs, np.dtype(dt))

    def epoch(self, Xe, Ye, Xb, Yb, alphas):
        self.t, _ = self.fn(*self.p, *self.s, self.t, Xe, Ye, self.bs, self.ws)

    def params(self):
        return self.p


class Jax:
    def __init__(self, fn, P0, opt, flat=False, host_alpha=False):
        self.fn = jax.jit(fn, donate_argnums=(0, 1))
        self.p = tuple(jnp.asarray(p) for p in P0)
        if opt == "sgd":
            self.s = ()
        elif opt == "momentum":
            self.s = tuple(jnp.zeros_like(p) for p in self.p)
        else:
            self.s = (tuple(jnp.zeros_like(p) for p in self.p), tuple(jnp.zeros_like(p) for p in self.p),
                      jnp.asarray(0, jnp.int32))
        if flat and opt == "adam":  # the printed step unpacks a flat state
            self.s = (*self.s[0], *self.s[1], self.s[2])
        self.host_alpha = host_alpha

    def epoch(self, Xe, Ye, Xb, Yb, alphas):
        extra = (alphas,) if self.host_alpha else ()
        self.p, self.s, costs = self.fn(self.p, self.s, Xb, Yb, *extra)
        jax.block_until_ready(self.p)

    def params(self):
        return [np.asarray(p) for p in self.p]


def exec_jax(src):
    ns = {"jax": jax, "jnp": jnp, "lax": lax}
    exec(compile(src, "<printed jax>", "exec"), ns)
    return ns["epoch"]


def main():
    sizes = NETS[A.net]
    if A.print_source:
        backend, opt, lam = A.print_source.split(":")
        print(numpy_source(sizes, opt, float(lam)) if backend == "numpy" else
              jax_source(sizes, opt, float(lam), alpha="host" if backend == "jax-host" else "scan"))
        return
    dt = A.dtype
    print(f"# optimizers.py dtype={dt} x64={jax.config.jax_enable_x64} net={A.net}; {machine()}", flush=True)
    (X, Y), _ = load(dt)
    n, L = X.shape[0], len(sizes)
    for bs in map(int, A.batches.split(",")):
        nb = n // bs
        print(f"\n## {A.net}, batch {bs}, {dt}: s/epoch (median of {A.epochs} after 3 untimed); "
              "max|Δp| vs numpy unfused after 3 epochs")
        print(f"{'optimizer':10s} {'λ':>7s} {'implementation':26s} {'s/epoch':>8s} {'× unfused':>9s} "
              f"{'× jax grad':>10s} {'max|Δp| @3':>10s}")
        for opt in ("sgd", "momentum", "adam"):
            for lam in (0.0, A.lam):
                P0 = params0(sizes, 0, dt)
                R = {"numpy unfused": NumpyUnfused(sizes, P0, bs, opt, lam, dt),
                     "numpy fused": NumpyFused(sizes, P0, bs, opt, lam, dt),
                     "jax grad": Jax(jax_grad_epoch(L, opt, lam), P0, opt)}
                if opt == "adam":
                    R["jax printed alpha-scan"] = Jax(exec_jax(jax_source(sizes, opt, lam, "scan")), P0, opt,
                                                      flat=True)
                    R["jax printed alpha-host"] = Jax(exec_jax(jax_source(sizes, opt, lam, "host")), P0, opt,
                                                      flat=True, host_alpha=True)
                else:
                    R["jax printed"] = Jax(exec_jax(jax_source(sizes, opt, lam)), P0, opt)
                times = {k: [] for k in R}
                at3 = {}
                for e, perm in enumerate(perms(n, 3 + A.epochs, seed=1)):
                    Xe, Ye = X[perm], Y[perm]
                    Xb = jnp.asarray(np.ascontiguousarray(Xe.reshape(nb, bs, -1).transpose(0, 2, 1)))
                    Yb = jnp.asarray(np.ascontiguousarray(Ye.reshape(nb, bs, -1).transpose(0, 2, 1)))
                    ts = np.arange(e * nb + 1, (e + 1) * nb + 1, dtype=np.float64)
                    alphas = jnp.asarray((LR["adam"] * np.sqrt(1 - B2**ts) / (1 - B1**ts)).astype(dt))
                    keys = list(R)
                    for k in keys[e % len(keys):] + keys[:e % len(keys)]:  # rotate: no implementation always first
                        r = R[k]
                        t0 = time.perf_counter()
                        r.epoch(Xe, Ye, Xb, Yb, alphas)
                        if e >= 3:
                            times[k].append(time.perf_counter() - t0)
                    if e == 2:
                        at3 = {k: [np.array(p) for p in r.params()] for k, r in R.items()}
                ref = median(times["numpy unfused"])
                jref = median(times["jax grad"])
                for k in R:
                    diff = max(float(np.max(np.abs(p - q))) for p, q in zip(at3[k], at3["numpy unfused"]))
                    t = median(times[k])
                    print(f"{opt:10s} {lam:7.0e} {k:26s} {t:8.4f} {t / ref:9.3f} {t / jref:10.3f} {diff:10.2e}",
                          flush=True)
    print(f"\npeak RSS {rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
