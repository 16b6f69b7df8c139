r"""A derivation report of one training step: what text 003 did by hand, for any small network.

For a network of neurons (net input `net`/z, output `out`/a = σ(z)) the
report writes

1. the forward pass — every z and a, as a formula and with the numbers in it;
2. the error E (quadratic: `E = Σ_o ½(target_o − out_o)²`; or the cross-entropy of a
   sigmoid output, or the log-likelihood of a softmax output);
3. the backward pass — for each neuron ∂E/∂out, ∂out/∂net and
   δ = ∂E/∂net = ∂E/∂out · ∂out/∂net, where a hidden neuron collects
   `∂E/∂out_h = Σ_k δ_k ∂net_k/∂out_h` from the neurons it feeds; and for every
   weight the chain-rule product

       ∂E/∂w = ∂E/∂out_j · ∂out_j/∂net_j · ∂net_j/∂w,

   written symbolically (fractions, then formulas) and then with the numbers;
4. the update w⁺ = w − η ∂E/∂w of every trained parameter, and the error after it;
5. a check: the same gradients from the derivative nodes `symgrad.backprop`
   adds to the graph (symbol to symbol), evaluated.

A softmax output neuron depends on every net input of its layer, so its
`δ_j = Σ_i ∂E/∂out_i · ∂out_i/∂net_j` is written as that sum (for the log-likelihood it
is `out_j Σ_i y_i − y_j`). A saved model says the network (sizes, activation, output, cost,
weight decay); arguments that say it too must agree with the file.

With `sizes=(2, 2, 2)` and no weights the network is text 003's (w1…w8, the
shared biases b1 = 0.35 and b2 = 0.60 which are not updated, inputs 0.05/0.10,
targets 0.01/0.99, η = 0.5), in the text's names (`net_{h1}`, `out_{o1}`,
`E_{total}`), and the report reproduces its figures (`out_{o1} = 0.75136507`,
`E_{total} = 0.298371109`, w5⁺ = 0.35891648, …). Any other small network is a
neuron-level `symgrad.mlp` in Nielsen's notation with seeded or given
weights.

The numbers come from `symgrad.derivation.steps`; this module writes them out, one
builder per section, as a `Report`: Markdown with the maths
as `$…$` LaTeX, or one self-contained HTML file whose maths is MathML.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.functions import sigmoid_prime, tanh_prime
from ..core.graph import Graph
from ..errors import UsageError
from ..networks import check_sizes, check_spec, count_params, describe, init_params
from ..printing.drawing import svg
from ..printing.latex import BookLatexPrinter
from ..printing.report import Equation, Figure, Paragraph, Report, Section, Table
from ..store.model_file import load_model
from .steps import (
    TEXT003,
    Neuron,
    Neurons,
    Step,
    feeds,
    is_quadratic,
    mlp_network,
    take_step,
    text003_network,
)

#: The figures text 003 prints (to compare with; its error after one step differs, see the report).
TEXT003_FIGURES = {"out_o1": "0.75136507", "E_total": "0.298371109", "E_total after 1 update": "0.291027924"}
#: Beyond this many trained parameters a hand-style report is no longer readable.
MAX_PARAMS = 120


# ------------------------------------------------------------------ numbers
def fmt(x: float) -> str:
    """A number as worked examples print it: 9 decimals, trailing zeros dropped (0.75136507)."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    if 1e-6 <= abs(x) < 1e6:
        s = f"{x:.9f}".rstrip("0").rstrip(".")
        return s if s not in ("", "-0", "0") else f"{x:.3e}"
    m, e = f"{x:.6e}".split("e")
    return rf"{m.rstrip('0').rstrip('.')} \times 10^{{{int(e)}}}"


def _num(x: float) -> str:
    """A number inside a formula: negative ones in brackets."""
    s = fmt(x)
    return rf"\left({s}\right)" if x < 0 else s


@dataclass
class StepReport(Report):
    """One training step explained: the `Report` and its numbers.

    `values` holds every forward node's value (`values["out_o1"]`) and the
    error; `gradients` ∂E/∂p and `updated` p⁺ for every trained parameter;
    `error_after` the error with the updated parameters; `backprop_gap`
    the largest difference between the chain-rule gradients and those of the
    derivative nodes `symgrad.backprop` adds.
    """

    values: dict[str, float] = field(default_factory=dict)
    gradients: dict[str, float] = field(default_factory=dict)
    updated: dict[str, float] = field(default_factory=dict)
    error: float = 0.0
    error_after: float = 0.0
    backprop_gap: float = 0.0
    graph: Graph | None = field(default=None, repr=False)


