r"""Multilayer perceptrons in Nielsen's notation, at neuron level or layer level.

Layer l = 1 is the input (a^1 = x); for l = 2..L

    z^l = W^l a^{l−1} + b^l,    a^l = σ(z^l),

with `w^l_{jk}` the weight from neuron k of layer l−1 to neuron j of layer l. The
*neuron level* has one scalar node per weight, bias, `z^l_j` and `a^l_j`; the *layer
level* has one matrix node per `W^l` (`n_l × n_{l−1}`), `b^l` (`n_l × 1`), z^l and a^l
(`n_l × m`, a mini-batch of m examples as columns; b^l is broadcast as `b^l 1ᵀ`).

Costs (summed over the examples of the batch):

* `quadratic`: `C = ½ Σ_x ‖a^L(x) − y(x)‖²`
* `cross_entropy` (with a sigmoid output, `a^L_j` in (0, 1)): `C = −Σ_x Σ_j [y_j ln a^L_j + (1 − y_j) ln(1 − a^L_j)]`
* `log_likelihood` (with `output="softmax"`, `n_L ≥ 2`): `C = −Σ_x Σ_j y_j ln softmax(z^L)_j`

`weight_decay=λ` adds `λ Σ_l ‖W^l‖²` (the sum of all squared weights).

This module also holds what is said once about a network's specification (`check_spec`,
used by `mlp`, the model file and the command line), its parameter shapes, and the
packing of neuron-level parameters `w^l_{jk}`, `b^l_j` into layer arrays W^l, b^l and back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .core import display
from .core.backprop import backprop
from .core.functions import ACTIVATIONS, activation, log_softmax, softmax
from .core.graph import Graph
from .core.names import COSTS, INITS, LEVELS, OUTPUTS, check_sizes, is_whole
from .errors import GraphError, UsageError

#: The values each output activation gives (said in the messages about outputs and costs).
RANGES = {"sigmoid": "(0, 1)", "tanh": "(−1, 1)", "relu": "[0, ∞)", "identity": "all of ℝ",
          "softmax": "(0, 1), summing to 1"}
#: What a network's specification holds (`Network.spec`, the model file's `spec`).
SPEC_KEYS = ("sizes", "activation", "cost", "output", "level", "weight_decay")


# ------------------------------------------------------------ specification
def _check_seed(seed: Any) -> None:
    if seed is not None and not (is_whole(seed) and seed >= 0):
        raise UsageError(f"seed must be None or a whole number ≥ 0, got {seed!r}", arg="seed")


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise UsageError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}", arg=name)


def _check_decay(wd: Any) -> Any:
    """λ: `None`, a finite number ≥ 0 (as a float), or a SymPy expression (a symbol λ, a Rational).

    Refused in the words training uses for its own `weight_decay` (`check_settings`).
    """
    if wd is None or (isinstance(wd, sp.Basic) and not (wd.is_number and wd.is_negative)):
        return wd
    ok = isinstance(wd, (int, float, np.integer, np.floating)) and not isinstance(wd, (bool, np.bool_))
    if not (ok and math.isfinite(float(wd)) and float(wd) >= 0):
        raise UsageError(f"weight_decay (λ) must be a finite number ≥ 0, got {wd!r}", arg="weight_decay")
    return float(wd)


def _check_agreement(sizes: tuple[int, ...], act: str, cost: str, output: str, given: bool) -> None:
    """The output layer and the cost agree: softmax goes with the log-likelihood (and `n_L ≥ 2`), and only
    with it; the cross-entropy takes ln a and ln(1 − a), so it needs outputs in (0, 1): a sigmoid."""
    if cost == "log_likelihood" and output != "softmax":
        raise UsageError(
            f"cost log_likelihood goes with a softmax output only (C = −Σ_j y_j ln softmax(z^L)_j), got "
            f"`output='{output}'`; leave `output` out or give `output='softmax'`", arg="cost"
        )
    if output == "softmax" and cost != "log_likelihood":
        raise UsageError(
            f"output softmax goes with cost log_likelihood only, got cost {cost}; give "
            f"`cost='log_likelihood'`, or another output for cost {cost} (`output='sigmoid'`)", arg="output"
        )
    if output == "softmax" and sizes[-1] < 2:
        raise UsageError(
            f"cost log_likelihood needs a softmax output of at least two neurons, but the last of `sizes` "
            f"is {sizes[-1]}; for one output neuron use cost cross_entropy with `output='sigmoid'`",
            arg="cost",
        )
    if cost == "cross_entropy" and output != "sigmoid":
        which = f"`output='{output}'`" if given else f"`activation='{output}'`, as `output` is not given"
        raise UsageError(
            f"cost cross_entropy needs outputs in (0, 1), as it takes ln a and ln(1 − a) of each output a, but "
            f"the output is {output} ({which}), with values in {RANGES.get(output, 'ℝ')}; use a sigmoid output "
            f"(`output='sigmoid'`), or cost log_likelihood with a softmax output (`cost='log_likelihood'`)", arg="cost"
        )


def check_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A network's specification with every key filled in, or a `UsageError` naming the fault.

    `sizes` [n_1, ..., n_L] (whole numbers, L ≥ 2, n_l ≥ 1), `activation` σ and `cost` C
    are required; `output` (the output layer's activation, one of `OUTPUTS`) defaults to
    softmax for the log-likelihood cost and to σ otherwise. The output and the cost must agree:
    softmax (`n_L ≥ 2`) goes with the log-likelihood and only with it; the cross-entropy takes
    ln a^L and ln(1 − a^L), so it needs a sigmoid output; the quadratic cost takes any other.
    `level` defaults to `"layer"`; `weight_decay` λ (None, or a finite number ≥ 0) to `None`.
    """
    if not isinstance(spec, Mapping):
        raise UsageError(f"the spec must be a dictionary, got {type(spec).__name__}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise UsageError(
            f"unknown spec key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(SPEC_KEYS)}; put other metadata in extra)"
        )
    for key in ("sizes", "activation", "cost"):
        if key not in spec:
            raise UsageError(f"the spec lacks {key!r}")
    sizes = check_sizes(spec["sizes"])
    act, cost = spec["activation"], spec["cost"]
    activation(act)
    _check_choice("cost", cost, COSTS)
    output = spec.get("output")
    given = output is not None
    if output is None:
        output = "softmax" if cost == "log_likelihood" else act
    _check_choice("output", output, OUTPUTS)
    _check_agreement(sizes, act, cost, output, given)
    level = "layer" if spec.get("level") is None else spec["level"]
    _check_choice("level", level, LEVELS)
    wd = _check_decay(spec.get("weight_decay"))
    return {"sizes": list(sizes), "activation": act, "cost": cost, "output": output, "level": level,
            "weight_decay": wd}


