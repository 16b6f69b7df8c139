"""Issue 11: how big is the program jax.grad traces, against the printed backprop step? (deterministic counts)

    .venv/bin/python benchmarks/explore/program_size.py [--dtype float32]

For one SGD step (batch 10 and 100) of each network: jaxpr equations of the traced step, HLO
instructions of the optimized (compiled) module, and XLA's own cost analysis (flops, bytes accessed)
of the compiled step. Timing-free, so it does not depend on the load of the machine.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ap = argparse.ArgumentParser()
ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
A = ap.parse_args()

import numpy as np  # noqa: E402
import jax  # noqa: E402

if A.dtype == "float64":
    jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

from common import NETS, jax_generators, params0  # noqa: E402

G = jax_generators(A.dtype)


def grad_step(L):
    def cost(params, x, y):
        a = x
        for j in range(0, len(params), 2):
            a = jax.nn.sigmoid(params[j] @ a + params[j + 1])
        e = a - y
        return 0.5 * jnp.sum(e * e)

    vg = jax.value_and_grad(cost)

    def step(params, x, y, eta):
        C, g = vg(params, x, y)
        k = eta / x.shape[1]
        return tuple(p - k * gp for p, gp in zip(params, g)), C
    return step


def count_hlo(txt):
    n = 0
    for ln in txt.splitlines():
        s = ln.strip()
        if "=" in s and not s.startswith(("HloModule", "ENTRY", "ROOT", "}", "//")) and "(" in s:
            n += 1
        elif s.startswith("ROOT"):
            n += 1
    return n


def main():
    dt = A.dtype
    print(f"# program_size.py dtype={dt}, jax {jax.__version__}")
    print(f"{'net':15s} {'bs':>3s} {'step':8s} {'jaxpr eqns':>10s} {'HLO instrs':>10s} {'fusions':>8s} "
          f"{'flops':>12s} {'bytes accessed':>14s}")
    for net, sizes in NETS.items():
        L = len(sizes)
        for bs in (10, 100):
            P0 = tuple(jnp.asarray(p) for p in params0(sizes, 0, dt))
            x = jnp.zeros((784, bs), dt)
            y = jnp.zeros((10, bs), dt)
            eta = np.asarray(3.0, dt)
            printed = G["exec_source"](G["printed_source"](L))["step"]
            for name, f in (("jax.grad", grad_step(L)), ("printed", printed)):
                jaxpr = jax.make_jaxpr(f)(P0, x, y, eta)
                neq = len(jaxpr.jaxpr.eqns)
                sub = sum(len(e.params["jaxpr"].jaxpr.eqns) for e in jaxpr.jaxpr.eqns
                          if "jaxpr" in e.params and hasattr(e.params["jaxpr"], "jaxpr"))
                comp = jax.jit(f).lower(P0, x, y, eta).compile()
                txt = comp.as_text()
                ca = comp.cost_analysis()
                ca = ca[0] if isinstance(ca, list) else ca
                fus = txt.count(" fusion(")
                print(f"{net:15s} {bs:3d} {name:8s} {neq:6d}+{sub:<3d} {count_hlo(txt):10d} {fus:8d} "
                      f"{ca.get('flops', float('nan')):12.0f} {ca.get('bytes accessed', float('nan')):14.0f}")


main()