# ------------------------------------------------------------------ explain
def _floats(name: str, values: Any, n: int) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be numbers, got {values!r}", arg=name) from None
    if len(out) != n:
        raise UsageError(f"{name} needs {n} value{'s' if n != 1 else ''} (the layer's size), got {len(out)}", arg=name)
    if not all(math.isfinite(v) for v in out):
        raise UsageError(f"{name} must be finite numbers, got {values!r}", arg=name)
    return out


def load_weights(path: str | os.PathLike) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """`(spec or None, {"W2": …, "b2": …})` from a saved model or a plain `.npz` of W^l, b^l."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"weights {str(p)!r}: is a directory, not a saved model (.npz)", arg="weights")
    if not p.is_file():
        raise UsageError(f"weights {str(p)!r}: no such file", arg="weights")
    try:
        spec, params = load_model(p)
        return spec, dict(params)
    except UsageError as first:
        try:
            with np.load(p, allow_pickle=False) as z:
                params = {k: np.asarray(z[k], dtype=float) for k in z.files if re.fullmatch(r"[Wb][0-9]+", k)}
        except Exception:
            raise first from None
        if not params:
            raise first from None
        return None, params


def _check_finite(where: str, params: Mapping[str, Any]) -> None:
    for key, value in params.items():
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: parameter {key!r} is not an array of numbers", arg="weights") from None
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:  # a NaN would run through every formula of the report silently
            idx = tuple(int(i) for i in bad[0])
            raise UsageError(f"{where}: parameter {key!r} holds {arr[idx]} at index {idx}", arg="weights")


def _sizes_of(params: Mapping[str, Any]) -> tuple[int, ...] | None:
    """`[n_1, ..., n_L]` read off the shapes of `W^2`, ..., `W^L` (`n_l × n_{l−1}`); None if they do not say."""
    n = sum(1 for k in params if isinstance(k, str) and re.fullmatch(r"W[0-9]+", k))
    try:
        shapes = [np.shape(params[f"W{l}"]) for l in range(2, 2 + n)]
    except (KeyError, ValueError):
        return None
    if not shapes or any(len(s) != 2 for s in shapes):
        return None
    return (int(shapes[0][1]), *(int(s[0]) for s in shapes))


def _show(key: str, value: Any) -> str:
    return ",".join(map(str, value)) if key == "sizes" else str(value)


def _network(sizes: Any, activation: str | None, cost: str | None, output: str | None,
             weights: Any) -> tuple[dict[str, Any], Mapping[str, Any] | None, str]:
    """The network to explain (a checked spec), its parameters (None: text 003's or drawn) and their source.

    A saved model's spec is used whole; an argument that says otherwise is refused, by name.
    """
    given: dict[str, Any] = {"sizes": None if sizes is None else check_sizes(sizes), "activation": activation,
                             "output": output, "cost": cost}
    params: Mapping[str, Any] | None = None
    source, file_spec = "", None
    if isinstance(weights, (str, os.PathLike)):
        file_spec, params = load_weights(weights)
        _check_finite(f"weights {str(weights)!r}", params)
        source = f"loaded from {Path(weights).name}"
    elif weights is not None:
        if not isinstance(weights, Mapping):
            raise UsageError(f"weights must be a dictionary {{'W2': array, ...}} or the path of a saved model, got "
                             f"{type(weights).__name__}", arg="weights")
        _check_finite("weights", weights)
        params, source = weights, "given"
    if file_spec is not None:
        for key, mine in given.items():
            theirs = tuple(file_spec[key]) if key == "sizes" else file_spec[key]
            if mine is not None and mine != theirs:
                saved = describe(file_spec["sizes"], file_spec["activation"], file_spec["cost"], file_spec["output"])
                raise UsageError(
                    f"{key} {_show(key, mine)} contradicts `weights` {str(weights)!r}, a saved {saved}; leave "
                    f"`{key}` out to use the file's ({_show(key, theirs)})", arg=key
                )
        return check_spec({k: file_spec[k] for k in ("sizes", "activation", "cost", "output", "weight_decay")}), \
            params, source
    if given["sizes"] is None:
        given["sizes"] = (params is not None and _sizes_of(params)) or (2, 2, 2)
    return check_spec({**given, "activation": activation or "sigmoid", "cost": cost or "quadratic"}), params, source


def explain(
    sizes: Sequence[int] | None = None,
    activation: str | None = None,
    weights: Mapping[str, Any] | str | os.PathLike | None = None,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    lr: float = 0.5,
    *,
    cost: str | None = None,
    output: str | None = None,
    seed: int = 0,
    figure: bool = True,
) -> StepReport:
    """A `StepReport` of one gradient-descent step `p ← p − lr · ∂E/∂p` of a small network.

    `weights` are layer arrays `{"W2": …, "b2": …}` (the sizes follow from their shapes) or
    the path of a saved model, whose spec says the network: its sizes, `activation`,
    `output`, `cost` and weight decay are used, and an argument that contradicts them is
    refused. Otherwise `sizes` defaults to (2, 2, 2), `activation` to sigmoid, `cost`
    to quadratic and `output` as in `symgrad.mlp` (softmax for the log-likelihood).
    `sizes=(2, 2, 2)` with no `weights` is text 003's network (its weights, shared biases
    left fixed, and by default its inputs and targets); any other network is a neuron-level
    MLP with the `weights` or, without them, `symgrad.init_params` drawn with
    `seed`. `x` defaults to 0.05, 0.10, 0.15, … and `y` to 0.01, 0.99, 0.01, … (for the
    log-likelihood the one-hot 0, 1, 0, …). `figure` puts the graph's picture in the HTML
    (needs matplotlib; skipped without it).
    """
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise UsageError(f"lr must be a positive number, got {lr!r}", arg="lr")
    spec, params, source = _network(sizes, activation, cost, output, weights)
    sizes = tuple(spec["sizes"])
    n_params = count_params(sizes)
    if n_params > MAX_PARAMS:
        raise UsageError(
            f"sizes {','.join(map(str, sizes))} has {n_params} parameters; explain writes every one out by "
            f"hand and is for small networks (at most {MAX_PARAMS}); use symgrad derive for big ones", arg="sizes"
        )
    xs = None if x is None else _floats("x", x, sizes[0])
    ys = None if y is None else _floats("y", y, sizes[-1])
    act, cost, out = spec["activation"], spec["cost"], spec["output"]
    if params is None and sizes == (2, 2, 2):
        net = text003_network(act, xs, ys, cost, out)
    else:
        if params is None:
            params, source = init_params(sizes, "normal", seed), f"drawn from N(0, 1) with seed {seed}"
        if xs is None:
            xs = [round(0.05 * (k + 1), 10) for k in range(sizes[0])]
        if ys is None:
            hot = cost == "log_likelihood"
            ys = [(0.0 if hot else 0.01) if j % 2 == 0 else (1.0 if hot else 0.99) for j in range(sizes[-1])]
        net = mlp_network(sizes, act, params, xs, ys, cost, out, spec["weight_decay"])
    return _report(net, take_step(net, float(lr)), source, figure)


# ------------------------------------------------------------ the sections
class _Names:
    """LaTeX of node names, and the printers for formulas and for numbers."""

    def __init__(self, g: Graph, values: Mapping[str, float]) -> None:
        self.g = g
        self.tex = {n.symbol: (n.tex or n.name) for n in g.nodes()}
        self.sym = BookLatexPrinter(self.tex)
        self.num = BookLatexPrinter(
            {g.node(k).symbol: _num(v) for k, v in values.items()}, mul_symbol="times"
        )

    def __call__(self, name: str) -> str:
        return self.tex[self.g.node(name).symbol]

    def d(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {self(top)}}}{{\partial {self(bottom)}}}"


_SIGMA = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\mathrm{ReLU}", "identity": "f",
          "softmax": r"\mathrm{softmax}"}


def _sigma(name: str) -> str:
    """The LaTeX of an activation's name (σ, tanh, ReLU, f for the identity, softmax)."""
    return _SIGMA.get(name, rf"\mathrm{{{name}}}")