def describe(sizes: Sequence[int], activation: str, cost: str, output: str | None = None) -> str:
    """A network in words: `2-3-2 tanh network with a sigmoid output, cross_entropy cost`."""
    out = "" if output in (None, activation) else f" with a {output} output"
    return f"{'-'.join(map(str, sizes))} {activation} network{out}, {cost} cost"


def count_params(sizes: Sequence[int]) -> int:
    """The number of weights and biases, `Σ_l n_l (n_{l−1} + 1)`."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


def param_shapes(sizes: Sequence[int]) -> dict[str, tuple[int, int]]:
    """The parameter shapes a network of `sizes` implies: `W^l` `(n_l, n_{l−1})`, `b^l` `(n_l, 1)`."""
    shapes: dict[str, tuple[int, int]] = {}
    for l in range(2, len(sizes) + 1):
        shapes[f"W{l}"] = (int(sizes[l - 1]), int(sizes[l - 2]))
        shapes[f"b{l}"] = (int(sizes[l - 1]), 1)
    return shapes


def init_params(sizes: Sequence[int], init: str = "normal", seed: int | None = 0, dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Initial `{"W2": ..., "b2": ..., ...}` for a network of `sizes`.

    `normal`: w, b ~ N(0, 1) (Nielsen's `network.py`); `glorot`:
    w ~ N(0, 2/(n_in + n_out)), b = 0; `he`: w ~ N(0, 2/n_in), b = 0.
    One seeded generator draws the layers in order, so a seed fixes everything.
    """
    _check_choice("init", init, INITS)
    _check_seed(seed)
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


