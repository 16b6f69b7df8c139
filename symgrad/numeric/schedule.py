r"""Learning-rate schedules: η for each epoch, from the run's η₀.

The learning rate is constant within an epoch and set before it (epochs counted from 1, E of
them in the run):

* `constant`: η_e = η₀;
* `step`: η_e = η₀ γ^⌊(e − 1)/k⌋ (× γ every k = `step_size` epochs; PyTorch's `StepLR`);
* `exponential`: η_e = η₀ γ^(e − 1) (PyTorch's `ExponentialLR`);
* `cosine`: η_e = η_min + (η₀ − η_min)(1 + cos(π (e − 1)/T))/2 with T = `period`
  (default E; PyTorch's `CosineAnnealingLR` with `T_max` = T).

The training program takes η as an argument of every step (`symgrad.numeric.program`),
so changing it between epochs costs nothing; each epoch's η goes into its history record
(`lr`), and a checkpoint records the schedule so that a resumed run follows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .names import DEFAULT_GAMMA, SCHEDULES

__all__ = ["DEFAULT_GAMMA", "SCHEDULES", "Schedule", "as_schedule"]


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise UsageError(f"{name} must be a finite number, got {v!r}", arg=name)
    return float(v)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule (see the module docstring for the formulas).

    Args:
        kind: one of `SCHEDULES`.
        step_size: `step`: k, the epochs between two decays (default 10).
        gamma: `step`, `exponential`: the factor γ in (0, 1] (default `DEFAULT_GAMMA`).
        min_lr: `cosine`: η_min ≥ 0 (default 0).
        period: `cosine`: T in epochs (default: the run's epochs).

    A setting the schedule does not read is refused (`step_size` with `cosine`, …).
    """

    kind: str = "constant"
    step_size: int | None = None
    gamma: float | None = None
    min_lr: float | None = None
    period: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.kind!r}; choose one of {', '.join(SCHEDULES)}", arg="schedule")
        reads = SCHEDULES[self.kind]
        for name in ("step_size", "gamma", "min_lr", "period"):
            if getattr(self, name) is not None and name not in reads:
                which = [k for k, v in SCHEDULES.items() if name in v]
                raise UsageError(f"{name} is a setting of the {' and '.join(which)} schedule"
                                 f"{'s' if len(which) > 1 else ''}, not of `schedule={self.kind!r}`", arg=name)
        for name in ("step_size", "period"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise UsageError(f"{name} must be a whole number ≥ 1 (epochs), got {v!r}", arg=name)
            if v is not None:
                object.__setattr__(self, name, int(v))
        if self.gamma is not None:
            g = _number("gamma", self.gamma)
            if not 0 < g <= 1:
                raise UsageError(f"gamma (γ) must be in (0, 1], got {self.gamma!r}", arg="gamma")
            object.__setattr__(self, "gamma", g)
        if self.min_lr is not None:
            m = _number("min_lr", self.min_lr)
            if m < 0:
                raise UsageError(f"min_lr (η_min) must be ≥ 0, got {self.min_lr!r}", arg="min_lr")
            object.__setattr__(self, "min_lr", m)

    def lr(self, eta0: float, epoch: int, epochs: int) -> float:
        """η for `epoch` (1-based) of a run of `epochs` epochs starting from η₀ = `eta0`."""
        e = int(epoch) - 1
        if self.kind == "constant":
            return float(eta0)
        if self.kind == "step":
            k = self.step_size or 10
            return float(eta0 * (self.gamma or DEFAULT_GAMMA["step"]) ** (e // k))
        if self.kind == "exponential":
            return float(eta0 * (self.gamma or DEFAULT_GAMMA["exponential"]) ** e)
        T = self.period or max(int(epochs), 1)
        lo = self.min_lr or 0.0
        return float(lo + (eta0 - lo) * (1 + math.cos(math.pi * min(e, T) / T)) / 2)

    def check(self, eta0: float) -> None:
        """η_min must not exceed η₀ (the cosine would climb)."""
        if self.kind == "cosine" and (self.min_lr or 0.0) > eta0:
            raise UsageError(f"min_lr (η_min = {self.min_lr!r}) is larger than lr (η₀ = {eta0!r})", arg="min_lr")

    def to_dict(self) -> dict[str, Any]:
        """The schedule as a checkpoint records it: its kind and the settings given."""
        out: dict[str, Any] = {"kind": self.kind}
        out.update({k: getattr(self, k) for k in SCHEDULES[self.kind] if getattr(self, k) is not None})
        return out

    def describe(self) -> str:
        """In words, for a run's title and the per-epoch line: `step (k = 10, γ = 0.5)`."""
        sym = {"step_size": "k", "gamma": "γ", "min_lr": "η_min", "period": "T"}
        given = [f"{sym[k]} = {getattr(self, k)}" for k in SCHEDULES[self.kind] if getattr(self, k) is not None]
        return self.kind + (f" ({', '.join(given)})" if given else "")


def as_schedule(schedule: Schedule | str | Mapping[str, Any] | None) -> Schedule:
    """A `Schedule` from `None` (constant), a name, a mapping such as `Schedule.to_dict`'s, or itself."""
    if schedule is None:
        return Schedule()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        return Schedule(schedule)
    if isinstance(schedule, Mapping):
        unknown = set(schedule) - {"kind", "step_size", "gamma", "min_lr", "period"}
        if unknown:
            raise UsageError(f"schedule: unknown setting {sorted(unknown)[0]!r}", arg="schedule")
        return Schedule(**dict(schedule))
    raise UsageError(f"schedule must be a name ({', '.join(SCHEDULES)}) or a Schedule, got {type(schedule).__name__}",
                     arg="schedule")
