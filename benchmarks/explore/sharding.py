"""Issue 11, question 5: the scan epoch with the mini-batch sharded over 2 host CPU devices.

    .venv/bin/python benchmarks/explore/sharding.py                 # float64 (x64), 784-30-10, batch 10 and 100
    .venv/bin/python benchmarks/explore/sharding.py --dtype float32
    .venv/bin/python benchmarks/explore/sharding.py --hlo           # also print the collectives of the sharded HLO

Sets ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` before importing jax. Three ways of running
the same printed epoch (explicit backprop, SGD, lax.scan over pre-batched columns (nb, d, bs)):

* ``single``      — plain ``jax.jit``, arrays on device 0;
* ``gspmd``       — the same jitted function, the data put on the mesh with ``NamedSharding(mesh,
  P(None, None, "batch"))`` and the parameters replicated (``P()``); XLA's SPMD partitioner inserts the
  all-reduce of dW = δ aᵀ and db = δ 1 (checked in the compiled HLO);
* ``shard_map``   — ``jax.shard_map`` over the mesh: each device runs the step on its half of every
  mini-batch and the printed code sums the gradients with ``lax.psum(..., "batch")`` before the update.

Then: results against single-device (max |Δp| after 3 epochs), n = 8,005 (a last batch of 5 that
2 devices cannot split: run unsharded, or padded to 10 with a 0/1 mask), and s/epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import ETA, blas_threads, load, machine, median, params0, perms, rss_mb  # noqa: E402

blas_threads(1)
ap = argparse.ArgumentParser()
ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
ap.add_argument("--batches", default="10,100")
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--hlo", action="store_true")
A = ap.parse_args()

import numpy as np  # noqa: E402
import jax  # noqa: E402

if A.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: E402


def step(params, x, y, eta, mask=None, m=None, axis=None):
    """The printed straight-line step (784-30-10); psum over ``axis`` when run under shard_map."""
    W2, b2, W3, b3 = params
    a2 = jax.nn.sigmoid(W2 @ x + b2)
    a3 = jax.nn.sigmoid(W3 @ a2 + b3)
    e = a3 - y
    if mask is not None:  # padded examples (mask 0) contribute nothing
        e = e * mask
    C = 0.5 * jnp.vdot(e, e)
    d3 = e * a3 * (1 - a3)
    d2 = (W3.T @ d3) * a2 * (1 - a2)
    gW3, gb3 = d3 @ a2.T, d3.sum(axis=1, keepdims=True)
    gW2, gb2 = d2 @ x.T, d2.sum(axis=1, keepdims=True)
    if axis is not None:
        gW2, gb2, gW3, gb3, C = lax.psum((gW2, gb2, gW3, gb3, C), axis)
    k = eta / (x.shape[1] if m is None else m)
    return (W2 - k * gW2, b2 - k * gb2, W3 - k * gW3, b3 - k * gb3), C


def epoch(params, Xb, Yb, eta):
    return lax.scan(lambda p, xy: step(p, *xy, eta), params, (Xb, Yb))


def epoch_gather(params, X, Y, idx, eta):
    """The same epoch, each step gathering its columns X[i].T from the (replicated) data rows."""
    return lax.scan(lambda p, i: step(p, X[i].T, Y[i].T, eta), params, idx)


def main():
    dt = A.dtype
    devs = jax.devices()
    print(f"# sharding.py dtype={dt} x64={jax.config.jax_enable_x64}; {machine()}; devices {devs}", flush=True)
    mesh = Mesh(np.array(devs), ("batch",))
    rep = NamedSharding(mesh, P())
    bat = NamedSharding(mesh, P(None, None, "batch"))
    (X, Y), _ = load(dt)
    n = X.shape[0]
    eta = np.asarray(ETA, dt)
    single = jax.jit(epoch)
    gspmd = jax.jit(epoch, out_shardings=(rep, rep))  # in_shardings come from the committed inputs

    def local_epoch(params, Xb, Yb, eta):
        m = Xb.shape[2] * lax.axis_size("batch")  # global mini-batch size
        return lax.scan(lambda p, xy: step(p, *xy, eta, m=m, axis="batch"), params, (Xb, Yb))

    smap = jax.jit(jax.shard_map(local_epoch, mesh=mesh, in_specs=(P(), P(None, None, "batch"),
                                                                    P(None, None, "batch"), P()),
                                 out_specs=(P(), P())))
    single_g = jax.jit(epoch_gather)
    gspmd_g = jax.jit(epoch_gather, out_shardings=(rep, rep))
    Xs, Ys = jax.device_put(X), jax.device_put(Y)
    Xr, Yr = jax.device_put(X, rep), jax.device_put(Y, rep)  # the whole data set on both devices
    for bs in map(int, A.batches.split(",")):
        nb = n // bs
        P0 = tuple(jnp.asarray(p) for p in params0([784, 30, 10], 0, dt))
        st = {"single": P0, "gspmd": jax.device_put(P0, rep), "shard_map": jax.device_put(P0, rep),
              "single gather": P0, "gspmd gather": jax.device_put(P0, rep)}
        fns = {"single": single, "gspmd": gspmd, "shard_map": smap, "single gather": single_g,
               "gspmd gather": gspmd_g}
        times = {k: [] for k in fns}
        at3 = {}
        first = {}
        for e, perm in enumerate(perms(n, 3 + A.epochs, seed=1)):
            Xb = np.ascontiguousarray(X[perm].reshape(nb, bs, -1).transpose(0, 2, 1))
            Yb = np.ascontiguousarray(Y[perm].reshape(nb, bs, -1).transpose(0, 2, 1))
            data = {"single": (jnp.asarray(Xb), jnp.asarray(Yb))}
            data["gspmd"] = data["shard_map"] = (jax.device_put(Xb, bat), jax.device_put(Yb, bat))
            idx = perm.reshape(nb, bs)
            data["single gather"] = (Xs, Ys, jnp.asarray(idx))
            data["gspmd gather"] = (Xr, Yr, jax.device_put(idx, NamedSharding(mesh, P(None, "batch"))))
            for k, f in fns.items():
                t0 = time.perf_counter()
                out = f(st[k], *data[k], eta)
                jax.block_until_ready(out)
                dtime = time.perf_counter() - t0
                if e == 0:
                    first[k] = dtime
                if e >= 3:
                    times[k].append(dtime)
                st[k] = out[0]
            if e == 2:
                at3 = {k: [np.asarray(p) for p in v] for k, v in st.items()}
        print(f"\n## 784-30-10, batch {bs} ({bs // 2} per device), {dt}; gspmd/shard_map/single get host-built "
              f"(nb, d, bs) batches (not timed), '... gather' get X and the permutation")
        ref = median(times["single"])
        for k in fns:
            diff = max(float(np.max(np.abs(p - q))) for p, q in zip(at3[k], at3["single"]))
            print(f"{k:10s} {median(times[k]):8.4f} s/epoch ({median(times[k]) / ref:5.2f}× single)  "
                  f"first call (trace+compile+run) {first[k]:6.3f} s  max|Δp| vs single after 3 epochs {diff:.2e}")
        print("output shardings:", {k: str(st[k][0].sharding) for k in ("gspmd", "shard_map")})
        if A.hlo and bs == int(A.batches.split(",")[0]):
            for k in ("gspmd", "shard_map", "gspmd gather"):
                txt = fns[k].lower(st[k], *data[k], eta).compile().as_text()
                coll = [ln.strip()[:160] for ln in txt.splitlines()
                        if any(c in ln for c in ("all-reduce(", "all-gather(", "reduce-scatter(", "all-to-all(",
                                                 "collective-permute("))]
                print(f"{k}: {len(coll)} collective op(s) in the compiled HLO:")
                for c in coll:
                    print("   ", c)

    # ---------------------------------------------------------------- a last partial batch: n = 8,005, bs 10
    print("\n## n = 8,005, batch 10: 800 full batches (sharded scan) + a last batch of 5")
    Xn = np.concatenate([X, X[:5]])
    Yn = np.concatenate([Y, Y[:5]])
    n2, bs = Xn.shape[0], 10
    full = n2 - n2 % bs
    perm = perms(n2, 1, seed=7)[0]
    Xe, Ye = Xn[perm], Yn[perm]
    Xb = np.ascontiguousarray(Xe[:full].reshape(-1, bs, 784).transpose(0, 2, 1))
    Yb = np.ascontiguousarray(Ye[:full].reshape(-1, bs, 10).transpose(0, 2, 1))
    xt, yt = np.ascontiguousarray(Xe[full:].T), np.ascontiguousarray(Ye[full:].T)  # (784, 5), (10, 5)
    P0 = tuple(jnp.asarray(p) for p in params0([784, 30, 10], 0, dt))
    tail = jax.jit(step)
    # single device: scan + the tail step with m = 5
    p1, _ = single(P0, jnp.asarray(Xb), jnp.asarray(Yb), eta)
    p1, _ = tail(p1, jnp.asarray(xt), jnp.asarray(yt), eta)
    ref = [np.asarray(p) for p in p1]
    # sharded scan, then the tail (a) replicated, unsharded; (b) padded to 10 with a mask, sharded
    ps, _ = gspmd(jax.device_put(P0, rep), jax.device_put(Xb, bat), jax.device_put(Yb, bat), eta)
    try:
        jax.device_put(xt, NamedSharding(mesh, P(None, "batch")))
        print("a (784, 5) array put on P(None, 'batch') over 2 devices: accepted")
    except Exception as ex:  # noqa: BLE001
        print(f"a (784, 5) array put on P(None, 'batch') over 2 devices: {type(ex).__name__}: {str(ex)[:200]}")
    pa, _ = tail(ps, jax.device_put(xt, rep), jax.device_put(yt, rep), eta)
    pad = bs - xt.shape[1]
    xpad = np.concatenate([xt, np.zeros((784, pad), dt)], axis=1)
    ypad = np.concatenate([yt, np.zeros((10, pad), dt)], axis=1)
    mask = np.concatenate([np.ones((1, xt.shape[1]), dt), np.zeros((1, pad), dt)], axis=1)
    masked = jax.jit(step, static_argnames=("m",))
    pb, _ = masked(ps, jax.device_put(xpad, NamedSharding(mesh, P(None, "batch"))),
                   jax.device_put(ypad, NamedSharding(mesh, P(None, "batch"))), eta,
                   jax.device_put(mask, NamedSharding(mesh, P(None, "batch"))), m=xt.shape[1])
    for name, p in (("tail unsharded (replicated)", pa), ("tail padded to 10 + mask, sharded", pb)):
        diff = max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(p, ref))
        print(f"{name:36s} max|Δp| vs single device {diff:.2e}")
    # reproducibility of the sharded epoch
    outs = [gspmd(jax.device_put(P0, rep), jax.device_put(Xb, bat), jax.device_put(Yb, bat), eta)[0]
            for _ in range(3)]
    same = all(np.array_equal(np.asarray(a), np.asarray(b)) for o in outs[1:] for a, b in zip(o, outs[0]))
    print(f"sharded epoch run 3 times from the same start: bit-identical = {same}")
    print(f"\npeak RSS {rss_mb():.0f} MiB")


main()