def _is_output(net: Neurons, depth: int) -> bool:
    return depth == len(net.layers) - 1


def _act_of(net: Neurons, depth: int) -> str:
    """The activation of `net.layers[depth]`: the output layer's is `net.output`."""
    return net.output if _is_output(net, depth) else net.activation


def _kind(net: Neurons) -> str:
    """`2-3-2 tanh network with a sigmoid output, cross_entropy cost` (text 003's: its own words)."""
    if net.text003:
        plain = net.activation == net.output == "sigmoid" and net.cost_name == "quadratic"
        return "text 003's 2-2-2 network" + ("" if plain else (
            f" ({net.activation}{'' if net.output == net.activation else f', {net.output} output'}, "
            f"{net.cost_name} cost)"))
    return describe([len(net.inputs), *map(len, net.layers)], net.activation, net.cost_name, net.output)


def _figure(g: Graph) -> list[Figure]:
    try:
        picture = svg(g, with_derivatives=False, title=g.name)
    except (UsageError, ImportError):  # no matplotlib: the report goes without its picture
        return []
    return [Figure(picture, "The network as a computational graph "
                            "(nodes hold SymPy expressions; edges are symbol dependencies).")]


def _network_section(net: Neurons, step: Step, T: _Names, source: str) -> Section:
    sec = Section("The network")
    if net.text003:
        acts = (f"all {net.activation}" if net.output == net.activation else
                f"the hidden ones {net.activation}, the outputs {net.output}")
        sec.blocks.append(Paragraph(
            "Text 003's network: two inputs, two hidden neurons h1, h2 and two output neurons o1, o2, "
            f"{acts}; the hidden neurons share the bias $b_{{1}}$ and the outputs share $b_{{2}}$. "
            "The biases are not updated, as in the text."
        ))
    else:
        L = len(net.layers) + 1
        hidden = f"$a^{{l}}_{{j}} = {_sigma(net.activation)}(z^{{l}}_{{j}})$"
        if net.softmax:
            top = rf"the softmax $a^{{{L}}}_{{j}} = e^{{z^{{{L}}}_{{j}}}} / \sum_k e^{{z^{{{L}}}_{{k}}}}$"
        else:
            top = f"$a^{{{L}}}_{{j}} = {_sigma(net.output)}(z^{{{L}}}_{{j}})$"
        acts = (hidden if net.output == net.activation else
                f"{hidden} in the hidden layers and {top} in the output layer" if L > 2 else top)
        decay = "" if not net.decay else (
            rf" The cost has weight decay $\lambda \sum w^{{2}}$ over the weights, $\lambda = {fmt(net.decay)}$.")
        sec.blocks.append(Paragraph(
            f"A {_kind(net)}, in Nielsen's notation: "
            "$w^{l}_{jk}$ is the weight from neuron $k$ of layer $l-1$ to neuron $j$ of layer $l$, "
            f"$z^{{l}}_{{j}} = \\sum_k w^{{l}}_{{jk}} a^{{l-1}}_{{k}} + b^{{l}}_{{j}}$ and {acts} "
            f"(layer 1 is the input, $a^{{1}} = x$). Weights and biases {source}.{decay}"
        ))
    g, values = net.graph, step.values
    sec.blocks.append(Table(
        ["", "value"],
        [[f"${T(n.name)}$", fmt(values[n.name])] for n in g.nodes(("input", "target"))]
        + [[f"${T(n.name)}$", fmt(values[n.name])] for n in g.parameters]
        + [[r"learning rate $\eta$", fmt(step.lr)]],
    ))
    return sec


