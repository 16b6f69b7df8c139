"""Issue 11, questions 1–2: hand-written JAX (jax.grad + lax.scan) against the straight-line program symgrad would print.

    .venv/bin/python benchmarks/explore/jax_epoch.py                 # float32 and float64 (two subprocesses)
    .venv/bin/python benchmarks/explore/jax_epoch.py --dtype float64 --nets 784-30-10 --batches 10
    .venv/bin/python benchmarks/explore/jax_epoch.py --xla-threads 1 # XLA CPU on one thread

Every variant is a jitted epoch: a ``lax.scan`` over the 8,000/bs mini-batches of one shuffled order,
SGD w -> w - (η/m) ∂C/∂w, the quadratic cost summed over the batch, sigmoid layers. Variants are
interleaved epoch by epoch in one process (the order rotates each epoch); the first call after compiling is not timed. float64
switches ``jax_enable_x64`` on (in its own process); float32 runs with it off.

Names: ``grad`` = hand-written JAX (``jax.value_and_grad`` of the cost), ``printed`` = the explicit
backprop formulas (what symgrad prints). Data: ``gather`` = X (n, d) and the permutation go in, each
step gathers its rows (``X[idx]``); ``pre`` = the jitted epoch permutes once (``X[perm]``), reshapes to
(nb, bs, d) and scans over it; ``host`` = the caller passes the batches already permuted (NumPy
``X[perm]`` + transfer, timed separately, like benchmarks/mnist_mlp.py which times only the loop).
Layout ``cols`` = examples are columns (W @ x + b, symgrad's convention), ``rows`` = examples are rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", choices=["float32", "float64"])
    ap.add_argument("--nets", default="784-30-10,784-100-10,784-256-128-10")
    ap.add_argument("--batches", default="10,100")
    ap.add_argument("--epochs", type=int, default=7, help="timed epochs (median), after one untimed")
    ap.add_argument("--xla-threads", type=int, default=0, help="1: XLA CPU single-threaded (0: XLA default)")
    ap.add_argument("--variants", default="", help="comma list of variant names (default: all)")
    ap.add_argument("--json", default="", help="append results as JSON lines to this file")
    ap.add_argument("--x64-float32", action="store_true", help="run float32 with jax_enable_x64 on (check)")
    return ap.parse_args()


a = parse()
if a.dtype is None:  # both dtypes, each in its own process (x64 is process-wide)
    rc = 0
    for dt in ("float32", "float64"):
        rc |= subprocess.call([sys.executable, __file__, "--dtype", dt, *sys.argv[1:]])
    sys.exit(rc)

sys.path.insert(0, HERE)
from common import ETA, NETS, blas_threads, load, machine, median, params0, perms, rss_mb  # noqa: E402

blas_threads(1)
if a.xla_threads == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false").strip()

import numpy as np  # noqa: E402
import jax  # noqa: E402

if a.dtype == "float64" or a.x64_float32:
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402


# ------------------------------------------------------------------ the printed program
def printed_source(L: int, layout="cols", sig="nn", bsum="sum", data="gather", cost=True, fuse=True,
                   unroll=1) -> str:
    """The straight-line step + scan epoch symgrad would print for an L-layer sigmoid/quadratic MLP.

    Returned as source text and exec'd, as the printer's output would be.
    """
    ls = range(2, L + 1)
    P = ", ".join(f"W{l}, b{l}" for l in ls)

    def S(z):
        return {"nn": f"jax.nn.sigmoid({z})", "tanh": f"0.5 + 0.5*jnp.tanh(0.5*{z})",
                "exp": f"1/(1 + jnp.exp(-{z}))"}[sig]

    body = [f"    {P} = params"]
    prev = "x"
    for l in ls:
        if layout == "cols":
            body.append(f"    z{l} = W{l} @ {prev} + b{l}")
        else:
            body.append(f"    z{l} = {prev} @ W{l}.T + b{l}.T")
        body.append(f"    a{l} = {S(f'z{l}')}")
        prev = f"a{l}"
    body.append(f"    e = a{L} - y")
    if cost:
        body.append("    C = 0.5*jnp.vdot(e, e)")
    body.append(f"    d{L} = e*a{L}*(1 - a{L})")
    for l in range(L - 1, 1, -1):
        if layout == "cols":
            body.append(f"    d{l} = (W{l + 1}.T @ d{l + 1})*a{l}*(1 - a{l})")
        else:
            body.append(f"    d{l} = (d{l + 1} @ W{l + 1})*a{l}*(1 - a{l})")
    m = "x.shape[1]" if layout == "cols" else "x.shape[0]"
    body.append(f"    k = eta/{m}")
    for l in range(L, 1, -1):
        a_prev = "x" if l == 2 else f"a{l - 1}"
        if layout == "cols":
            gW = f"d{l} @ {a_prev}.T"
            gb = (f"d{l}.sum(axis=1, keepdims=True)" if bsum == "sum"
                  else f"d{l} @ jnp.ones(({m}, 1), d{l}.dtype)")
        else:
            gW = f"d{l}.T @ {a_prev}"
            gb = (f"d{l}.sum(axis=0)[:, None]" if bsum == "sum"
                  else f"d{l}.T @ jnp.ones(({m}, 1), d{l}.dtype)")
        if fuse:
            body.append(f"    W{l} = W{l} - k*({gW})")
            body.append(f"    b{l} = b{l} - k*{gb}")
        else:
            body.append(f"    dW{l} = {gW}")
            body.append(f"    db{l} = {gb}")
    if not fuse:
        for l in range(L, 1, -1):
            body.append(f"    W{l} = W{l} - k*dW{l}")
            body.append(f"    b{l} = b{l} - k*db{l}")
    ret = f"({P})"
    body.append(f"    return {ret}, {'C' if cost else 'jnp.zeros((), x.dtype)'}")
    step = "def step(params, x, y, eta):\n" + "\n".join(body) + "\n"
    xs_of = {"cols": "X[i].T, Y[i].T", "rows": "X[i], Y[i]"}[layout]
    un = f", unroll={unroll}" if unroll != 1 else ""
    if data == "gatherT":  # X (d, n), Y (k, n): examples as columns, a batch is X[:, i]
        epoch = f'''
def epoch(params, X, Y, perm, eta, bs):
    idx = perm.reshape(-1, bs)
    def body(p, i):
        return step(p, X[:, i], Y[:, i], eta)
    return lax.scan(body, params, idx{un})
'''
    elif data == "gather":
        epoch = f'''
def epoch(params, X, Y, perm, eta, bs):
    # X (n, d), Y (n, k): examples as rows; perm: this epoch's order (n,), n a multiple of bs here
    idx = perm.reshape(-1, bs)
    def body(p, i):
        return step(p, {xs_of}, eta)
    return lax.scan(body, params, idx{un})
'''
    else:
        tr = "Xb.transpose(0, 2, 1), Yb.transpose(0, 2, 1)" if layout == "cols" and data != "hostT" else "Xb, Yb"
        pre = ("    Xb = X[perm].reshape(-1, bs, X.shape[1])\n    Yb = Y[perm].reshape(-1, bs, Y.shape[1])\n"
               if data == "pre" else "")
        sig_ = "X, Y, perm" if data == "pre" else "Xb, Yb, perm"
        epoch = f'''
def epoch(params, {sig_}, eta, bs):
{pre}    def body(p, xy):
        return step(p, *xy, eta)
    return lax.scan(body, params, ({tr}){un})
'''
    return step + epoch


def exec_source(src: str):
    ns = {"jax": jax, "jnp": jnp, "lax": lax}
    exec(compile(src, "<printed>", "exec"), ns)
    return ns


# ------------------------------------------------------------------ the jax.grad reference
def make_grad_epoch(L: int, layout="cols", data="gather", unroll=1):
    def cost(params, x, y):
        a_ = x
        for j in range(0, len(params), 2):
            W, b = params[j], params[j + 1]
            a_ = jax.nn.sigmoid(W @ a_ + b) if layout == "cols" else jax.nn.sigmoid(a_ @ W.T + b.T)
        e = a_ - y
        return 0.5 * jnp.sum(e * e)

    vg = jax.value_and_grad(cost)

    def step(params, x, y, eta):
        C, g = vg(params, x, y)
        k = eta / (x.shape[1] if layout == "cols" else x.shape[0])
        return tuple(p - k * gp for p, gp in zip(params, g)), C

    if data == "gatherT":
        def epoch(params, X, Y, perm, eta, bs):
            idx = perm.reshape(-1, bs)

            def body(p, i):
                return step(p, X[:, i], Y[:, i], eta)
            return lax.scan(body, params, idx, unroll=unroll)
    elif data == "gather":
        def epoch(params, X, Y, perm, eta, bs):
            idx = perm.reshape(-1, bs)

            def body(p, i):
                x, y = (X[i].T, Y[i].T) if layout == "cols" else (X[i], Y[i])
                return step(p, x, y, eta)
            return lax.scan(body, params, idx, unroll=unroll)
    else:
        def epoch(params, X, Y, perm, eta, bs):
            if data == "pre":
                X = X[perm].reshape(-1, bs, X.shape[1])
                Y = Y[perm].reshape(-1, bs, Y.shape[1])
            xs = (X.transpose(0, 2, 1), Y.transpose(0, 2, 1)) if layout == "cols" and data != "hostT" else (X, Y)

            def body(p, xy):
                return step(p, *xy, eta)
            return lax.scan(body, params, xs, unroll=unroll)
    return epoch


# ------------------------------------------------------------------ variants
def variants(L):
    """name -> (epoch function, data kind, jit options)."""
    V = {}
    V["grad cols gather"] = (make_grad_epoch(L, "cols", "gather"), "gather", {})
    V["grad cols gather donate"] = (make_grad_epoch(L, "cols", "gather"), "gather", {"donate_argnums": (0,)})
    V["grad cols pre"] = (make_grad_epoch(L, "cols", "pre"), "pre", {})
    V["grad cols host"] = (make_grad_epoch(L, "cols", "host"), "host", {})
    V["grad cols gatherT"] = (make_grad_epoch(L, "cols", "gatherT"), "gatherT", {})
    V["grad cols hostT"] = (make_grad_epoch(L, "cols", "hostT"), "hostT", {})
    V["grad rows gather"] = (make_grad_epoch(L, "rows", "gather"), "gather", {})
    V["grad rows host"] = (make_grad_epoch(L, "rows", "host"), "host", {})
    opts = {
        "printed cols gather": dict(layout="cols", data="gather"),
        "printed cols gather donate": dict(layout="cols", data="gather"),
        "printed cols pre": dict(layout="cols", data="pre"),
        "printed cols host": dict(layout="cols", data="host"),
        "printed cols gatherT": dict(layout="cols", data="gatherT"),
        "printed cols hostT": dict(layout="cols", data="hostT"),
        "printed rows gather": dict(layout="rows", data="gather"),
        "printed rows host": dict(layout="rows", data="host"),
        "printed cols gather tanh-sigmoid": dict(layout="cols", data="gather", sig="tanh"),
        "printed cols gather exp-sigmoid": dict(layout="cols", data="gather", sig="exp"),
        "printed cols gather @ones": dict(layout="cols", data="gather", bsum="ones"),
        "printed cols gather unfused": dict(layout="cols", data="gather", fuse=False),
        "printed cols gather no-cost": dict(layout="cols", data="gather", cost=False),
        "printed cols gather unroll2": dict(layout="cols", data="gather", unroll=2),
        "printed cols gather unroll8": dict(layout="cols", data="gather", unroll=8),
        "printed cols hostT unroll2": dict(layout="cols", data="hostT", unroll=2),
        "printed cols hostT unroll8": dict(layout="cols", data="hostT", unroll=8),
    }
    for name, o in opts.items():
        ns = exec_source(printed_source(L, **o))
        V[name] = (ns["epoch"], o["data"], {"donate_argnums": (0,)} if "donate" in name else {})
    return V


def main():
    dt = a.dtype
    print(f"# jax_epoch.py dtype={dt} x64={jax.config.jax_enable_x64} xla_threads={a.xla_threads or 'default'}; "
          f"{machine()}; devices {jax.devices()}", flush=True)
    (X, Y), _ = load(dt)
    n = X.shape[0]
    only = [v for v in a.variants.split(",") if v]
    for net in a.nets.split(","):
        sizes = NETS[net]
        L = len(sizes)
        V = variants(L)
        if only:
            V = {k: v for k, v in V.items() if k in only or k == "grad cols gather"}
        for bs in map(int, a.batches.split(",")):
            eta = np.asarray(ETA, dt)
            Xd, Yd = jax.device_put(X), jax.device_put(Y)
            P0 = tuple(jnp.asarray(p) for p in params0(sizes, 0, dt))
            E = perms(n, a.epochs + 1, seed=1)
            jitted, compile_s, state, times, host_s = {}, {}, {}, {k: [] for k in V}, []
            cpu = {k: [] for k in V}

            XdT, YdT = jax.device_put(np.ascontiguousarray(X.T)), jax.device_put(np.ascontiguousarray(Y.T))

            def args_for(kind, perm, params):
                if kind == "host":
                    Xb = jax.device_put(X[perm].reshape(-1, bs, X.shape[1]))
                    Yb = jax.device_put(Y[perm].reshape(-1, bs, Y.shape[1]))
                    return (params, Xb, Yb, jnp.asarray(perm), eta)
                if kind == "hostT":  # (nb, d, bs): each batch already columns-as-examples
                    Xb = jax.device_put(np.ascontiguousarray(X[perm].reshape(-1, bs, X.shape[1]).transpose(0, 2, 1)))
                    Yb = jax.device_put(np.ascontiguousarray(Y[perm].reshape(-1, bs, Y.shape[1]).transpose(0, 2, 1)))
                    return (params, Xb, Yb, jnp.asarray(perm), eta)
                if kind == "gatherT":
                    return (params, XdT, YdT, jnp.asarray(perm), eta)
                return (params, Xd, Yd, jnp.asarray(perm), eta)

            for name, (fn, kind, opts) in V.items():
                j = jax.jit(fn, static_argnums=(5,), **opts)
                args = args_for(kind, E[0], tuple(jnp.array(p) for p in P0))
                t0 = time.perf_counter()
                lowered = j.lower(*args, bs)
                t1 = time.perf_counter()
                comp = lowered.compile()
                t2 = time.perf_counter()
                jitted[name] = comp
                compile_s[name] = (t1 - t0, t2 - t1)
                out = comp(*args)  # untimed first epoch (perm 0)
                jax.block_until_ready(out)
                state[name] = out[0]
            for e in range(1, a.epochs + 1):
                perm = E[e]
                th = time.perf_counter()
                hostargs = args_for("host", perm, None)
                jax.block_until_ready(hostargs[1:3])
                host_s.append(time.perf_counter() - th)
                hostTargs = args_for("hostT", perm, None)
                jperm = jnp.asarray(perm)
                names = list(V)
                names = names[e % len(names):] + names[:e % len(names)]  # rotate: no variant always first
                for name in names:
                    fn, kind, opts = V[name]
                    data = {"host": hostargs[1:3], "hostT": hostTargs[1:3], "gatherT": (XdT, YdT)}.get(kind, (Xd, Yd))
                    args = (state[name], *data, jperm, eta)
                    t0, c0 = time.perf_counter(), time.process_time()
                    out = jitted[name](*args)
                    jax.block_until_ready(out)
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
                    state[name] = out[0]
            ref = median(times["grad cols gather"])
            cref = median(cpu["grad cols gather"])
            refp = [np.asarray(p) for p in state["grad cols gather"]]
            print(f"\n## {net}, batch {bs}, {dt}: s/epoch median of {a.epochs} "
                  f"(host X[perm]+device_put for 'host' rows: {median(host_s):.4f} s, not included)")
            print(f"{'variant':34s} {'s/epoch':>8s} {'× grad':>7s} {'min':>8s} {'cpu s':>7s} {'cpu ×':>6s} {'trace+lower':>11s} "
                  f"{'compile':>8s} {'max|Δp| vs grad':>15s}")
            for name in V:
                t = median(times[name])
                diff = max(float(np.max(np.abs(np.asarray(p) - r))) for p, r in zip(state[name], refp))
                tl, tc = compile_s[name]
                c = median(cpu[name])
                print(f"{name:34s} {t:8.4f} {t / ref:7.3f} {min(times[name]):8.4f} {c:7.4f} {c / cref:6.3f} {tl:11.3f} {tc:8.3f} "
                      f"{diff:15.2e}", flush=True)
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps({"script": "jax_epoch", "dtype": dt, "net": net, "bs": bs,
                                            "variant": name, "s": t, "ratio": t / ref, "cpu": c, "cpu_ratio": c / cref, "min": min(times[name]),
                                            "trace_lower": tl, "compile": tc, "maxdiff": diff,
                                            "xla_threads": a.xla_threads, "host_s": median(host_s)}) + "\n")
    print(f"\npeak RSS {rss_mb():.0f} MiB")


main()
