"""Issue 11: subnormal float32 numbers in NumPy Adam state (why float32 Adam is slow in NumPy).

    .venv/bin/python benchmarks/explore/denormals.py

Two epochs of the printed (fused) NumPy Adam, 784-30-10, batch 10, float32, λ = 0 and 1e-4; counts the
subnormal and zero entries of the first/second-moment arrays of W2 and prints the epoch time.
"""
import sys, time
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
sys.argv = [sys.argv[0], "--dtype", "float32"]
import optimizers as O
import numpy as np
from common import load, params0, perms
(X, Y), _ = load("float32")
perm = perms(8000, 1, seed=1)[0]
for lam in (0.0, 1e-4):
    r = O.NumpyFused([784, 30, 10], params0([784, 30, 10], 0, "float32"), 10, "adam", lam, "float32")
    for e in range(2):
        t = time.perf_counter(); r.epoch(X[perm], Y[perm], None, None, None); dt = time.perf_counter() - t
    tiny = np.finfo(np.float32).tiny
    for name, a in zip(["mW2", "mb2", "mW3", "mb3", "sW2", "sb2", "sW3", "sb3"], r.s):
        sub = np.count_nonzero((a != 0) & (np.abs(a) < tiny))
        if name in ("mW2", "sW2"):
            print(f"lambda {lam}: epoch {dt:.3f} s; {name}: {sub} subnormal of {a.size}, {np.count_nonzero(a == 0)} zero")