def _act_phrase(name: str) -> str:
    if name == "sigmoid":
        return r"$\sigma(x) = 1/(1 + e^{-x})$"
    if name == "softmax":
        return r"the softmax $\mathrm{out}_j = e^{\mathrm{net}_j} / \sum_i e^{\mathrm{net}_i}$ over the layer"
    return f"${_sigma(name)}$"


def _forward_section(net: Neurons, step: Step, T: _Names) -> Section:
    values = step.values
    sec = Section("Forward pass")
    sec.blocks.append(Paragraph(
        "Each neuron adds up its weighted inputs and its bias (the net input), then applies the activation "
        + _act_phrase(net.activation)
        + ("" if net.output == net.activation else f"; the output layer applies {_act_phrase(net.output)}") + "."
    ))
    for depth, layer in enumerate(net.layers):
        act = _act_of(net, depth)
        sig = _sigma(act)
        for u in layer:
            sym = " + ".join([f"{T(w)} {T(s)}" for w, s in u.terms] + [T(b) for b in u.biases])
            nums = " + ".join([rf"{_num(values[w])} \times {_num(values[s])}" for w, s in u.terms]
                              + [_num(values[b]) for b in u.biases])
            sec.blocks.append(Equation(T(u.net), [sym, nums, fmt(values[u.net])]))
            if act == "softmax":
                rows = [rf"\frac{{e^{{{T(u.net)}}}}}{{{' + '.join(f'e^{{{T(v.net)}}}' for v in layer)}}}",
                        rf"\frac{{e^{{{_num(values[u.net])}}}}}"
                        rf"{{{' + '.join(f'e^{{{_num(values[v.net])}}}' for v in layer)}}}"]
            else:
                rows = [rf"{sig}\left({T(u.net)}\right)"]
                if act == "sigmoid":
                    rows.append(rf"\frac{{1}}{{1 + e^{{-{_num(values[u.net])}}}}}")
                else:
                    rows.append(rf"{sig}\left({_num(values[u.net])}\right)")
            rows.append(fmt(values[u.out]))
            sec.blocks.append(Equation(T(u.out), rows))
    return sec


