"""Issue 11, question 6: reproducibility of the JAX epoch and NumPy-vs-JAX agreement.

    .venv/bin/python benchmarks/explore/repro.py

1. Bit-reproducibility: 3 epochs (784-30-10, batch 10 and 100, fixed start and permutations) of
   the jax.grad and the printed JAX epochs, float32 and float64, repeated in one process and in fresh
   processes (with XLA's default CPU threading, with ``--xla_cpu_multi_thread_eigen=false``, and with
   2 forced host devices): the SHA-256 of the final parameters is compared.
2. Agreement: the same 3 epochs in NumPy (symgrad today, the hand-written loop, the printed buffered
   step) and JAX (grad, printed), float64 and float32: max |Δp| and max relative difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def child(dtype: str, bs: int) -> dict:
    """Run 3 JAX epochs of both forms twice; return hashes and the parameters' digests."""
    from common import blas_threads, load, params0, perms

    blas_threads(1)
    import numpy as np
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from common import jax_generators

    ns = jax_generators(dtype)
    (X, Y), _ = load(dtype)
    out = {}
    for name, fn in (("grad", ns["make_grad_epoch"](3, "cols", "hostT")),
                     ("printed", ns["exec_source"](ns["printed_source"](3, data="hostT"))["epoch"])):
        j = jax.jit(fn, static_argnums=(5,))
        hs = []
        for rep in range(2):
            p = tuple(jnp.asarray(a) for a in params0([784, 30, 10], 0, dtype))
            for perm in perms(8000, 3, seed=1):
                Xb = np.ascontiguousarray(X[perm].reshape(-1, bs, 784).transpose(0, 2, 1))
                Yb = np.ascontiguousarray(Y[perm].reshape(-1, bs, 10).transpose(0, 2, 1))
                p, _ = j(p, jnp.asarray(Xb), jnp.asarray(Yb), jnp.asarray(perm), np.asarray(3.0, dtype), bs)
            h = hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in p)).hexdigest()[:16]
            hs.append(h)
        out[name] = hs
    return out


def agreement(dtype: str, bs: int):
    from common import blas_threads, load, params0, perms

    blas_threads(1)
    import numpy as np
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from common import jax_generators

    J = jax_generators(dtype)
    import numpy_step as N

    (X, Y), _ = load(dtype)
    sizes = [784, 30, 10]
    P0 = params0(sizes, 0, dtype)
    R = {"numpy symgrad today": N.SymgradToday("", sizes, P0, bs, dtype, 1),
         "numpy hand-written": N.HandWritten("", sizes, P0, bs, dtype, 1),
         "numpy printed buf kfold": N.Printed("", sizes, P0, bs, dtype, 1, style="buf", loop="inline", kfold=True),
         "numpy printed plain": N.Printed("", sizes, P0, bs, dtype, 1, style="plain", loop="inline")}
    jf = {"jax grad": jax.jit(J["make_grad_epoch"](3, "cols", "hostT"), static_argnums=(5,)),
          "jax printed": jax.jit(J["exec_source"](J["printed_source"](3, data="hostT"))["epoch"], static_argnums=(5,))}
    jp = {k: tuple(jnp.asarray(a) for a in P0) for k in jf}
    for perm in perms(8000, 3, seed=1):
        Xe, Ye = X[perm], Y[perm]
        for r in R.values():
            r.epoch(Xe, Ye, None, None)
        Xb = jnp.asarray(np.ascontiguousarray(Xe.reshape(-1, bs, 784).transpose(0, 2, 1)))
        Yb = jnp.asarray(np.ascontiguousarray(Ye.reshape(-1, bs, 10).transpose(0, 2, 1)))
        for k, f in jf.items():
            jp[k], _ = f(jp[k], Xb, Yb, jnp.asarray(perm), np.asarray(3.0, dtype), bs)
    final = {k: [np.asarray(a) for a in r.p] for k, r in R.items()}
    final.update({k: [np.asarray(a) for a in v] for k, v in jp.items()})
    ref = final["numpy symgrad today"]
    rows = []
    for k, ps in final.items():
        d = max(float(np.max(np.abs(p - q))) for p, q in zip(ps, ref))
        rel = max(float(np.max(np.abs(p - q) / (np.abs(q) + 1e-300))) for p, q in zip(ps, ref))
        rows.append((k, d, rel))
    return rows


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    from common import machine

    print(f"# repro.py; {machine()}")
    print("\n## 1. SHA-256 (first 16 hex) of the parameters after 3 JAX epochs, 784-30-10; "
          "[run 1, run 2] in each process")
    envs = {"default": {}, "multi_thread_eigen=false": {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
            "2 host devices": {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}}
    for dtype in ("float64", "float32"):
        for bs in (10, 100):
            seen = {}
            for label, extra in [("default", envs["default"]), ("default (again)", envs["default"]),
                                 ("multi_thread_eigen=false", envs["multi_thread_eigen=false"]),
                                 ("2 host devices", envs["2 host devices"])]:
                env = {**os.environ, **extra}
                out = subprocess.run([sys.executable, __file__, "--child", dtype, str(bs)], env=env,
                                     capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-2000:])
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                seen[label] = r
                print(f"{dtype} batch {bs:3d} {label:26s} grad {r['grad']}  printed {r['printed']}", flush=True)
            allh = {h for r in seen.values() for h in r["grad"]}
            allp = {h for r in seen.values() for h in r["printed"]}
            print(f"   -> grad: {len(allh)} distinct hash(es), printed: {len(allp)} distinct hash(es) "
                  f"across runs and processes")
    print("\n## 2. after 3 epochs from the same start and permutations, against 'numpy symgrad today'")
    for dtype in ("float64", "float32"):
        for bs in (10, 100):
            code = (f"import sys; sys.path.insert(0, {HERE!r}); import repro; "
                    f"print(repr(repro.agreement({dtype!r}, {bs})))")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-3000:])
                continue
            rows = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's repr
            print(f"\n{dtype}, batch {bs}:  {'implementation':26s} {'max|Δp|':>10s} {'max rel':>10s}")
            for k, d, rel in rows:
                print(f"{'':20s}{k:26s} {d:10.2e} {rel:10.2e}")


if __name__ == "__main__":
    main()
