"""Runs the SGD code templates of the findings file (its ```python blocks) against the hand-written NumPy loop.

    .venv/bin/python benchmarks/explore/check_templates.py [/work/notes/jax-findings.md]

n = 8,005 (a last batch of 5), 784-30-10, float64, 3 epochs; prints max |Δp| of the NumPy template, the JAX
template (epoch + step_jit for the tail) and, for scale, of symgrad today, against the hand-written loop.
"""
import re, sys, os
os.environ["OPENBLAS_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from common import load, params0, perms
import numpy_step as N
md = open(sys.argv[1] if len(sys.argv) > 1 else "/work/notes/jax-findings.md").read()
blocks = re.findall(r"```python\n(.*?)```", md, re.S)
np_src = next(b for b in blocks if "def workspace" in b)
jax_src = next(b for b in blocks if "def epoch(params, state, X, Y, perm, eta, bs)" in b)
ns_np, ns_j = {}, {}
exec(np_src, ns_np); exec(jax_src, ns_j)
(X, Y), _ = load("float64")
# n = 8005 to exercise the tail
X = np.concatenate([X, X[:5]]); Y = np.concatenate([Y, Y[:5]])
P0 = params0([784, 30, 10], 0, "float64")
ref = N.HandWritten("", [784, 30, 10], P0, 10, "float64", 1)
p_np = [p.copy() for p in P0]
ws = ns_np["workspace"](10, np.float64)
pj, sj = tuple(jnp.asarray(p) for p in P0), ()
eta = np.asarray(3.0)
for perm in perms(X.shape[0], 3, seed=1):
    Xe, Ye = X[perm], Y[perm]
    ref.epoch(Xe, Ye, None, None)
    ns_np["epoch"](*p_np, Xe, Ye, 3.0, 10, ws)
    jp = jnp.asarray(perm)
    pj, sj, costs = ns_j["epoch"](pj, sj, jnp.asarray(X), jnp.asarray(Y), jp, eta, 10)
    full = X.shape[0] // 10 * 10
    pj, sj, C = ns_j["step_jit"](pj, sj, jnp.asarray(X[perm[full:]].T), jnp.asarray(Y[perm[full:]].T), eta)
print("template NumPy vs hand-written (n=8005, 3 epochs):", max(float(np.max(np.abs(a - b))) for a, b in zip(p_np, ref.p)))
print("template JAX   vs hand-written (n=8005, 3 epochs):", max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(pj, ref.p)))
today = N.SymgradToday("", [784, 30, 10], P0, 10, "float64", 1)
ref2 = N.HandWritten("", [784, 30, 10], P0, 10, "float64", 1)
for perm in perms(X.shape[0], 3, seed=1):
    today.epoch(X[perm], Y[perm], None, None); ref2.epoch(X[perm], Y[perm], None, None)
print("symgrad today vs hand-written (n=8005, 3 epochs):", max(float(np.max(np.abs(a - b))) for a, b in zip(today.p, ref2.p)))
print("template NumPy vs symgrad today:", max(float(np.max(np.abs(a - b))) for a, b in zip(p_np, today.p)))
