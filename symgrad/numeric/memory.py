"""How much memory a training run needs, estimated before anything is allocated.

`symgrad train` refuses a run whose estimate exceeds a limit (`--max-memory`) with the figure
and the limit, instead of growing until the machine fails. The estimate counts, for P parameters
of s bytes each (8 for float64, 4 for float32) and mini-batches of m examples:

* the parameters, several times over: the network's values, the trainer's, the gradients
  ∂C/∂W^l, ∂C/∂b^l, the epoch's snapshot (to go back on NaN or Ctrl-C) and the host copy a
  checkpoint writes — 4 P, or 5 P with a checkpoint;
* the optimizer state, its snapshot and the update's temporaries: momentum's velocities v (3 P),
  Adam's moments m1, m2 (6 P);
* the activations: the forward pass z^l, a^l and the backward pass δ^l for a batch of m, and for
  the evaluation chunks of 2,000 examples, 4 Σ_l n_l × max(m, 2000) (m and 2,000 at most the
  number of examples n, when it is known);
* the data: the n × n_1 inputs and n × n_L targets, twice (the epoch's shuffled copy).

Measured against the peak resident memory of real runs (`benchmarks/memory_estimate.py`), the
estimate is an upper bound within a small factor. `parse_size` reads `4G`, `512M`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import UsageError
from ..networks import count_params
from ..store.data import memory_limit, size_text

__all__ = ["EVAL_CHUNK", "Estimate", "check_memory", "default_limit", "estimate", "human", "parse_size"]

#: Examples per evaluation chunk (the train and held-out cost and accuracy after each epoch).
EVAL_CHUNK = 2000
_OPT_COPIES = {"sgd": 0, "momentum": 3, "adam": 6}


class Estimate(NamedTuple):
    """The bytes a run needs, by part; `total` is their sum."""

    params: int
    optimizer: int
    activations: int
    data: int

    @property
    def total(self) -> int:
        return self.params + self.optimizer + self.activations + self.data

    def describe(self) -> str:
        """`about 16.2 GiB (parameters and gradients 12.4 GiB, optimizer 0 bytes, …)`, for a message."""
        parts = [("parameters, gradients and copies", self.params), ("optimizer state", self.optimizer),
                 ("activations", self.activations), ("data", self.data)]
        shown = ", ".join(f"{name} {_short(n)}" for name, n in parts if n)
        return f"about {_short(self.total)} ({shown})"


def human(n: int) -> str:
    """A byte count in binary units, for a message: `11.8 GiB`, `512 bytes`."""
    return _short(n)


def _short(n: int) -> str:
    text = size_text(n)
    return text[text.index("(") + 1 : -1] if "(" in text else text


def estimate(sizes: Sequence[int], batch_size: int, optimizer: str = "sgd", dtype: str = "float64",
             n_examples: int = 0, checkpoint: bool = False) -> Estimate:
    """The memory a run of an MLP with layer `sizes` needs (see the module's text for what is counted).

    `n_examples` counts the data (training and held out); 0 leaves them out (not known yet).
    """
    s = 4 if dtype == "float32" else 8
    P = count_params(sizes)
    params = (5 if checkpoint else 4) * P * s
    opt = _OPT_COPIES.get(optimizer, 4) * P * s
    rows = max(int(batch_size), EVAL_CHUNK)
    if n_examples:
        rows = min(rows, int(n_examples))
    acts = 4 * sum(sizes) * rows * s
    data = 2 * int(n_examples) * (sizes[0] + sizes[-1]) * s
    return Estimate(params, opt, acts, data)


def default_limit() -> int:
    """Half of this machine's physical memory: the rest is for the system and everything else running."""
    return memory_limit() // 2


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str, flag: str = "--max-memory") -> int:
    """`"4G"`, `"512M"`, `"1.5GiB"`, `"100000"` (bytes) → bytes (binary units: 1G = 2^30 bytes)."""
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"{flag} must be a size such as 4G, 512M or a number of bytes, got {text!r}")
    value = float(m.group(1)) * 1024 ** "_kmgt".index(m.group(2).lower() or "_")
    if value < 1:
        raise UsageError(f"{flag} must be at least 1 byte, got {text!r}")
    return int(value)


def check_memory(sizes: Sequence[int], batch_size: int, optimizer: str, dtype: str, limit: int,
                 n_examples: int = 0, checkpoint: bool = False, limit_text: str | None = None) -> Estimate:
    """The `estimate`, or a `UsageError` with the figure and the limit when it exceeds `limit`."""
    est = estimate(sizes, batch_size, optimizer, dtype, n_examples, checkpoint)
    if est.total > limit:
        what = limit_text or f"--max-memory {_short(limit)}"
        data = f" and {n_examples:,} examples" if n_examples else ""
        raise UsageError(
            f"--sizes {','.join(map(str, sizes))} ({count_params(sizes):,} parameters, {dtype}, --batch-size "
            f"{batch_size}, {optimizer}{data}) needs {est.describe()}, more than {what}; raise --max-memory "
            "to try anyway"
        )
    return est

