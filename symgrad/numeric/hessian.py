r"""A numeric Hessian in one call: H_ij = ∂²C/∂θ_i∂θ_j from the second-derivative nodes, compiled.

`hessian` adds the nodes ∂²C/∂θ_i∂θ_j to the graph by backprop on the derivative nodes
(`symgrad.core.hessian.hessian_nodes`, Deep Learning book §6.5.6), compiles them
(`symgrad.numeric.compile`) and returns their values as a NumPy array whose rows and
columns are the parameters in the order `.names` states.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.graph import Graph, as_graph, find_cost
from ..core.hessian import hessian_nodes
from ..errors import GraphError, UsageError
from ..networks import Network, mlp, neuron_params, param_shapes
from .compile import CompiledModel, as_columns, compile_graph

__all__ = ["Hessian", "hessian"]


class Hessian(np.ndarray):
    """An n × n array H with H[i, j] = ∂²C/∂θ_i∂θ_j, and `names`: θ_1, ..., θ_n, its rows' (and columns') order.

    `H.index("w2_1_1")` is the row of a parameter. It is a NumPy array in every other way.
    """

    names: tuple[str, ...]

    def __new__(cls, values: Any, names: Sequence[str]) -> Hessian:
        obj = np.asarray(values, dtype=float).view(cls)
        obj.names = tuple(names)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.names = getattr(obj, "names", ())

    def index(self, name: str) -> int:
        """The row (and column) of parameter `name`."""
        try:
            return self.names.index(name)
        except ValueError:
            raise UsageError(f"{name!r} is not one of the Hessian's parameters ({', '.join(self.names)})") from None


#: graph -> {(cost, wrt, dtype): (compiled model, entry names)}: a second call compiles nothing
_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hessian(
    net_or_graph: Network | Graph,
    at: Mapping[str, Any] | None = None,
    *,
    cost: str | None = None,
    wrt: Sequence[str] | None = None,
    dtype: str = "float64",
) -> Hessian:
    r"""The Hessian H_ij = ∂²C/∂θ_i∂θ_j of a network or a graph at a point, as a NumPy array.

    `at` gives the values: for a network, `x` and `y` as n_1 × m and n_L × m arrays
    (one example per column; a 1-D array is one example; rows, m × n, are taken too when the
    shape says so unambiguously), and parameters as layer arrays `W2`, `b2`, ... (default:
    the network's own values); for a graph, `{leaf name: value}` (default: the stored values).
    Over a mini-batch, H is the sum of the examples' Hessians, the weight decay's 2λ counted once.

    The parameters θ are `wrt` (default: every parameter, in the graph's order) and are the
    rows and columns in the order `H.names` states; for a neuron-level network that is layer
    by layer, each row of `W^l` then its bias: `w^l_{j1}, ..., w^l_{jn}, b^l_j`. A layer-level
    network is differentiated through its neuron-level twin (the same specification and
    parameters), so its Hessian has the same names. `cost` defaults to the network's cost or
    the graph's one cost node. The second-derivative nodes are added to the graph (as backprop
    adds the first); a second call at another point compiles nothing.
    """
    graph = as_graph(net_or_graph)
    net = net_or_graph if isinstance(net_or_graph, Network) else None
    at = {} if at is None else at
    if not isinstance(at, Mapping):
        raise UsageError(f"at must be a dictionary of values ({{'x': ..., 'y': ...}}), got {type(at).__name__}",
                         arg="at")
    if net is not None and net.level == "layer":
        return hessian(_neuron_twin(net, at), _without_params(net, at), cost=cost, wrt=wrt, dtype=dtype)
    cost = net.cost_node if net is not None and cost is None else find_cost(graph, cost)
    params = [p.name for p in graph.parameters] if wrt is None else [graph.node(w).name for w in wrt]
    model, names = _model(graph, cost, params, dtype)
    values = _values(graph, net, at, model)
    out = model.batch_sum(values)
    H = np.zeros((len(params), len(params)))
    for i, row in enumerate(names):
        for j, name in enumerate(row):
            if name is not None:
                H[i, j] = out[name]
    return Hessian(H, params)


def _model(graph: Graph, cost: str, params: list[str], dtype: str) -> tuple[CompiledModel, list[list[str | None]]]:
    key = (cost, tuple(params), dtype)
    cache = _MODELS.setdefault(graph, {})
    if key not in cache:
        for p in params:
            if graph.node(p).is_matrix:
                raise GraphError(
                    f"hessian needs scalar parameters; {p!r} is a {graph.node(p).shape[0]}×{graph.node(p).shape[1]} "
                    "matrix: write it as scalar nodes, or give a layer-level network (sg.mlp(..., level='layer'))"
                )
        names = hessian_nodes(graph, cost, params)
        outputs = list(dict.fromkeys(n for row in names for n in row if n is not None))
        model = compile_graph(graph, cost=cost, outputs=outputs, dtype=dtype, name="hessian") if outputs else None
        cache[key] = (model, names)
    model, names = cache[key]
    if model is None:
        raise GraphError(f"the cost {cost!r} has no second derivatives in {', '.join(params)}: the Hessian is 0")
    return model, names


def _layer_arrays(net: Network, at: Mapping[str, Any]) -> dict[str, Any] | None:
    """Layer arrays W^l, b^l: those in `at` over the network's own values; None when `at` gives none."""
    keys = [k for k in param_shapes(net.sizes) if k in at]
    if not keys:
        return None
    own = net.params() if all(p.value is not None for p in net.graph.parameters) else {}
    return {**own, **{k: at[k] for k in keys}}


def _neuron_twin(net: Network, at: Mapping[str, Any]) -> Network:
    """The neuron-level network with `net`'s specification and parameters (those in `at` first)."""
    params = _layer_arrays(net, at)
    if params is None:
        params = net.params()
    return mlp(list(net.sizes), net.activation, net.cost, level="neuron", output=net.output,
               weight_decay=net.weight_decay, params=params)


def _without_params(net: Network, at: Mapping[str, Any]) -> dict[str, Any]:
    shapes = param_shapes(net.sizes)
    return {k: v for k, v in at.items() if k not in shapes}


def _values(graph: Graph, net: Network | None, at: Mapping[str, Any], model: CompiledModel) -> dict[str, Any]:
    """`{leaf: value}` for the model's arguments: `at`, then the stored values."""
    values: dict[str, Any] = {}
    if net is not None:
        layer = _layer_arrays(net, at)
        if layer is not None:
            check = mlp(list(net.sizes), net.activation, net.cost, level="layer", output=net.output, params=layer)
            values.update(neuron_params(net, check.params()))  # checked: every array there, of its shape
        at = _without_params(net, at)
        for key, names, n in (("x", net.names["x"], net.sizes[0]), ("y", net.names["y"], net.sizes[-1])):
            if key in at:
                cols = as_columns(key, at[key], n)
                values.update({name: cols[k] for k, name in enumerate(names)})
        at = {k: v for k, v in at.items() if k not in ("x", "y")}
    unknown = [k for k in at if k not in graph]
    if unknown:
        raise UsageError(f"at: {', '.join(map(repr, unknown))} is not a node of graph {graph.name!r}", arg="at")
    values.update(at)
    missing = []
    for a in model.args:
        if a not in values:
            v = graph.node(a).value
            if v is None:
                missing.append(a)
            values[a] = v
    if missing:
        what = "give x and y in at (n × m arrays, one example per column)" if net is not None else "give them in at"
        raise UsageError(f"hessian needs a value for {', '.join(map(repr, missing))}: {what}", arg="at")
    return values