def _error_section(net: Neurons, step: Step, T: _Names) -> Section:
    sec, values, E = Section("The error"), step.values, T(net.cost)
    if not is_quadratic(net):
        cost = net.graph.node(net.cost).expr
        sec.blocks.append(Equation(E, [T.sym.doprint(cost), T.num.doprint(cost), fmt(values[net.cost])]))
        return sec
    sec.blocks.append(Paragraph("The squared error of each output neuron, ½(target − out)², summed:"))
    terms_sym, terms_num = [], []
    for u, t in zip(net.layers[-1], net.targets, strict=False):
        e = 0.5 * (values[t] - values[u.out]) ** 2
        half = rf"\frac{{1}}{{2}}\left({T(t)} - {T(u.out)}\right)^{{2}}"
        rows = [rf"\frac{{1}}{{2}}\left({_num(values[t])} - {_num(values[u.out])}\right)^{{2}}", fmt(e)]
        if net.text003:  # the text names each output's share E_{o1}, E_{o2}
            sec.blocks.append(Equation(rf"E_{{{u.out[-2:]}}}", [half, *rows]))
        else:
            sec.blocks.append(Equation(half, rows))
        terms_sym.append(half)
        terms_num.append(fmt(e))
    sec.blocks.append(Equation(E, [" + ".join(terms_sym), " + ".join(terms_num), fmt(values[net.cost])]))
    return sec


def _activation_rows(step: Step, T: _Names, u: Neuron) -> tuple[list[str], str]:
    """The rows of ∂out/∂net (formula, the activation's own form, numbers) and the factor's LaTeX."""
    aexpr, out_t, a = step.d_act_expr[u.out], T(u.out), step.values[u.out]
    rows = [T.sym.doprint(aexpr)]
    factor = rows[0]
    if isinstance(aexpr, sigmoid_prime):
        factor = rf"{out_t}\left(1 - {out_t}\right)"
        rows += [factor, rf"{_num(a)}\left(1 - {_num(a)}\right)"]
    elif isinstance(aexpr, tanh_prime):
        sq = rf"\left({out_t}\right)^{{2}}" if re.search(r"[_^]", out_t) else rf"{out_t}^{{2}}"
        factor = rf"\left(1 - {sq}\right)"
        rows += [rf"1 - {sq}", rf"1 - {_num(a)}^{{2}}"]
    return [*rows, fmt(step.d_act[u.out])], factor


def _decay_rows(net: Neurons, step: Step, T: _Names, w: str) -> list[str]:
    """The weight-decay term 2λw of ∂C/∂w, as a formula and with the numbers ([] without decay)."""
    if w not in step.decay_terms:
        return ["", "", ""]
    return [rf" + 2 \lambda {T(w)}", rf" + 2 \lambda {T(w)}", rf" + 2 \times {fmt(net.decay)} \times {_num(step.values[w])}"]


