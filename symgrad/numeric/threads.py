"""How many BLAS threads a NumPy training run uses, chosen deliberately (through threadpoolctl).

The matrix products of a small network at a small batch (784-30-10, m = 10: W² a¹ is a
30 × 784 by 784 × 10 product) are too short to share: with OpenBLAS's default (one thread
per core) every product wakes the other threads, and on a busy machine waits for them — one
thread was the fastest setting for every network and batch size `benchmarks/threads.py`
measured (docs/benchmarks.md). So `choose_threads` gives 1 unless told otherwise, and
`blas_threads` limits the BLAS thread pools for the duration of a run with
`threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (the `threads` extra; without
it the run keeps the library's default and says so in one line).

JAX computes in XLA's own thread pool, which BLAS limits do not touch: for `backend="jax"`
the setting only affects the host-side NumPy work (the evaluation after each epoch).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import UsageError
from .names import AUTO_THREADS, THREAD_CHOICES

#: the notice when threadpoolctl is missing (one line, naming the extra)
MISSING = ("threads={n}: limiting BLAS threads needs threadpoolctl: install symgrad[threads] "
           "(pip install 'symgrad[threads]'); BLAS keeps its default thread count")

__all__ = ["AUTO_THREADS", "THREAD_CHOICES", "blas_threads", "check_threads", "choose_threads"]


def check_threads(threads: Any) -> None:
    """`threads` is a whole number ≥ 1, `"auto"` or `"default"` (else a UsageError naming it)."""
    if threads in THREAD_CHOICES:
        return
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise UsageError(f"threads must be a whole number ≥ 1, 'auto' or 'default', got {threads!r}", arg="threads")


def choose_threads(threads: int | str = "auto") -> int | None:
    """The BLAS thread count a run asks for: `threads` itself, `AUTO_THREADS` for `"auto"`, or
    `None` for `"default"` (no limit: the BLAS library's own choice, usually one thread per core)."""
    check_threads(threads)
    if threads == "default":
        return None
    if threads == "auto":
        return AUTO_THREADS
    return int(threads)


@contextmanager
def blas_threads(n: int | None, notices: list[str] | None = None) -> Iterator[bool]:
    """Limit the BLAS thread pools to `n` threads inside the block (`None`: no limit); yields whether it could.

    Without threadpoolctl the block runs with BLAS's default and the notice `MISSING` goes
    into `notices` (once). The previous limits are restored on leaving, also after an error.
    """
    if n is None:
        yield True
        return
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        if notices is not None:
            notices.append(MISSING.format(n=n))
        yield False
        return
    with threadpoolctl.threadpool_limits(limits=int(n), user_api="blas"):
        yield True


def blas_info() -> list[dict[str, Any]]:
    """The BLAS thread pools NumPy has loaded and their thread counts (empty without threadpoolctl)."""
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        return []
    return [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
