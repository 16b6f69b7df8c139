r"""Multilayer perceptrons in Nielsen's notation, at neuron level or layer level.

Layer l = 1 is the input (a^1 = x); for l = 2..L

    z^l = W^l a^{l−1} + b^l,    a^l = σ(z^l),

with w^l_{jk} the weight from neuron k of layer l−1 to neuron j of layer l. The
*neuron level* has one scalar node per weight, bias, z^l_j and a^l_j; the *layer
level* has one matrix node per W^l (n_l × n_{l−1}), b^l (n_l × 1), z^l and a^l
(n_l × m, a mini-batch of m examples as columns; b^l is broadcast as b^l 1ᵀ).

Costs (summed over the examples of the batch):

* ``quadratic``: C = ½ Σ_x ‖a^L(x) − y(x)‖²
* ``cross_entropy``: C = −Σ_x Σ_j [y_j ln a^L_j + (1 − y_j) ln(1 − a^L_j)]
* ``log_likelihood`` (with ``output="softmax"``): C = −Σ_x Σ_j y_j ln softmax(z^L)_j

``weight_decay=λ`` adds λ Σ_l ‖W^l‖² (the sum of all squared weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .core.backprop import backprop
from .core.functions import ACTIVATIONS, activation, log_softmax, softmax
from .core.graph import Graph, GraphError
from .errors import UsageError

COSTS = ("quadratic", "cross_entropy", "log_likelihood")
LEVELS = ("neuron", "layer")
INITS = ("normal", "glorot", "he")


def init_params(sizes: Sequence[int], init: str = "normal", seed: int | None = 0, dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Initial ``{"W2": ..., "b2": ..., ...}`` for a network of ``sizes``.

    ``normal``: w, b ~ N(0, 1) (Nielsen's ``network.py``); ``glorot``:
    w ~ N(0, 2/(n_in + n_out)), b = 0; ``he``: w ~ N(0, 2/n_in), b = 0.
    One seeded generator draws the layers in order, so a seed fixes everything.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for l in range(2, len(sizes) + 1):
        n_out, n_in = sizes[l - 1], sizes[l - 2]
        if init == "normal":
            W = rng.standard_normal((n_out, n_in))
            b = rng.standard_normal((n_out, 1))
        else:
            scale = np.sqrt(2.0 / (n_in + n_out)) if init == "glorot" else np.sqrt(2.0 / n_in)
            W = rng.standard_normal((n_out, n_in)) * scale
            b = np.zeros((n_out, 1))
        params[f"W{l}"] = W.astype(dtype)
        params[f"b{l}"] = b.astype(dtype)
    return params


@dataclass
class Network:
    """A network's graph together with its specification.

    ``graph`` is the computational graph; ``names`` maps the book's symbols
    to node names, e.g. ``names["W"][2] == "W2"`` (layer level) or
    ``names["w"][2][(1, 1)] == "w2_1_1"`` (neuron level).
    """

    graph: Graph
    sizes: tuple[int, ...]
    activation: str
    cost: str
    level: str
    output: str
    weight_decay: Any = None
    batch: Any = None
    names: dict[str, Any] = field(default_factory=dict)

    @property
    def L(self) -> int:
        """The number of layers, counting the input layer (Nielsen's L)."""
        return len(self.sizes)

    @property
    def cost_node(self) -> str:
        return "C"

    def backprop(self, wrt: Sequence[str] | None = None) -> dict[str, str]:
        """Run :func:`symgrad.backprop` from the cost; ``{parameter: derivative node}``."""
        return backprop(self.graph, self.cost_node, wrt)

    def spec(self) -> dict[str, Any]:
        """The JSON-able specification (to save and rebuild the network)."""
        wd = self.weight_decay
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "cost": self.cost,
            "output": self.output,
            "level": self.level,
            "weight_decay": None if wd is None else float(wd),
        }

    def params(self) -> dict[str, np.ndarray]:
        """The current parameter values as layer arrays ``{"W2": ..., "b2": ...}``."""
        out: dict[str, np.ndarray] = {}
        g = self.graph
        for l in range(2, self.L + 1):
            if self.level == "layer":
                out[f"W{l}"] = np.asarray(g.node(f"W{l}").value, dtype=float)
                out[f"b{l}"] = np.asarray(g.node(f"b{l}").value, dtype=float)
            else:
                n_out, n_in = self.sizes[l - 1], self.sizes[l - 2]
                W = np.empty((n_out, n_in))
                b = np.empty((n_out, 1))
                for j in range(1, n_out + 1):
                    b[j - 1, 0] = float(g.node(f"b{l}_{j}").value)
                    for k in range(1, n_in + 1):
                        W[j - 1, k - 1] = float(g.node(f"w{l}_{j}_{k}").value)
                out[f"W{l}"], out[f"b{l}"] = W, b
        return out

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Give the parameters values from layer arrays ``{"W2": (n2, n1) array, "b2": ..., ...}``."""
        for l in range(2, self.L + 1):
            n_out, n_in = self.sizes[l - 1], self.sizes[l - 2]
            for key, shape in ((f"W{l}", (n_out, n_in)), (f"b{l}", (n_out, 1))):
                if key not in params:
                    raise GraphError(f"parameter {key!r} is missing (network sizes {list(self.sizes)})")
                arr = np.asarray(params[key], dtype=float)
                if arr.shape == (n_out,) and shape[1] == 1:
                    arr = arr.reshape(shape)
                if arr.shape != shape:
                    raise GraphError(f"parameter {key!r} has shape {arr.shape}, the network needs {shape}")
                if self.level == "layer":
                    self.graph.node(key).value = arr
                elif key.startswith("W"):
                    for j in range(n_out):
                        for k in range(n_in):
                            self.graph.node(f"w{l}_{j + 1}_{k + 1}").value = float(arr[j, k])
                else:
                    for j in range(n_out):
                        self.graph.node(f"b{l}_{j + 1}").value = float(arr[j, 0])

    def __repr__(self) -> str:
        return (
            f"<Network {'-'.join(map(str, self.sizes))} {self.activation}/{self.output} "
            f"{self.cost} ({self.level} level, {len(self.graph)} nodes)>"
        )

    def _repr_latex_(self) -> str:
        from .printing import latex

        return "$$" + latex(self) + "$$"

    def _repr_svg_(self) -> str | None:
        """The graph's picture in a notebook (:func:`symgrad.drawing.svg`); ``None`` without matplotlib."""
        from .printing.drawing import notebook_svg

        return notebook_svg(self.graph)


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """``sizes`` as a tuple of whole numbers [n_1, ..., n_L], L ≥ 2, every n_l ≥ 1 (else UsageError)."""
    try:
        sizes = tuple(int(s) for s in sizes)
    except (TypeError, ValueError):
        raise UsageError(f"sizes must be whole numbers, got {sizes!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise UsageError(f"sizes needs at least two layers of at least one neuron, got {list(sizes)}")
    return sizes


def count_params(sizes: Sequence[int]) -> int:
    """The number of weights and biases, Σ_l n_l (n_{l−1} + 1)."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


def as_graph(obj: Any) -> Graph:
    """The graph of a :class:`Network`, or ``obj`` itself if it is a :class:`Graph`."""
    if isinstance(obj, Network):
        return obj.graph
    if isinstance(obj, Graph):
        return obj
    raise UsageError(f"expected a Graph or a Network, not {type(obj).__name__}")


def _check_spec(sizes: Sequence[int], act: str, cost: str, level: str, output: str) -> tuple[int, ...]:
    sizes = check_sizes(sizes)
    activation(act)
    if output != "softmax":
        activation(output)
    if cost not in COSTS:
        raise ValueError(f"unknown cost {cost!r}; choose one of {', '.join(COSTS)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    if (cost == "log_likelihood") != (output == "softmax"):
        raise ValueError("the log_likelihood cost goes with output='softmax' (and softmax with log_likelihood)")
    return sizes


def mlp(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    cost: str = "quadratic",
    *,
    level: str = "neuron",
    output: str | None = None,
    weight_decay: Any = None,
    batch: int | sp.Symbol | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    init: str = "normal",
) -> Network:
    """Build a multilayer perceptron ``sizes = [n_1, ..., n_L]`` as a graph.

    ``activation`` is σ for the hidden layers and, unless ``output`` says
    otherwise, the output layer (``output="softmax"`` goes with
    ``cost="log_likelihood"``). ``level="layer"`` builds matrix nodes with a
    batch of ``batch`` columns (default: the symbol m); ``level="neuron"``
    builds one scalar node per neuron for a single example. Parameters get
    ``params`` (layer arrays ``{"W2": ..., "b2": ...}``) or, with ``seed``,
    values drawn by :func:`init_params`.
    """
    output = output or ("softmax" if cost == "log_likelihood" else activation)
    sizes = _check_spec(sizes, activation, cost, level, output)
    build = _layer_level if level == "layer" else _neuron_level
    net = build(sizes, activation, cost, output, weight_decay, batch)
    if params is not None:
        net.set_params(params)
    elif seed is not None:
        net.set_params(init_params(sizes, init, seed))
    return net


def _decay(weight_decay: Any) -> sp.Basic | None:
    if weight_decay is None:
        return None
    if isinstance(weight_decay, sp.Basic):
        return weight_decay
    return sp.nsimplify(weight_decay) if isinstance(weight_decay, int) else sp.Float(weight_decay)


def _layer_level(sizes, act, cost, output, weight_decay, batch) -> Network:
    m = sp.Symbol("m", integer=True, positive=True) if batch is None else batch
    g = Graph("mlp " + "-".join(map(str, sizes)))
    g.meta.update(level="layer", sizes=sizes)
    names: dict[str, Any] = {"W": {}, "b": {}, "z": {}, "a": {1: "x"}, "x": "x", "y": "y", "C": "C"}
    prev = g.input("x", (sizes[0], m), tex="x", kind="x")
    L = len(sizes)
    for l in range(2, L + 1):
        n_out, n_in = sizes[l - 1], sizes[l - 2]
        W = g.parameter(f"W{l}", (n_out, n_in), tex=f"W^{{{l}}}", kind="W", meta={"layer": l})
        b = g.parameter(f"b{l}", (n_out, 1), tex=f"b^{{{l}}}", kind="b", meta={"layer": l})
        z = g.add(f"z{l}", W * prev + b * sp.OneMatrix(1, m), tex=f"z^{{{l}}}", kind="z", meta={"layer": l})
        names["W"][l], names["b"][l], names["z"][l] = f"W{l}", f"b{l}", f"z{l}"
        f = softmax if (l == L and output == "softmax") else None
        if f is not None:
            a_expr = softmax(z)
        else:
            head = ACTIVATIONS[output if l == L else act][0]
            a_expr = ElementwiseApplyFunction(head, z)
        prev = g.add(f"a{l}", a_expr, tex=f"a^{{{l}}}", kind="a", meta={"layer": l})
        names["a"][l] = f"a{l}"
    y = g.target("y", (sizes[-1], m), tex="y", kind="y")
    aL, zL = prev, g[f"z{L}"]
    n = sizes[-1]
    ones = sp.OneMatrix(n, m)
    if cost == "quadratic":
        C = sp.Trace((aL - y).T * (aL - y)) / 2
    elif cost == "cross_entropy":
        C = -sp.Trace(y.T * ElementwiseApplyFunction(sp.log, aL) + (ones - y).T * ElementwiseApplyFunction(sp.log, ones - aL))
    else:
        C = -sp.Trace(y.T * log_softmax(zL))
    lam = _decay(weight_decay)
    if lam is not None:
        C = C + lam * sp.Add(*[sp.Trace(g[f"W{l}"].T * g[f"W{l}"]) for l in range(2, L + 1)])
    g.add("C", C, role="cost", tex="C", kind="C")
    return Network(g, sizes, act, cost, "layer", output, weight_decay, m, names)


def _neuron_level(sizes, act, cost, output, weight_decay, batch) -> Network:
    if batch not in (None, 1):
        raise ValueError("a neuron-level network holds one example; use level='layer' for a batch")
    g = Graph("mlp " + "-".join(map(str, sizes)))
    g.meta.update(level="neuron", sizes=sizes)
    names: dict[str, Any] = {"w": {}, "b": {}, "z": {}, "a": {}, "x": [], "y": [], "C": "C"}
    wide = max(sizes) > 9
    sep = "," if wide else ""
    prev = []
    for k in range(1, sizes[0] + 1):
        prev.append(g.input(f"x{k}", tex=f"x_{{{k}}}", kind="x", meta={"index": (k,)}))
        names["x"].append(f"x{k}")
    names["a"][1] = list(names["x"])
    L = len(sizes)
    for l in range(2, L + 1):
        n_out, n_in = sizes[l - 1], sizes[l - 2]
        names["w"][l], names["b"][l], names["z"][l], names["a"][l] = {}, [], [], []
        zs = []
        for j in range(1, n_out + 1):
            terms = []
            for k in range(1, n_in + 1):
                w = g.parameter(f"w{l}_{j}_{k}", tex=f"w^{{{l}}}_{{{j}{sep}{k}}}", kind="w", meta={"layer": l, "index": (j, k)})
                names["w"][l][(j, k)] = f"w{l}_{j}_{k}"
                terms.append(w * prev[k - 1])
            b = g.parameter(f"b{l}_{j}", tex=f"b^{{{l}}}_{{{j}}}", kind="b", meta={"layer": l, "index": (j,)})
            names["b"][l].append(f"b{l}_{j}")
            zs.append(g.add(f"z{l}_{j}", sp.Add(*terms, b), tex=f"z^{{{l}}}_{{{j}}}", kind="z", meta={"layer": l, "index": (j,)}))
            names["z"][l].append(f"z{l}_{j}")
        acts = []
        for j, z in enumerate(zs, start=1):
            if l == L and output == "softmax":
                expr = sp.exp(z) / sp.Add(*[sp.exp(zk) for zk in zs])
            else:
                expr = ACTIVATIONS[output if l == L else act][0](z)
            acts.append(g.add(f"a{l}_{j}", expr, tex=f"a^{{{l}}}_{{{j}}}", kind="a", meta={"layer": l, "index": (j,)}))
            names["a"][l].append(f"a{l}_{j}")
        prev = acts
    ys = []
    for j in range(1, sizes[-1] + 1):
        ys.append(g.target(f"y{j}", tex=f"y_{{{j}}}", kind="y", meta={"index": (j,)}))
        names["y"].append(f"y{j}")
    if cost == "quadratic":
        C = sp.Add(*[(a - y) ** 2 for a, y in zip(prev, ys)]) / 2
    elif cost == "cross_entropy":
        C = -sp.Add(*[y * sp.log(a) + (1 - y) * sp.log(1 - a) for a, y in zip(prev, ys)])
    else:
        C = -sp.Add(*[y * sp.log(a) for a, y in zip(prev, ys)])
    lam = _decay(weight_decay)
    if lam is not None:
        C = C + lam * sp.Add(*[n.symbol**2 for n in g.parameters if n.kind == "w"])
    g.add("C", C, role="cost", tex="C", kind="C")
    return Network(g, sizes, act, cost, "neuron", output, weight_decay, 1, names)
