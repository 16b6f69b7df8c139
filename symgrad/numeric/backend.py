"""The array backends a graph is printed for — NumPy (the default) and JAX (the optional `jax` extra).

Backends are printers: both print the same lowered graph (`symgrad.numeric.compile`,
`symgrad.numeric.program`). This module is what the JAX backend needs at run time and
nothing more: importing JAX (a one-line `UsageError` naming the
extra when it is missing), JAX's 64-bit mode for float64 (switched on only when float64 is
asked for, and said so once on stderr), and the devices a sharded epoch runs on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, require
from .names import BACKENDS

#: Set to "0" to keep JAX's persistent compilation cache off (it is on by default, in the user cache dir).
CACHE_ENV = "SYMGRAD_JAX_CACHE"

__all__ = ["BACKENDS", "CACHE_ENV", "check_backend", "check_devices", "enable_x64", "jax_modules", "mesh",
           "x64_switched_on"]

_state: dict[str, Any] = {"x64_notice": False, "cache": False}


def jax_modules(what: str = "the jax backend") -> tuple[Any, Any]:
    """`(jax, jax.numpy)`, or a one-line UsageError: `--backend jax needs jax: install symgrad[jax] (…)`."""
    jax = require("jax", extra="jax", what=what)
    _persistent_cache(jax)
    return jax, require("jax.numpy", extra="jax", what=what)


def check_backend(backend: Any, dtype: str, error: type[UsageError] = UsageError, what: str | None = None) -> None:
    """`backend` is one of `BACKENDS`; for JAX, JAX imports and float64 has JAX's 64-bit mode on."""
    if backend not in BACKENDS:
        raise error(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}", arg="backend")
    if backend == "jax":
        jax_modules(what or "backend='jax'")
        if dtype == "float64":
            enable_x64()


def x64_switched_on() -> bool:
    """Whether symgrad switched JAX's 64-bit mode on in this process (for the history record)."""
    return bool(_state["x64_notice"])


def enable_x64() -> None:
    """Switch on JAX's 64-bit mode for the process (float64 is float32 in JAX without it), saying so once.

    Process-wide (`jax.config.update`), not the scoped `jax.enable_x64` context: a function
    jitted inside that context and called outside it silently computes in float32.
    """
    jax, _ = jax_modules()
    if jax.config.jax_enable_x64:
        return
    jax.config.update("jax_enable_x64", True)
    _state["x64_notice"] = True
    print("symgrad: float64 with JAX: switched on JAX's 64-bit mode (jax_enable_x64) for this process",
          file=sys.stderr)


def _persistent_cache(jax: Any) -> None:
    """JAX's persistent compilation cache in the user cache dir (a second run skips XLA's compile); opt out with
    `SYMGRAD_JAX_CACHE=0`. A cache dir the user configured is left alone."""
    if _state["cache"]:
        return
    _state["cache"] = True
    if os.environ.get(CACHE_ENV, "1") == "0" or jax.config.jax_compilation_cache_dir:
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "symgrad" / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable cache dir: compile every time, as JAX does by default
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def check_devices(devices: Any, backend: str, batch_size: int | None = None) -> int:
    """The number of devices a run uses (default 1), checked: JAX only, at most those there are, dividing the batch."""
    if devices is None:
        return 1
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
        raise UsageError(f"devices must be a whole number ≥ 1, got {devices!r}", arg="devices")
    devices = int(devices)
    if devices == 1:
        return 1
    if backend != "jax":
        raise UsageError(f"devices {devices}: several devices need `backend` jax (NumPy runs on one CPU)",
                         arg="devices")
    jax, _ = jax_modules()
    there = jax.devices()
    if devices > len(there):
        raise UsageError(f"devices {devices}: JAX sees {len(there)} device{'s' * (len(there) > 1)} "
                         f"({', '.join(sorted({d.platform for d in there}))})", arg="devices")
    if batch_size is not None and batch_size % devices:
        raise UsageError(f"batch_size {batch_size} does not divide over {devices} devices: each device takes an "
                         f"equal share of every mini-batch (use a multiple of {devices})", arg="batch_size")
    return devices


def mesh(devices: int) -> Any:
    """A JAX `Mesh` of the first `devices` devices over one axis, `"batch"` (Auto axes: the printed program
    runs unchanged and XLA inserts the all-reduce of the gradients)."""
    jax, _ = jax_modules()
    from jax.sharding import Mesh

    return Mesh(np.array(jax.devices()[:devices]), ("batch",))
