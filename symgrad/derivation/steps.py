r"""One gradient-descent step of a small network, neuron by neuron: what text 003 does by hand.

`Neurons` sees a graph neuron by neuron, layer by layer: each `Neuron` adds up
its weighted inputs and biases, `net_j = Σ_k w_jk out_k + b_j`, and applies the activation,
`out_j = f(net_j)` (a softmax output layer: `out_j = e^{net_j} / Σ_i e^{net_i}`); the error E is a
node of the same graph. `take_step` then works out, by the chain rule,

    ∂E/∂out_j    (an output neuron: from E itself; a hidden one: Σ_k δ_k w_kj over the neurons k it feeds),
    ∂out_j/∂net_j = f′(net_j),    δ_j = ∂E/∂net_j = ∂E/∂out_j · ∂out_j/∂net_j,
    ∂E/∂w_jk = δ_j out_k (+ 2λ w_jk with weight decay λ Σ w²),    ∂E/∂b_j = δ_j,    p⁺ = p − η ∂E/∂p,

where a softmax output neuron's `δ_j = Σ_i ∂E/∂out_i · ∂out_i/∂net_j` collects every output i,
with `∂out_i/∂net_j = out_i (1[i = j] − out_j)`. The gradients are checked against the
derivative nodes `symgrad.backprop` adds. `symgrad.derivation.explain` writes all of it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..core.backprop import backprop
from ..core.functions import activation
from ..core.graph import Graph
from ..core.rules import local_partial
from ..errors import UsageError
from ..networks import COSTS, mlp

#: Text 003's starting point (copied here: the product never reads the reference texts).
TEXT003 = {
    "inputs": {"i1": 0.05, "i2": 0.10},
    "targets": {"target_o1": 0.01, "target_o2": 0.99},
    "weights": {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55},
    "biases": {"b1": 0.35, "b2": 0.60},
    "lr": 0.5,
}


# ------------------------------------------------------------- the network
@dataclass
class Neuron:
    """One neuron: `net = Σ w·source + bias`, `out = f(net)` (node names)."""

    net: str
    out: str
    terms: list[tuple[str, str]]
    biases: list[str]


@dataclass
class Neurons:
    """A graph seen neuron by neuron: `layers` of neurons (the first hidden layer first), the
    input and target nodes, the error node `cost`, and the `trained` parameters."""

    graph: Graph
    layers: list[list[Neuron]]
    inputs: list[str]
    targets: list[str]
    cost: str
    trained: list[str]
    activation: str
    text003: bool = False
    #: the output layer's activation (`None`: `activation`), e.g. `"softmax"`
    output: str | None = None
    #: the name of the cost function (`symgrad.networks.COSTS`)
    cost_name: str = "quadratic"
    #: weight decay λ: the error has λ Σ w² over the weights (not the biases)
    decay: float | None = None

    def __post_init__(self) -> None:
        if self.output is None:
            self.output = self.activation

    @property
    def softmax(self) -> bool:
        """Whether the output layer is a softmax (each output depends on every net input of the layer)."""
        return self.output == "softmax"


def cost_expr(cost: str, outs: list[sp.Basic], ys: list[sp.Basic]) -> sp.Basic:
    """`E = Σ_o ½(target_o − out_o)²` (quadratic), the cross-entropy `−Σ_o [y ln a + (1 − y) ln(1 − a)]`,
    or the log-likelihood `−Σ_o y ln a` (of a softmax output)."""
    pairs = list(zip(outs, ys, strict=False))
    if cost == "quadratic":
        return sp.Rational(1, 2) * sp.Add(*[(y - a) ** 2 for a, y in pairs])
    if cost == "cross_entropy":
        return -sp.Add(*[y * sp.log(a) + (1 - y) * sp.log(1 - a) for a, y in pairs])
    if cost == "log_likelihood":
        return -sp.Add(*[y * sp.log(a) for a, y in pairs])
    raise UsageError(f"unknown cost {cost!r}; choose one of {', '.join(COSTS)}", arg="cost")


def is_quadratic(net: Neurons) -> bool:
    """Whether the error node is `½ Σ_o (target_o − out_o)²` (then it is written out term by term)."""
    outs = [net.graph[u.out] for u in net.layers[-1]]
    ys = [net.graph[t] for t in net.targets]
    return sp.simplify(net.graph.node(net.cost).expr - cost_expr("quadratic", outs, ys)) == 0


def text003_network(activation_name: str = "sigmoid", x: Sequence[float] | None = None,
                    y: Sequence[float] | None = None, cost: str = "quadratic", output: str | None = None) -> Neurons:
    """Text 003's 2-2-2 network in its own names (`net_{h1}`, `out_{h1}`, …, `E_{total}`); `output` is the
    output layer's activation (default `activation_name`; `"softmax"` for the log-likelihood)."""
    f = activation(activation_name)
    output = output or activation_name
    f_out = None if output == "softmax" else activation(output)
    g = Graph("text 003's 2-2-2 network")
    xs = dict(zip(TEXT003["inputs"], x, strict=False)) if x is not None else TEXT003["inputs"]
    ts = dict(zip(TEXT003["targets"], y, strict=False)) if y is not None else TEXT003["targets"]
    for name, v in xs.items():
        g.input(name, value=float(v), tex=f"i_{{{name[1:]}}}")
    for name, v in TEXT003["weights"].items():
        g.parameter(name, value=v, tex=f"w_{{{name[1:]}}}")
    for name, v in TEXT003["biases"].items():
        g.parameter(name, value=v, tex=f"b_{{{name[1:]}}}")
    for name, v in ts.items():
        g.target(name, value=float(v), tex=rf"\mathrm{{target}}_{{{name[-2:]}}}")
    wiring = {"h1": (("w1", "i1"), ("w2", "i2"), "b1"), "h2": (("w3", "i1"), ("w4", "i2"), "b1"),
              "o1": (("w5", "out_h1"), ("w6", "out_h2"), "b2"), "o2": (("w7", "out_h1"), ("w8", "out_h2"), "b2")}
    layers: list[list[Neuron]] = [[], []]
    for k, (unit, (t1, t2, b)) in enumerate(wiring.items()):
        layers[k // 2].append(Neuron(f"net_{unit}", f"out_{unit}", [t1, t2], [b]))
    for depth, layer in enumerate(layers):
        nets = [g.add(u.net, sp.Add(*[g[w] * g[s] for w, s in u.terms], *[g[b] for b in u.biases]),
                      tex=rf"\mathrm{{net}}_{{{u.net[4:]}}}", kind="z") for u in layer]
        for u, z in zip(layer, nets, strict=False):
            if depth == 1 and f_out is None:
                expr = sp.exp(z) / sp.Add(*[sp.exp(zk) for zk in nets])
            else:
                expr = (f if depth == 0 else f_out)(z)
            g.add(u.out, expr, tex=rf"\mathrm{{out}}_{{{u.out[4:]}}}", kind="a")
    outs = [g["out_o1"], g["out_o2"]]
    ys = [g["target_o1"], g["target_o2"]]
    g.add("E_total", cost_expr(cost, outs, ys), role="cost", tex=r"E_{\mathrm{total}}")
    return Neurons(g, layers, list(xs), list(ts), "E_total", list(TEXT003["weights"]), activation_name, text003=True,
                   output=output, cost_name=cost)


def mlp_network(sizes: Sequence[int], activation_name: str, params: Mapping[str, Any], x: Sequence[float],
                y: Sequence[float], cost: str = "quadratic", output: str | None = None,
                weight_decay: float | None = None) -> Neurons:
    """A neuron-level MLP in Nielsen's notation (`x_k`, `w^l_{jk}`, `b^l_j`, `z^l_j`, `a^l_j`, `y_j`, C)."""
    net = mlp(sizes, activation_name, cost, level="neuron", params=params, output=output, weight_decay=weight_decay)
    g = net.graph
    for name, v in zip(net.names["x"], x, strict=False):
        g.node(name).value = float(v)
    for name, v in zip(net.names["y"], y, strict=False):
        g.node(name).value = float(v)
    layers = []
    for l in range(2, net.L + 1):
        sources = net.names["a"][l - 1]
        layers.append([
            Neuron(f"z{l}_{j}", f"a{l}_{j}", [(net.names["w"][l][(j, k)], sources[k - 1])
                                              for k in range(1, net.sizes[l - 2] + 1)], [f"b{l}_{j}"])
            for j in range(1, net.sizes[l - 1] + 1)
        ])
    trained = [n.name for n in g.parameters]
    return Neurons(g, layers, list(net.names["x"]), list(net.names["y"]), "C", trained, activation_name,
                   output=net.output, cost_name=cost, decay=None if weight_decay is None else float(weight_decay))


# ---------------------------------------------------------------- the step
@dataclass
class Step:
    """The numbers of one step of gradient descent with learning rate `lr`.

    `values` holds every forward node's value and the error; per neuron `d_out` is
    ∂E/∂out, `d_act` ∂out/∂net (by output name) and `delta` δ = ∂E/∂net (by net name),
    with `d_out_expr`/`d_act_expr` the local partials they come from (the output layer's
    ∂E/∂out, every ∂out/∂net); for a softmax output `jacobian[(out_i, net_j)]` holds every
    ∂out_i/∂net_j of the layer; `decay_terms` 2λw for each weight with weight decay;
    `gradients` ∂E/∂p and `updated` p⁺ for every trained
    parameter (`order`: in the graph's order); `error_after` the error with p⁺;
    `backprop_gap` the largest difference from the gradients of the derivative nodes
    `symgrad.backprop` adds (`derivative_nodes` of them).
    """

    lr: float
    values: dict[str, float]
    d_out: dict[str, float] = field(default_factory=dict)
    d_act: dict[str, float] = field(default_factory=dict)
    delta: dict[str, float] = field(default_factory=dict)
    d_out_expr: dict[str, sp.Basic] = field(default_factory=dict)
    d_act_expr: dict[str, sp.Basic] = field(default_factory=dict)
    jacobian: dict[tuple[str, str], float] = field(default_factory=dict)
    decay_terms: dict[str, float] = field(default_factory=dict)
    gradients: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    updated: dict[str, float] = field(default_factory=dict)
    error_after: float = 0.0
    backprop_gap: float = 0.0
    derivative_nodes: int = 0


def _value(expr: sp.Basic, subs: Mapping[sp.Basic, sp.Basic]) -> float:
    return float(sp.sympify(expr).xreplace(subs).evalf(30))


def feeds(net: Neurons, depth: int, u: Neuron) -> list[tuple[Neuron, str]]:
    """The neurons of the next layer that hidden neuron `u` (in `net.layers[depth]`) feeds, with the weight."""
    return [(k, w) for k in net.layers[depth + 1] for w, s in k.terms if s == u.out]


def _backward(net: Neurons, step: Step) -> None:
    """∂E/∂out, ∂out/∂net, δ and ∂E/∂p, from the output layer back (a hidden neuron needs the δ it feeds)."""
    g, values = net.graph, step.values
    subs = {g.node(k).symbol: sp.Float(v, 30) for k, v in values.items()}
    cost = g.node(net.cost)
    last = len(net.layers) - 1
    for u in net.layers[last]:  # every output's ∂E/∂out first: a softmax neuron's δ needs them all
        step.d_out_expr[u.out] = local_partial(cost.expr, g[u.out])
        step.d_out[u.out] = _value(step.d_out_expr[u.out], subs)
    for depth in range(last, -1, -1):
        for u in net.layers[depth]:
            if depth < last:
                step.d_out[u.out] = sum(step.delta[k.net] * values[w] for k, w in feeds(net, depth, u))
            step.d_act_expr[u.out] = local_partial(g.node(u.out).expr, g[u.net])
            step.d_act[u.out] = _value(step.d_act_expr[u.out], subs)
            if depth == last and net.softmax:
                for v in net.layers[last]:
                    step.jacobian[(v.out, u.net)] = _value(local_partial(g.node(v.out).expr, g[u.net]), subs)
                step.delta[u.net] = sum(step.d_out[v.out] * step.jacobian[(v.out, u.net)] for v in net.layers[last])
            else:
                step.delta[u.net] = step.d_out[u.out] * step.d_act[u.out]
            for w, s in u.terms:
                if w in net.trained:
                    step.gradients[w] = step.delta[u.net] * values[s]
                    if net.decay and g.node(w).kind == "w":
                        step.decay_terms[w] = 2 * net.decay * values[w]
                        step.gradients[w] += step.decay_terms[w]
            for b in u.biases:
                if b in net.trained:
                    step.gradients[b] = step.gradients.get(b, 0.0) + step.delta[u.net]


def take_step(net: Neurons, lr: float) -> Step:
    """One step p⁺ = p − lr · ∂E/∂p of every trained parameter, by the chain rule (see the module docstring)."""
    g = net.graph
    step = Step(lr, {k: float(v) for k, v in g.evaluate().items()})
    _backward(net, step)
    step.order = [n.name for n in g.parameters if n.name in step.gradients]
    step.updated = {p: step.values[p] - lr * step.gradients[p] for p in step.order}
    step.error_after = g.evaluate({**step.updated}, names=[net.cost])[net.cost]
    h = g.copy()
    table = backprop(h, net.cost, wrt=step.order)
    bvals = h.evaluate(names=[table[p] for p in step.order])
    step.backprop_gap = max((abs(bvals[table[p]] - step.gradients[p]) for p in step.order), default=0.0)
    step.derivative_nodes = len(h.nodes("derivative"))
    return step


__all__ = ["TEXT003", "Neuron", "Neurons", "Step", "cost_expr", "feeds", "is_quadratic", "mlp_network",
           "take_step", "text003_network"]