# ------------------------------------------------------------------ network
@dataclass
class Network:
    """A network's graph together with its specification.

    `graph` is the computational graph; `names` maps the book's symbols
    to node names, e.g. `names["W"][2] == "W2"` (layer level) or
    `names["w"][2][(1, 1)] == "w2_1_1"` (neuron level).
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
        """Run `symgrad.backprop` from the cost; `{parameter: derivative node}`."""
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

    def describe(self) -> str:
        """The network in words: `2-3-2 tanh network with a sigmoid output, cross_entropy cost`."""
        return describe(self.sizes, self.activation, self.cost, self.output)

    def params(self) -> dict[str, np.ndarray]:
        """The current parameter values as layer arrays `{"W2": ..., "b2": ...}` (copies).

        A network built without `seed` or `params` has none: a `GraphError` says how to give them.
        """
        g = self.graph
        missing = [p.name for p in g.parameters if p.value is None]
        if missing:
            which = ("parameters have no values" if len(missing) == len(g.parameters) else
                     f"parameter {missing[0]!r}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''} "
                     "has no value")
            raise GraphError(
                f"the {'-'.join(map(str, self.sizes))} network's {which}: build it with mlp(..., seed=0) (drawn "
                "by init_params) or mlp(..., params={'W2': ..., 'b2': ..., ...}), or call net.set_params({...})"
            )
        if self.level == "neuron":
            return layer_params(self, {p.name: p.value for p in g.parameters})
        return {key: np.array(g.node(key).value, dtype=float) for key in param_shapes(self.sizes)}  # copies

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Give the parameters values from layer arrays `{"W2": (n2, n1) array, "b2": ..., ...}`.

        The arrays are copied: changing them afterwards does not change the network.
        """
        if not isinstance(params, Mapping):
            raise GraphError(f"params must be a dictionary {{'W2': array, 'b2': array, ...}}, got {type(params).__name__}")
        arrays: dict[str, np.ndarray] = {}
        for key, shape in param_shapes(self.sizes).items():
            if key not in params:
                raise GraphError(f"parameter {key!r} is missing (network sizes {list(self.sizes)})")
            try:
                arr = np.array(params[key], dtype=float)  # a copy: the caller's array stays the caller's
            except (TypeError, ValueError):
                raise GraphError(f"parameter {key!r} must be an array of numbers, got {params[key]!r:.60}") from None
            if arr.shape == (shape[0],) and shape[1] == 1:
                arr = arr.reshape(shape)
            if arr.shape != shape:
                raise GraphError(f"parameter {key!r} has shape {arr.shape}, the network needs {shape}")
            arrays[key] = arr
        if self.level == "layer":
            for key, arr in arrays.items():
                self.graph.node(key).value = arr
        else:
            for name, v in neuron_params(self, arrays).items():
                self.graph.node(name).value = float(v)

    def __repr__(self) -> str:
        return (
            f"<Network {'-'.join(map(str, self.sizes))} {self.activation}/{self.output} "
            f"{self.cost} ({self.level} level, {len(self.graph)} nodes)>"
        )

    def _repr_latex_(self) -> str | None:
        tex = display.show("latex", self)
        return None if tex is None else f"$${tex}$$"

    def _repr_html_(self) -> str | None:
        """The picture of the graph above the formulas: what a notebook shows."""
        return display.show("html", self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """What a notebook is offered: HTML with the picture and the formulas (JupyterLab, the
        classic notebook and nbconvert's HTML all prefer it), LaTeX (for LaTeX/PDF export), text.

        No separate SVG: the HTML holds it, and a notebook would store the picture twice.
        """
        bundle = {"text/plain": repr(self)}
        for mime, make in (("text/html", self._repr_html_), ("text/latex", self._repr_latex_)):
            data = make()
            if data is not None:
                bundle[mime] = data
        return bundle


def neuron_params(net: Network, params: Mapping[str, Any], dtype: Any = None) -> dict[str, Any]:
    """The neuron-level parameters `{"w2_1_1": w^2_11, "b2_1": b^2_1, ...}` read off layer arrays W^l, b^l."""
    out: dict[str, Any] = {}
    for l in range(2, net.L + 1):
        W = np.asarray(params[f"W{l}"], dtype=dtype)
        b = np.asarray(params[f"b{l}"], dtype=dtype).reshape(-1, 1)
        for (j, k), name in net.names["w"][l].items():
            out[name] = W[j - 1, k - 1]
        for j, name in enumerate(net.names["b"][l]):
            out[name] = b[j, 0]
    return out


def layer_params(net: Network, values: Mapping[str, Any], dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Layer arrays `W^l` (`n_l × n_{l−1}`) and `b^l` (`n_l × 1`) from neuron-level values `{"w2_1_1": ..., ...}`."""
    out: dict[str, np.ndarray] = {}
    for l in range(2, net.L + 1):
        W = np.empty((net.sizes[l - 1], net.sizes[l - 2]), dtype=dtype)
        b = np.empty((net.sizes[l - 1], 1), dtype=dtype)
        for (j, k), name in net.names["w"][l].items():
            W[j - 1, k - 1] = values[name]
        for j, name in enumerate(net.names["b"][l]):
            b[j, 0] = values[name]
        out[f"W{l}"], out[f"b{l}"] = W, b
    return out


# ------------------------------------------------------------------ building
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
    """Build a multilayer perceptron `sizes = [n_1, ..., n_L]` as a graph.

    `activation` is σ for the hidden layers and, unless `output` says
    otherwise, the output layer (`output="softmax"` goes with
    `cost="log_likelihood"`). `level="layer"` builds matrix nodes with a
    batch of `batch` columns (default: the symbol m); `level="neuron"`
    builds one scalar node per neuron for a single example. Parameters get
    `params` (layer arrays `{"W2": ..., "b2": ...}`, copied) or, with `seed`,
    values drawn by `init_params` (`init`: one of `INITS`); with
    neither they have no values until `Network.set_params`. The
    specification is checked by `check_spec`, the arguments here too (a
    `UsageError` names the one at fault).
    """
    spec = check_spec({"sizes": sizes, "activation": activation, "cost": cost, "output": output, "level": level,
                       "weight_decay": weight_decay})
    sizes = tuple(spec["sizes"])
    _check_choice("init", init, INITS)
    if params is not None and seed is not None:
        raise UsageError("give params or seed, not both (seed draws the parameters params would give)", arg="seed")
    _check_seed(seed)
    if level == "layer" and not (batch is None or isinstance(batch, sp.Symbol) or (is_whole(batch) and batch >= 1)):
        raise UsageError(f"batch must be a whole number ≥ 1 or a SymPy symbol (default: the symbol m), got {batch!r}",
                         arg="batch")
    build = _layer_level if level == "layer" else _neuron_level
    net = build(sizes, activation, cost, spec["output"], weight_decay, batch)
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
        raise UsageError("batch: a neuron-level network holds one example; use level='layer' for a batch", arg="batch")
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