def _softmax_blocks(net: Neurons, step: Step, T: _Names, u: Neuron) -> list:
    """δ_j of a softmax output neuron: Σ_i ∂E/∂out_i ∂out_i/∂net_j, with ∂out_i/∂net_j = out_i(1[i = j] − out_j)."""
    C, values, blocks = net.cost, step.values, []
    layer = net.layers[-1]
    out_j = T(u.out)
    for v in layer:
        out_i, a_i, a_j = T(v.out), values[v.out], values[u.out]
        if v is u:
            rows = [rf"{out_i}\left(1 - {out_i}\right)", rf"{_num(a_i)}\left(1 - {_num(a_i)}\right)"]
        else:
            rows = [rf"-{out_i} {out_j}", rf"-{_num(a_i)} \times {_num(a_j)}"]
        blocks.append(Equation(T.d(v.out, u.net), [*rows, fmt(step.jacobian[(v.out, u.net)])]))
    dt = _delta_tex(net.graph, u)
    blocks.append(Equation(rf"{dt} = {T.d(C, u.net)}", [
        " + ".join(rf"{T.d(C, v.out)} {T.d(v.out, u.net)}" for v in layer),
        " + ".join(rf"{_num(step.d_out[v.out])} \times {_num(step.jacobian[(v.out, u.net)])}" for v in layer),
        fmt(step.delta[u.net])]))
    if net.cost_name == "log_likelihood":
        t_j = net.targets[layer.index(u)]
        closed = values[u.out] * sum(values[t] for t in net.targets) - values[t_j]
        out_i, y_i = (re.sub(r"_\{[^{}]*\}$", "_{i}", T(n)) for n in (u.out, t_j))
        blocks.append(Paragraph(
            f"With the log-likelihood every $\\frac{{\\partial {T(C)}}}{{\\partial {out_i}}} = -{y_i} / {out_i}$, "
            f"so the sum is ${dt} = {out_j}\\left({' + '.join(T(t) for t in net.targets)}\\right) - {T(t_j)} = "
            f"{fmt(closed)}$: the output minus its target, for targets that sum to 1."))
    return blocks


def _neuron_blocks(net: Neurons, step: Step, T: _Names, depth: int, u: Neuron, delta_tex: dict[str, str]) -> list:
    """∂E/∂out, ∂out/∂net and δ of neuron `u`, then ∂E/∂p of its trained weights and biases."""
    values, C, blocks = step.values, net.cost, []
    d_out, d_act = step.d_out[u.out], step.d_act[u.out]
    if depth == len(net.layers) - 1:
        d_out_tex = T.sym.doprint(step.d_out_expr[u.out])
        blocks.append(Equation(T.d(C, u.out), [d_out_tex, T.num.doprint(step.d_out_expr[u.out]), fmt(d_out)]))
    else:
        fed = feeds(net, depth, u)
        fr = " + ".join(rf"{T.d(C, k.net)} {T.d(k.net, u.out)}" for k, _ in fed)
        d_out_tex = " + ".join(rf"{delta_tex[k.net]} {T(w)}" for k, w in fed)
        nums = " + ".join(rf"{_num(step.delta[k.net])} \times {_num(values[w])}" for k, w in fed)
        blocks.append(Equation(T.d(C, u.out), [fr, d_out_tex, nums, fmt(d_out)]))
    if _is_output(net, depth) and net.softmax:
        blocks += _softmax_blocks(net, step, T, u)
        dt = delta_tex[u.net] = _delta_tex(net.graph, u)
        for w, s in u.terms:
            if w in net.trained:
                dec = _decay_rows(net, step, T, w)
                blocks.append(Equation(T.d(C, w), [
                    rf"{T.d(C, u.net)} {T.d(u.net, w)}{dec[0]}", rf"{dt} {T(s)}{dec[1]}",
                    rf"{_num(step.delta[u.net])} \times {_num(values[s])}{dec[2]}", fmt(step.gradients[w])]))
        for b in u.biases:
            if b in net.trained:
                blocks.append(Equation(T.d(C, b), [
                    rf"{T.d(C, u.net)} {T.d(u.net, b)}", rf"{dt} \cdot 1", fmt(step.delta[u.net])]))
        return blocks
    rows, d_act_tex = _activation_rows(step, T, u)
    blocks.append(Equation(T.d(u.out, u.net), rows))
    dt = delta_tex[u.net] = _delta_tex(net.graph, u)
    blocks.append(Equation(rf"{dt} = {T.d(C, u.net)}", [
        rf"{T.d(C, u.out)} {T.d(u.out, u.net)}", rf"{_num(d_out)} \times {_num(d_act)}", fmt(step.delta[u.net])]))
    for w, s in u.terms:
        if w in net.trained:
            dec = _decay_rows(net, step, T, w)
            blocks.append(Equation(T.d(C, w), [
                rf"{T.d(C, u.out)} {T.d(u.out, u.net)} {T.d(u.net, w)}{dec[0]}",
                rf"{_bracket(d_out_tex)} {_bracket(d_act_tex)} {T(s)}{dec[1]}",
                rf"{_num(d_out)} \times {_num(d_act)} \times {_num(values[s])}{dec[2]}",
                fmt(step.gradients[w]),
            ]))
    for b in u.biases:
        if b in net.trained:
            blocks.append(Equation(T.d(C, b), [
                rf"{T.d(C, u.out)} {T.d(u.out, u.net)} {T.d(u.net, b)}", rf"{dt} \cdot 1", fmt(step.delta[u.net])]))
    return blocks


