r"""A trained network put to use: load a saved model, predict classes, evaluate on labelled examples.

`load` reads a model file (`symgrad.store.model_file`) into a `Model`: the
network's specification, its parameters `W^l` (`n_l × n_{l−1}`) and `b^l` (`n_l × 1`) in the dtype
they were trained in, and the provenance the run recorded (`provenance`). Examples go in **one
per row**: `X` of shape (n, d) with d = n_1, the input layer's size, as `symgrad.numeric.train`
takes them (internally the network sees them as the columns of x, a^1 = x). The feedforward pass

    a^1 = x,    a^l = σ(W^l a^{l−1} + b^l),    l = 2, …, L

gives a^L, and the predicted class of an example is argmax_j a^L_j (a single output neuron: class 1
when a^L > 0.5). `Model.evaluate` also gives the mean cost per example (1/n) Σ_x C_x, the
network's own cost without weight decay, and the confusion matrix.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import UsageError
from ..networks import Network, mlp
from ..store.data import check_finite
from ..store.model_file import load_model, save_model
from .compile import compile_graph

__all__ = ["PROVENANCE", "Evaluation", "Model", "Predictions", "load", "provenance", "save"]

#: The key of a model file's `extra` that holds the provenance (what `provenance` records).
PROVENANCE = "provenance"


@dataclass(frozen=True)
class Predictions:
    """What a model predicts for n examples.

    `classes` (n,): the predicted class of each example, argmax_j a^L_j (one output neuron:
    1 when a^L > 0.5). `outputs` (n, k): a^L, one row per example. `probabilities` (n, c), one
    row per example, each summing to 1: a^L itself for a softmax output; for other outputs a^L
    scaled to sum to 1 (a ranking of the classes, not calibrated probabilities); for one output
    neuron the two columns 1 − a^L, a^L.
    """

    classes: np.ndarray
    probabilities: np.ndarray
    outputs: np.ndarray

    def __len__(self) -> int:
        return int(self.classes.shape[0])


@dataclass(frozen=True)
class Evaluation:
    """A model measured on n labelled examples.

    `accuracy`: the fraction classified correctly; `cost`: the mean cost per example
    (1/n) Σ_x C_x; `confusion` (c, c): `confusion[i, j]` counts the examples of true class i
    predicted as class j (rows: true class, columns: predicted class; the diagonal is correct).
    """

    n: int
    accuracy: float
    cost: float
    confusion: np.ndarray
    cost_name: str = "quadratic"

    @property
    def classes(self) -> int:
        return int(self.confusion.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: `n`, `accuracy`, `cost`, `cost_name`, `confusion` (rows: true class)."""
        return {"n": self.n, "accuracy": self.accuracy, "cost": self.cost, "cost_name": self.cost_name,
                "confusion": self.confusion.tolist()}

    def render(self) -> str:
        """The figures and the confusion matrix as text (rows: true class, columns: predicted)."""
        c = self.confusion
        width = max(len(str(int(c.max()))) if c.size else 1, len(str(self.classes - 1)), 3)
        lines = [f"examples {self.n:,}", f"accuracy {self.accuracy:.4f} ({int(np.trace(c)):,} of {self.n:,} correct)",
                 f"cost {self.cost:.6g} (mean {self.cost_name} cost per example)",
                 "confusion matrix (rows: true class, columns: predicted class)",
                 " " * (width + 6) + " ".join(f"{j:>{width}}" for j in range(self.classes))]
        for i, row in enumerate(c):
            lines.append(f"true {i:>{width}} " + " ".join(f"{int(v):>{width}}" for v in row))
        return "\n".join(lines)


