"""The optimizers: SGD (Nielsen), momentum, Adam — their settings, and the unfused update in Python.

`OptimizerConfig` is what a training program (`symgrad.numeric.program`) prints
into its `step`; `Optimizer` is the same update applied from Python after a
gradient function (the per-batch path: the reference the printed step is tested against, and
the replay that names the step where a run went NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .names import OPTIMIZERS

__all__ = ["OPTIMIZERS", "Optimizer", "OptimizerConfig"]


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimizer and its constants, for a mini-batch of m examples with summed gradient ∇C:

    * `sgd`: w → w − (η/m)(∇C + 2λw);
    * `momentum`: v → μv − (η/m)(∇C + 2λw), w → w + v;
    * `adam`: g = (∇C + 2λw)/m, m₁ → β₁m₁ + (1 − β₁)g, m₂ → β₂m₂ + (1 − β₂)g²,
      w → w − η √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m₁/(√m₂ + ε);

    with the L2 term 2λw for the decayed parameters only (the weights, not the biases).
    """

    kind: str = "sgd"
    lr: float = 3.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.kind not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.kind!r}; choose one of {', '.join(OPTIMIZERS)}",
                             arg="optimizer")
        for name in ("lr", "momentum", "weight_decay", "beta1", "beta2", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
                raise UsageError(f"{name} must be a finite number, got {v!r}", arg=name)
            object.__setattr__(self, name, float(v))

    @property
    def state_keys(self) -> tuple[str, ...]:
        """The per-parameter state arrays: `v` (momentum), `m1`, `m2` (Adam; also the step counter t)."""
        return {"sgd": (), "momentum": ("v",), "adam": ("m1", "m2")}[self.kind]


class Optimizer:
    """In-place update rules for the parameter arrays; `state` holds the arrays a checkpoint saves.

    For a mini-batch of m examples with summed gradient ∇C (Nielsen's update):

    * `sgd`: w → w − (η/m) ∇C;
    * `momentum`: v → μv − (η/m) ∇C, w → w + v;
    * `adam` (Kingma & Ba), with g = ∇C/m: m₁ → β₁m₁ + (1 − β₁)g, m₂ → β₂m₂ + (1 − β₂)g²,
      w → w − η √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m₁/(√m₂ + ε).

    L2 weight decay λ adds 2λW to the gradient of each weight matrix (`wd_mask`).
    """

    def __init__(self, kind: str, params: list[np.ndarray], lr: float, momentum: float,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        if kind not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}", arg="optimizer")
        self.kind, self.lr, self.mu = kind, float(lr), float(momentum)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.v = [np.zeros_like(p) for p in params] if kind == "momentum" else []
        self.m1 = [np.zeros_like(p) for p in params] if kind == "adam" else []
        self.m2 = [np.zeros_like(p) for p in params] if kind == "adam" else []

    def state(self, names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"t": np.asarray(self.t, dtype=np.int64)}
        for key, arrays in (("v", self.v), ("m1", self.m1), ("m2", self.m2)):
            if arrays:
                out[key] = {n: a.copy() for n, a in zip(names, arrays)}  # a snapshot, not the live arrays
        return out

    def load(self, state: Mapping[str, Any], names: Sequence[str]) -> None:
        self.t = int(np.asarray(state.get("t", 0)))
        for key in ("v", "m1", "m2"):
            arrays = getattr(self, key)
            if arrays:
                saved = state.get(key)
                if not isinstance(saved, Mapping):
                    raise UsageError(f"checkpoint has no {self.kind} state {key!r}")
                for i, n in enumerate(names):
                    arrays[i][...] = saved[n]

    def step_fn(self, params: list[np.ndarray], wd_mask: list[bool], weight_decay: float) -> Callable:
        """The update `step(grads, m)` for a mini-batch of m examples, closed over the arrays."""
        pairs = list(zip(params, wd_mask))
        lr, lam2 = self.lr, 2.0 * weight_decay
        if self.kind == "sgd":
            if lam2 == 0.0:
                def step(grads: tuple, m: int) -> None:
                    eta = lr / m
                    for p, g in zip(params, grads):
                        p -= eta * g
            else:
                def step(grads: tuple, m: int) -> None:
                    eta = lr / m
                    for (p, decay), g in zip(pairs, grads):
                        if decay:
                            g = g + lam2 * p
                        p -= eta * g
            return step
        if self.kind == "momentum":
            mu, vs = self.mu, self.v

            def step(grads: tuple, m: int) -> None:
                eta = lr / m
                for (p, decay), v, g in zip(pairs, vs, grads):
                    if decay and lam2:
                        g = g + lam2 * p
                    v *= mu
                    v -= eta * g
                    p += v
            return step
        b1, b2, eps, m1s, m2s = self.beta1, self.beta2, self.eps, self.m1, self.m2

        def step(grads: tuple, m: int) -> None:
            self.t += 1
            t = self.t
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            for (p, decay), a1, a2, g in zip(pairs, m1s, m2s, grads):
                if decay and lam2:
                    g = g + lam2 * p
                g = g / m
                a1 *= b1
                a1 += (1 - b1) * g
                a2 *= b2
                a2 += (1 - b2) * (g * g)
                p -= alpha * a1 / (np.sqrt(a2) + eps)
        return step