def _backward_section(net: Neurons, step: Step, T: _Names) -> Section:
    E = T(net.cost)
    sec = Section("Backward pass: the chain rule, neuron by neuron")
    sec.blocks.append(Paragraph(
        f"For a weight $w$ into neuron $j$, the chain rule gives "
        f"$\\frac{{\\partial {E}}}{{\\partial w}} = \\frac{{\\partial {E}}}{{\\partial \\mathrm{{out}}_j}} "
        f"\\frac{{\\partial \\mathrm{{out}}_j}}{{\\partial \\mathrm{{net}}_j}} "
        f"\\frac{{\\partial \\mathrm{{net}}_j}}{{\\partial w}}$. The first two factors make the neuron's error "
        f"$\\delta_j = \\frac{{\\partial {E}}}{{\\partial \\mathrm{{net}}_j}}$; a hidden neuron collects "
        f"$\\frac{{\\partial {E}}}{{\\partial \\mathrm{{out}}_h}} = \\sum_k \\delta_k "
        f"\\frac{{\\partial \\mathrm{{net}}_k}}{{\\partial \\mathrm{{out}}_h}}$ from the neurons $k$ it feeds, "
        "so the layers are done from the output back."
        + (" A softmax output depends on every net input of its layer, so an output neuron's "
           f"$\\delta_j = \\sum_i \\frac{{\\partial {E}}}{{\\partial \\mathrm{{out}}_i}} "
           "\\frac{\\partial \\mathrm{out}_i}{\\partial \\mathrm{net}_j}$ collects every output $i$."
           if net.softmax else "")
        + (" Weight decay adds $2 \\lambda w$ to each weight's gradient (not to δ)." if net.decay else "")
    ))
    delta_tex: dict[str, str] = {}
    for depth in range(len(net.layers) - 1, -1, -1):
        sec.blocks.append(Paragraph("Output layer." if depth == len(net.layers) - 1 else f"Hidden layer {depth + 1}."))
        for u in net.layers[depth]:
            sec.blocks += _neuron_blocks(net, step, T, depth, u, delta_tex)
    return sec


def _update_section(net: Neurons, step: Step, T: _Names) -> Section:
    E, values, lr = T(net.cost), step.values, step.lr
    sec = Section("The update")
    sec.blocks.append(Paragraph(
        f"Gradient descent moves every trained parameter against its gradient, $p^{{+}} = p - \\eta "
        f"\\frac{{\\partial {E}}}{{\\partial p}}$ with $\\eta = {fmt(lr)}$. All gradients use the weights "
        "before the update." + (" The biases stay as they are." if net.text003 else "")
    ))
    for p in step.order:
        sec.blocks.append(Equation(_updated(T(p)), [
            rf"{T(p)} - \eta {T.d(net.cost, p)}",
            rf"{_num(values[p])} - {fmt(lr)} \times {_num(step.gradients[p])}", fmt(step.updated[p])]))
    sec.blocks.append(Table(
        ["parameter", "before", "∂E/∂p" if net.text003 else "∂C/∂p", "after"],
        [[f"${T(p)}$", fmt(values[p]), fmt(step.gradients[p]), fmt(step.updated[p])] for p in step.order],
    ))
    sec.blocks.append(Paragraph(
        f"With the new parameters the error is ${E} = {fmt(step.error_after)}$ (it was ${fmt(values[net.cost])}$)."
    ))
    return sec


