"""Issue 11: how fast do two correct implementations drift apart? (for choosing test tolerances)

    .venv/bin/python benchmarks/explore/divergence.py

784-30-10, float64, one permutation; for each optimizer the parameters of ``numpy unfused`` (today's
Trainer), ``numpy fused`` (printed NumPy) and ``jax printed`` are compared after 1, 10, 100, 800 steps
(batch 10) and 1, 10, 80 steps (batch 100) from the same start. Rounding differences of ~1e-16 are
amplified by the training dynamics (η = 3 SGD, μ = 0.9 momentum η = 0.5, Adam η = 0.01).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.argv = [sys.argv[0], "--dtype", "float64"]
import optimizers as O  # noqa: E402  (its argparse reads the sys.argv above; x64 on)

import numpy as np  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from common import load, params0, perms  # noqa: E402


def main():
    (X, Y), _ = load("float64")
    sizes = [784, 30, 10]
    perm = perms(8000, 1, seed=1)[0]
    print("# divergence.py: max|Δp| against numpy unfused (Trainer) after N steps, float64, 784-30-10")
    for bs, steps in ((10, (1, 10, 100, 800)), (100, (1, 10, 80))):
        for opt in ("sgd", "momentum", "adam"):
            row = []
            for N in steps:
                Xe, Ye = X[perm][: N * bs], Y[perm][: N * bs]
                P0 = params0(sizes, 0, "float64")
                R = {"numpy unfused": O.NumpyUnfused(sizes, P0, bs, opt, 0.0, "float64"),
                     "numpy fused": O.NumpyFused(sizes, P0, bs, opt, 0.0, "float64"),
                     "jax printed": O.Jax(O.exec_jax(O.jax_source(sizes, opt, 0.0)), P0, opt, flat=True)}
                Xb = jnp.asarray(np.ascontiguousarray(Xe.reshape(N, bs, -1).transpose(0, 2, 1)))
                Yb = jnp.asarray(np.ascontiguousarray(Ye.reshape(N, bs, -1).transpose(0, 2, 1)))
                for r in R.values():
                    r.epoch(Xe, Ye, Xb, Yb, None)
                ref = [np.asarray(p) for p in R["numpy unfused"].params()]
                d = {k: max(float(np.max(np.abs(np.asarray(p) - q))) for p, q in zip(r.params(), ref))
                     for k, r in R.items() if k != "numpy unfused"}
                row.append(f"N={N}: fused {d['numpy fused']:.1e}, jax {d['jax printed']:.1e}")
            print(f"batch {bs:3d} {opt:9s} " + " | ".join(row), flush=True)


main()
