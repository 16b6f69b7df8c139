"""Issue 11's benchmark table, measured before any printer exists: NumPy, JAX and PyTorch side by side.

    .venv/bin/python benchmarks/explore/headline.py                 # float64 and float32 (a process each)
    .venv/bin/python benchmarks/explore/headline.py --dtype float32 --nets 784-30-10 --batches 10

One process per dtype (x64 on only for float64); in it, every implementation starts from the same
parameters and sees the same permutations; epochs are interleaved and the order rotates each epoch;
median of the timed epochs after one untimed (compile) epoch. One BLAS thread (threadpoolctl) and
XLA's default CPU threading.

* ``symgrad today``      — Trainer.run_epoch (generated gradients + in-place SGD, loop in train.py)
* ``hand NumPy``         — benchmarks/mnist_mlp.py's NumpyRef (generalised to any depth)
* ``printed NumPy``      — the recommended printed NumPy epoch: buffers + out=, η/m folded into δ^L, loop in
  the module (numpy_step.py "buf inline kfold")
* ``printed NumPy gemm`` — the same with the weight update as one ?gemm call (scipy.linalg.blas)
* ``hand JAX``           — jax.value_and_grad + lax.scan, batch gathered inside the scan from X and the
  permutation (the issue's "hand-written JAX")
* ``hand JAX hostT``     — the same, batches given as (nb, d, bs) columns built on the host
* ``printed JAX``        — the explicit backprop step in the scan, gather inside, params donated
* ``printed JAX hostT``  — the explicit step, batches given as (nb, d, bs)
* ``hand JAX unroll8``, ``printed JAX unroll8`` — the same with ``lax.scan(..., unroll=8)``
* ``PyTorch``            — eager autograd + torch.optim.SGD, 1 thread

Columns: loop = s/epoch of the epoch call (NumPy: given Xe = X[perm]; hostT: given the batches);
+shuffle = loop plus that implementation's shuffling work done outside the call (NumPy X[perm],
hostT: X[perm] → (nb, d, bs) + device_put; gather variants: nothing, the call does it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ap = argparse.ArgumentParser()
ap.add_argument("--dtype", choices=["float32", "float64"])
ap.add_argument("--nets", default="784-30-10,784-100-10,784-256-128-10")
ap.add_argument("--batches", default="10,100")
ap.add_argument("--epochs", type=int, default=7)
ap.add_argument("--no-torch", action="store_true")
ap.add_argument("--json", default="")
A = ap.parse_args()
if A.dtype is None:
    rc = 0
    for dt in ("float64", "float32"):
        rc |= subprocess.call([sys.executable, __file__, "--dtype", dt, *sys.argv[1:]])
    sys.exit(rc)

from common import NETS, jax_generators, load, machine, median, params0, perms, rss_mb  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import numpy_step as N  # noqa: E402

import jax  # noqa: E402

if A.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

J = jax_generators(A.dtype)


class JaxRunner:
    def __init__(self, name, fn, kind, P0, bs, donate):
        self.name, self.kind, self.bs = name, kind, bs
        self.f = jax.jit(fn, static_argnums=(5,), donate_argnums=(0,) if donate else ())
        self.state = tuple(jnp.asarray(p) for p in P0)
        self.p = None

    def epoch(self, data, perm, eta):
        out = self.f(self.state, *data[self.kind], perm, eta, self.bs)
        jax.block_until_ready(out)
        self.state = out[0]

    def params(self):
        return [np.asarray(p) for p in self.state]


def main():
    dt = A.dtype
    print(f"# headline.py dtype={dt} x64={jax.config.jax_enable_x64}; {machine()}; torch "
          f"{'off' if A.no_torch else 'on (1 thread)'}", flush=True)
    (X, Y), _ = load(dt)
    n = X.shape[0]
    Xd, Yd = jax.device_put(X), jax.device_put(Y)
    eta = np.asarray(3.0, dt)
    for net in A.nets.split(","):
        sizes = NETS[net]
        L = len(sizes)
        for bs in map(int, A.batches.split(",")):
            P0 = params0(sizes, 0, dt)
            R = [N.SymgradToday("symgrad today", sizes, P0, bs, dt, 1),
                 N.HandWritten("hand NumPy", sizes, P0, bs, dt, 1),
                 N.Printed("printed NumPy", sizes, P0, bs, dt, 1, style="buf", loop="inline", kfold=True),
                 N.Printed("printed NumPy gemm", sizes, P0, bs, dt, 1, style="buf", loop="inline", kfold=True,
                           gemm=True),
                 JaxRunner("hand JAX", J["make_grad_epoch"](L, "cols", "gather"), "gather", P0, bs, False),
                 JaxRunner("hand JAX hostT", J["make_grad_epoch"](L, "cols", "hostT"), "hostT", P0, bs, False),
                 JaxRunner("printed JAX", J["exec_source"](J["printed_source"](L, data="gather"))["epoch"],
                           "gather", P0, bs, True),
                 JaxRunner("printed JAX hostT", J["exec_source"](J["printed_source"](L, data="hostT"))["epoch"],
                           "hostT", P0, bs, True),
                 JaxRunner("hand JAX unroll8", J["make_grad_epoch"](L, "cols", "gather", unroll=8), "gather", P0, bs,
                           False),
                 JaxRunner("printed JAX unroll8",
                           J["exec_source"](J["printed_source"](L, data="gather", unroll=8))["epoch"],
                           "gather", P0, bs, True)]
            if not A.no_torch:
                R.append(N.Torch("PyTorch", sizes, P0, bs, dt, 1))
            loop = {r.name: [] for r in R}
            first = {}
            sh_np, sh_hostT = [], []
            for e, perm in enumerate(perms(n, A.epochs + 1, seed=1)):
                t = time.perf_counter()
                Xe, Ye = X[perm], Y[perm]
                sh_np.append(time.perf_counter() - t)
                t = time.perf_counter()
                XbT = jax.device_put(np.ascontiguousarray(X[perm].reshape(-1, bs, X.shape[1]).transpose(0, 2, 1)))
                YbT = jax.device_put(np.ascontiguousarray(Y[perm].reshape(-1, bs, Y.shape[1]).transpose(0, 2, 1)))
                jax.block_until_ready((XbT, YbT))
                sh_hostT.append(time.perf_counter() - t)
                data = {"gather": (Xd, Yd), "hostT": (XbT, YbT)}
                jperm = jnp.asarray(perm)
                for r in R[e % len(R):] + R[:e % len(R)]:
                    with threadpool_limits(limits=1, user_api="blas"):
                        t = time.perf_counter()
                        if isinstance(r, JaxRunner):
                            r.epoch(data, jperm, eta)
                        else:
                            r.epoch(Xe, Ye, None, None)
                        d = time.perf_counter() - t
                    if e == 0:
                        first[r.name] = d
                    else:
                        loop[r.name].append(d)
            shuffle = {"gather": 0.0, "hostT": median(sh_hostT[1:]), "numpy": median(sh_np[1:])}
            ref_np = median(loop["hand NumPy"]) + shuffle["numpy"]
            ref_jax = median(loop["hand JAX"])
            refp = [np.asarray(p) for p in R[1].p]
            print(f"\n## {net}, batch {bs}, {dt}: s/epoch, median of {A.epochs}; NumPy X[perm] "
                  f"{shuffle['numpy']:.4f} s, hostT batches {shuffle['hostT']:.4f} s")
            print(f"{'implementation':20s} {'loop':>8s} {'+shuffle':>9s} {'× hand NumPy':>12s} {'× hand JAX':>10s} "
                  f"{'first call':>10s} {'max|Δp|':>9s}")
            for r in R:
                kind = r.kind if isinstance(r, JaxRunner) else "numpy"
                lp = median(loop[r.name])
                tot = lp + shuffle[kind]
                ps = r.params() if isinstance(r, JaxRunner) else [np.asarray(p) for p in r.p]
                diff = max(float(np.max(np.abs(p - q))) for p, q in zip(ps, refp))
                print(f"{r.name:20s} {lp:8.4f} {tot:9.4f} {tot / ref_np:12.3f} {tot / ref_jax:10.3f} "
                      f"{first[r.name]:10.3f} {diff:9.2e}", flush=True)
                if A.json:
                    with open(A.json, "a") as f:
                        f.write(json.dumps({"dtype": dt, "net": net, "bs": bs, "impl": r.name, "loop": lp,
                                            "total": tot, "x_np": tot / ref_np, "x_jax": tot / ref_jax,
                                            "first": first[r.name], "maxdiff": diff}) + "\n")
    print(f"\npeak RSS {rss_mb():.0f} MiB")


main()