def _check_section(net: Neurons, step: Step, T: _Names) -> Section:
    E, values = T(net.cost), step.values
    sec = Section("Check: symbol-to-symbol backprop")
    sec.blocks.append(Paragraph(
        f"symgrad.backprop added {step.derivative_nodes} derivative nodes to the graph (one per node on a "
        f"path to ${E}$, each a formula in its neighbours' symbols). Evaluated, they give the same "
        f"{len(step.order)} gradients as the hand-style chain rule above: the largest difference is "
        f"{step.backprop_gap:.1e}."
    ))
    if net.text003:
        sec.blocks.append(Paragraph(
            f"Against text 003: it prints out_o1 = {TEXT003_FIGURES['out_o1']} and E_total = "
            f"{TEXT003_FIGURES['E_total']} (here {fmt(values.get('out_o1', float('nan')))} and "
            f"{fmt(values[net.cost])}). After the update it prints E_total = "
            f"{TEXT003_FIGURES['E_total after 1 update']}; exact arithmetic with the gradients above gives "
            f"{fmt(step.error_after)}. The text's figure is what one gets by updating w1…w4 with gradients computed "
            "from the already-updated w5…w8, although the text says it uses the old weights."
        ))
    return sec


def _report(net: Neurons, step: Step, source: str, want_figure: bool) -> StepReport:
    T = _Names(net.graph, step.values)
    sections = [
        _network_section(net, step, T, source),
        _forward_section(net, step, T),
        _error_section(net, step, T),
        _backward_section(net, step, T),
        _update_section(net, step, T),
        _check_section(net, step, T),
    ]
    if want_figure:
        sections[0].blocks[:0] = _figure(net.graph)
    title = f"One training step of {'' if net.text003 else 'a '}{_kind(net)}, explained"
    intro = (
        f"The forward pass, the error ${T(net.cost)}$, the chain rule for every "
        f"{'weight' if net.text003 else 'weight and bias'} (as fractions, as formulas, then with the numbers), "
        f"and the gradient-descent update, written out by symgrad."
    )
    return StepReport(title, [Paragraph(intro)], sections, values=dict(step.values), gradients=step.gradients,
                      updated=step.updated, error=step.values[net.cost], error_after=step.error_after,
                      backprop_gap=step.backprop_gap, graph=net.graph)


def _bracket(tex: str) -> str:
    """Brackets round a factor that is a sum (so a product of factors reads right)."""
    if tex.startswith(r"\left(") and tex.endswith(r"\right)") and tex.count(r"\left(") == 1:
        return tex
    bare = re.sub(r"\\left\(.*?\\right\)", "", tex)
    bare = re.sub(r"\{[^{}]*\}", "", bare)
    return rf"\left({tex}\right)" if re.search(r"[+-]", bare) else tex


def _updated(tex: str) -> str:
    r"""p⁺, the parameter after the update: `w_{5}^{+}`; a name that has a superscript already
    (Nielsen's layer, `w^{2}_{11}`) is bracketed, `\left(w^{2}_{11}\right)^{+}`, since a second
    superscript is an error in TeX and would read as part of the layer index."""
    bare = re.sub(r"\{[^{}]*\}", "", tex)
    return rf"\left({tex}\right)^{{+}}" if "^" in bare else rf"{tex}^{{+}}"


def _delta_tex(g: Graph, u: Neuron) -> str:
    net_tex = g.node(u.net).tex or u.net
    m = re.fullmatch(r"z\^\{(\d+)\}_\{(\d+)\}", net_tex)
    if m:
        return rf"\delta^{{{m.group(1)}}}_{{{m.group(2)}}}"
    m = re.fullmatch(r"\\mathrm\{net\}_\{(\w+)\}", net_tex)
    if m:
        return rf"\delta_{{{m.group(1)}}}"
    return rf"\delta_{{{net_tex}}}"


__all__ = ["MAX_PARAMS", "TEXT003", "TEXT003_FIGURES", "StepReport", "explain", "fmt", "load_weights"]