def _clean(value: Any) -> Any:
    """JSON-able without NaN/Inf (they become `None`; a diverged run's history has them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def provenance(history: Any = None, *, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a saved model records about how it was made.

    `symgrad` (the version), `saved` (UTC, ISO 8601); from a `History`:
    `training` (η as `lr`, epochs asked for and run, batch size, optimizer, μ, λ, seed, dtype,
    initialisation, backend, devices), `data` (for the training and held-out arrays: their number of
    examples and the sha256 of their bytes, `symgrad.store.data.fingerprint`) and `history`
    (every epoch's record, and whether the run was interrupted or stopped). `data` adds to the
    data record (the command line says where the data came from).
    """
    out: dict[str, Any] = {"symgrad": __version__,
                           "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if history is not None:
        training = dict(getattr(history, "config", {}) or {})
        training["epochs_run"] = len(history)
        out["training"] = training
        out["data"] = dict(getattr(history, "data", {}) or {})
        out["history"] = {"epochs": list(history), "interrupted": bool(getattr(history, "interrupted", False)),
                          "stopped": getattr(history, "stopped", None),
                          "notices": list(getattr(history, "notices", []))}
    if data:
        out.setdefault("data", {}).update(data)
    return _clean(out)


class Model:
    """A trained network, to predict with and evaluate: `symgrad.load("m.npz")`.

    `spec` is the network's specification (sizes, activation, output, cost, …), `params` its
    parameters `{"W2": (n_2, n_1), "b2": (n_2, 1), …}`, `provenance` what the run recorded
    (empty for a file saved without it), `path` the file it came from. Examples are rows:
    `X` (n, d), labels (n,) with classes 0..c−1 (c = n_L, or 2 for a single output neuron).
    """

    def __init__(self, spec: Mapping[str, Any], params: Mapping[str, np.ndarray],
                 provenance: Mapping[str, Any] | None = None, path: str | os.PathLike[str] | None = None) -> None:
        self.network: Network = mlp(**{k: v for k, v in spec.items() if k != "level"}, level="layer",
                                    params=params)
        self.spec = self.network.spec()
        self.params = {k: np.asarray(v) for k, v in params.items()}
        kinds = {v.dtype for v in self.params.values()}
        self.dtype = "float32" if kinds == {np.dtype(np.float32)} else "float64"
        self.provenance = dict(provenance or {})
        self.path = None if path is None else Path(os.fspath(path))
        self._programs: dict[str, Any] = {}

    @property
    def sizes(self) -> list[int]:
        return list(self.network.sizes)

    @property
    def classes(self) -> int:
        """The number of classes c: the output layer's size n_L, or 2 for a single output neuron."""
        k = self.sizes[-1]
        return 2 if k == 1 else k

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<Model {self.network.describe()}, {self.dtype}{where}>"

    # ---------------------------------------------------------------- running
    def _program(self, with_cost: bool) -> Any:
        key = "cost" if with_cost else "forward"
        if key not in self._programs:
            L = len(self.sizes)
            plain = mlp(self.sizes, self.network.activation, self.network.cost, level="layer",
                        output=self.network.output)  # the data cost: weight decay is not a per-example cost
            self._programs[key] = compile_graph(plain, dtype=self.dtype,
                                                outputs=(["C"] if with_cost else []) + [f"a{L}"])
        return self._programs[key]

    def _rows(self, X: Any, what: str) -> np.ndarray:
        a = np.asarray(X)
        if a.dtype.kind not in "biuf":
            raise UsageError(f"{what}: expected numbers, got an array of dtype {a.dtype}")
        d = self.sizes[0]
        if a.ndim == 1 and a.shape[0] == d:
            a = a.reshape(1, d)
        elif a.ndim > 2:  # images (n, h, w): one row of pixels per example
            a = a.reshape(a.shape[0], -1)
        if a.ndim != 2 or a.shape[1] != d:
            raise UsageError(f"{what}: the model takes examples as rows of {d} numbers, shape (n, {d}); "
                             f"got shape {a.shape}")
        if a.shape[0] == 0:
            raise UsageError(f"{what}: no examples")
        check_finite(what, a)
        return np.ascontiguousarray(a, dtype=self.dtype)

    def _labels(self, labels: Any, n: int, what: str) -> np.ndarray:
        y = np.asarray(labels)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1 or y.dtype.kind not in "biuf":
            raise UsageError(f"{what}: expected one class number per example, shape ({n},); got "
                             f"{y.dtype} of shape {y.shape}")
        if y.shape[0] != n:
            raise UsageError(f"{what}: {y.shape[0]} labels for {n} examples")
        check_finite(what, y)
        whole = y == np.round(y) if y.dtype.kind == "f" else np.ones(n, dtype=bool)
        bad = np.flatnonzero(~whole | (y < 0) | (y >= self.classes))
        if bad.size:
            i = int(bad[0])
            raise UsageError(f"{what}: label {y[i]} of example {i} is not a class of this model "
                             f"(0..{self.classes - 1}: its output layer has {self.sizes[-1]} "
                             f"neuron{'s' * (self.sizes[-1] > 1)})")
        return y.astype(np.int64)

    def _forward(self, X: np.ndarray, Y: np.ndarray | None, chunk: int = 2000) -> tuple[np.ndarray, float]:
        program = self._program(Y is not None)
        params = [self.params[p] for p in self.network.params()]
        outs, cost = [], 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for s in range(0, X.shape[0], chunk):
                args = [X[s:s + chunk].T] + ([] if Y is None else [Y[s:s + chunk].T])
                result = program.fn(*params, *args)
                if Y is not None:
                    cost += float(result[0])
                outs.append(np.asarray(result[-1]).T)
        return np.concatenate(outs), cost

    def _decide(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if outputs.shape[1] == 1:
            a = outputs[:, 0]
            return (a > 0.5).astype(np.int64), np.stack([1 - a, a], axis=1)
        classes = np.argmax(outputs, axis=1).astype(np.int64)
        if self.network.output == "softmax":
            return classes, outputs
        total = outputs.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            probs = np.where(total > 0, outputs / np.where(total > 0, total, 1), 1.0 / outputs.shape[1])
        return classes, probs

    def predict(self, X: Any) -> Predictions:
        """The classes, probabilities and output activations a^L of the examples `X` (n, d), one per row."""
        rows = self._rows(X, "X")
        outputs, _ = self._forward(rows, None)
        classes, probs = self._decide(outputs)
        return Predictions(classes, probs, outputs)

    def evaluate(self, X: Any, labels: Any) -> Evaluation:
        """Accuracy, mean cost per example and confusion matrix on `X` (n, d) with `labels` (n,) in 0..c−1."""
        rows = self._rows(X, "X")
        y = self._labels(labels, rows.shape[0], "labels")
        k = self.sizes[-1]
        if k == 1:
            Y = y.reshape(-1, 1).astype(self.dtype)
        else:
            Y = np.zeros((rows.shape[0], k), dtype=self.dtype)
            Y[np.arange(rows.shape[0]), y] = 1
        outputs, cost = self._forward(rows, Y)
        predicted, _ = self._decide(outputs)
        confusion = np.zeros((self.classes, self.classes), dtype=np.int64)
        np.add.at(confusion, (y, predicted), 1)
        n = rows.shape[0]
        return Evaluation(n, float(np.count_nonzero(predicted == y)) / n, cost / n, confusion, self.network.cost)

    # ---------------------------------------------------------------- files
    def save(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write the model (spec, parameters in their dtype, provenance, and `extra`) to `path`, atomically."""
        extra = {**(extra or {}), **({PROVENANCE: self.provenance} if self.provenance else {})}
        return save_model(path, self.spec, self.params, extra=extra or None)


def save(path: str | os.PathLike[str], net: Network, history: Any = None, *,
         data: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Save a trained network with its provenance (`provenance`) to `path` (a model file, atomically).

    The parameters are saved in the run's dtype (`history.dtype`: a float32 run saves float32
    W^l, b^l), so that `load` gives back the numbers the run computed with. `extra` goes into the
    file beside the provenance (`symgrad train --keep-best` records its `best_epoch` there).
    """
    params = net.params()
    dtype = getattr(history, "dtype", None)
    if dtype is not None:
        params = {k: v.astype(dtype) for k, v in params.items()}
    return Model(net.spec(), params, provenance(history, data=data)).save(path, extra)


def load(path: str | os.PathLike[str]) -> Model:
    """The model saved at `path` (by `symgrad train --save` or `save`), ready to predict and evaluate.

    `symgrad.load("m.npz").predict(X)` with `X` (n, d), one example per row. A training
    checkpoint loads too (its parameters; its provenance is empty). Any problem with the file is a
    `UsageError` naming it.
    """
    spec, params, extra = load_model(path, with_extra=True)
    prov = extra.get(PROVENANCE)
    return Model(spec, params, prov if isinstance(prov, dict) else None, path)

