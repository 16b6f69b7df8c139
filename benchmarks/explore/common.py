"""Shared helpers for the issue-11 exploration scripts (data, parameters, timing, memory).

Run any script in this folder from the repository root, e.g.
``.venv/bin/python benchmarks/explore/jax_epoch.py``. Every script sets one BLAS /
XLA-intra-op thread policy *before* importing numpy or jax (see ``threads``).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
MNIST = Path("/work/shared/data/mnist")
if not MNIST.is_dir():
    MNIST = ROOT.parent / "shared" / "data" / "mnist"

NETS = {"784-30-10": [784, 30, 10], "784-100-10": [784, 100, 10], "784-256-128-10": [784, 256, 128, 10]}
ETA = 3.0


def blas_threads(n: int = 1) -> None:
    """Set BLAS thread env vars; must run before numpy is imported (threadpoolctl can change it later)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def load(dtype="float64"):
    """(X (8000, 784), Y (8000, 10)), (Xh (2000, 784), labels_h): rows are examples."""
    import numpy as np

    from symgrad.data import load_idx

    X, labels = load_idx(MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz")
    Y = np.zeros((X.shape[0], 10))
    Y[np.arange(X.shape[0]), labels] = 1
    X, Y = X.astype(dtype), Y.astype(dtype)
    return (np.ascontiguousarray(X[:8000]), np.ascontiguousarray(Y[:8000])), (X[8000:], labels[8000:])


def params0(sizes, seed=0, dtype="float64"):
    """[W2, b2, W3, b3, ...] as symgrad's init_params gives them (N(0,1)), W (out, in), b (out, 1)."""
    import numpy as np

    from symgrad.networks import init_params

    p = init_params(sizes, "normal", seed)
    out = []
    for l in range(2, len(sizes) + 1):
        out += [np.array(p[f"W{l}"], dtype=dtype), np.array(p[f"b{l}"], dtype=dtype)]
    return out


def perms(n, epochs, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(xs):
    return statistics.median(xs)


def machine() -> str:
    import numpy as np

    s = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"
    try:
        import jax

        s += f", jax/jaxlib {jax.__version__}"
    except ImportError:
        pass
    s += f"; load average at start {os.getloadavg()[0]:.2f}"
    return s


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t


def jax_generators(dtype: str) -> dict:
    """jax_epoch.py's generators (printed_source, exec_source, make_grad_epoch) without running it.

    The caller must have imported jax and set x64 as it wants before calling this.
    """
    here = Path(__file__).resolve().parent
    src = (here / "jax_epoch.py").read_text()
    src = src.split("\nmain()")[0]
    src = src.replace("a = parse()\nif a.dtype is None:", "a = parse()\nif False:")
    saved = sys.argv
    sys.argv = [str(here / "jax_epoch.py"), "--dtype", dtype]
    ns = {"__file__": str(here / "jax_epoch.py"), "__name__": "jax_epoch"}
    try:
        exec(compile(src, "jax_epoch.py", "exec"), ns)
    finally:
        sys.argv = saved
    return ns
