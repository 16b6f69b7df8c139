r"""The chain rule written out: ∂C/∂w as a sum over paths of products of local partials.

For a scalar graph, with every path `w = u_0 → u_1 → … → u_k = C` through the
forward nodes,

    ∂C/∂w = Σ_{paths} Π_{i=1..k} ∂u_i/∂u_{i−1},

where each local partial `∂u_i/∂u_{i−1}` is the derivative of node `u_i`'s own
expression with respect to its parent's symbol (the other parents held fixed).
This is the form hand-written worked examples use, e.g. for the 2-2-2 network

    ∂E/∂w_5 = ∂E/∂out_{o1} · ∂out_{o1}/∂net_{o1} · ∂net_{o1}/∂w_5
            = 0.74136507 × 0.186815602 × 0.593269992 = 0.082167041,

and, for `w_1`, a sum over the two paths through o1 and o2. It is a *view* for
teaching: the number of paths can grow exponentially with depth, which is why
`symgrad.backprop` instead sums at each node once (Deep Learning book
§6.5.6; the two agree, as the tests check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import sympy as sp

from ..core.graph import Graph
from ..core.rules import local_partial
from ..errors import GraphError
from ..printing.latex import BookLatexPrinter, tex_names

#: More paths than this is a graph for `symgrad.backprop`, not for a hand-style printout.
MAX_PATHS = 256


@dataclass
class Factor:
    r"""One local partial ∂`child`/∂`parent` on a path.

    `expr` is the partial as a SymPy expression in the forward nodes' symbols
    (e.g. `sigmoid_prime(net_o1)`); `frac` its LaTeX name
    (`\frac{\partial out_{o1}}{\partial net_{o1}}`) and `expr_tex` its
    formula; `value` its number when asked for.
    """

    child: str
    parent: str
    expr: sp.Basic
    frac: str
    expr_tex: str
    value: float | None = None


@dataclass
class ChainRule:
    r"""∂`cost`/∂`wrt` as Σ_paths Π factors.

    `paths[p]` lists node names from `cost` down to `wrt` and
    `factors[p]` the local partials along it, in the same order (outermost
    first, as books write ∂E/∂out · ∂out/∂net · ∂net/∂w). `expr` is the sum of
    products as one SymPy expression; `tex` the whole equation in LaTeX
    (fractions = formulas [= numbers = value]); `value` the number when
    `numbers=True`.
    """

    cost: str
    wrt: str
    paths: list[list[str]]
    factors: list[list[Factor]]
    expr: sp.Basic
    tex: str
    value: float | None = None
    lhs: str = ""
    parts: dict[str, str] = field(default_factory=dict)

    def _repr_latex_(self) -> str:
        return f"$${self.tex}$$"


def _fmt(x: float) -> str:
    """A number to 9 significant digits, as worked examples print them."""
    return f"{x:.9g}"


def chain_rule(
    graph: Graph,
    cost: str,
    wrt: str,
    numbers: bool = False,
    values: Mapping[str, Any] | None = None,
) -> ChainRule:
    r"""∂cost/∂wrt written as a sum over paths of products of local partials.

    `paths` run through forward nodes only (derivative nodes added by
    `symgrad.backprop` are ignored). Each factor `∂u_i/∂u_{i−1}` is
    `symgrad.core.rules.local_partial` of u_i's expression. With
    `numbers=True` every factor is evaluated at the graph's values
    (`Graph.evaluate`, leaf values overridden by `values`) and the
    result's `tex` ends `= a \times b \times c = value`.

    Raises `GraphError` when `wrt` does not reach `cost`, when a node
    on a path is a matrix (write the layer level with BP1–BP4 instead), or when
    there are more than `MAX_PATHS` paths.
    """
    cnode, wnode = graph.node(cost), graph.node(wrt)
    paths = _paths(graph, cnode.name, wnode.name)
    printer = BookLatexPrinter(tex_names(graph))

    def tex_of(name: str) -> str:
        node = graph.node(name)
        return node.tex or printer.doprint(node.symbol)

    subs: dict[sp.Basic, sp.Basic] = {}
    if numbers:
        vals = graph.evaluate(values, names=graph.upstream([cnode.name]))
        subs = {graph.node(n).symbol: sp.Float(v, 30) for n, v in vals.items()}
    factors: list[list[Factor]] = []
    for p in paths:
        row = []
        for child, parent in zip(p, p[1:]):
            expr = local_partial(graph.node(child).expr, graph.node(parent).symbol)
            value = float(sp.sympify(expr.xreplace(subs)).evalf()) if numbers else None
            frac = rf"\frac{{\partial {tex_of(child)}}}{{\partial {tex_of(parent)}}}"
            row.append(Factor(child, parent, expr, frac, printer.doprint(expr), value))
        factors.append(row)
    expr = sp.Add(*[sp.Mul(*[f.expr for f in row]) for row in factors])
    lhs = rf"\frac{{\partial {tex_of(cnode.name)}}}{{\partial {tex_of(wnode.name)}}}"
    parts = _parts(factors, numbers)
    value = sum(_product([f.value for f in row]) for row in factors) if numbers else None
    tex = " = ".join([lhs, *parts.values()])
    return ChainRule(cnode.name, wnode.name, paths, factors, expr, tex, value, lhs, parts)


def _paths(graph: Graph, cost: str, wrt: str) -> list[list[str]]:
    """Every path from `wrt` up to `cost` through forward nodes, each listed from `cost` down."""
    forward = graph.nx.subgraph(n for n in graph.nx.nodes if graph.node(n).role != "derivative")
    if cost not in forward or wrt not in forward:
        raise GraphError(f"chain_rule: {cost!r} and {wrt!r} must be forward (non-derivative) nodes")
    if wrt == cost or not nx.has_path(forward, wrt, cost):
        raise GraphError(f"node {wrt!r} does not reach cost {cost!r}: there is no path to write a chain rule along")
    paths: list[list[str]] = []
    for p in nx.all_simple_paths(forward, wrt, cost):
        paths.append(p[::-1])
        if len(paths) > MAX_PATHS:
            raise GraphError(
                f"chain_rule: more than {MAX_PATHS} paths from {wrt!r} to {cost!r}; "
                "use symgrad.backprop, which sums at each node once"
            )
    # Upwards from wrt, earlier nodes first: the path through o1 before the one through o2.
    rank = {n: i for i, n in enumerate(graph.topological_order())}
    paths.sort(key=lambda p: [rank[n] for n in reversed(p)])
    for p in paths:
        for n in p:
            if graph.node(n).is_matrix:
                raise GraphError(f"chain_rule: node {n!r} is a matrix; chain_rule writes scalar graphs")
    return paths


def _parts(factors: list[list[Factor]], numbers: bool) -> dict[str, str]:
    """The right-hand sides: fractions, formulas and (with `numbers`) numbers and the value."""

    def joined(pieces: list[list[str]], sep: str) -> str:
        products = [sep.join(r) for r in pieces]
        if len(products) == 1:
            return products[0]
        return " + ".join(rf"\left({q}\right)" for q in products)

    def formula(f: Factor) -> str:
        return rf"\left({f.expr_tex}\right)" if isinstance(f.expr, sp.Add) else f.expr_tex

    parts = {
        "fractions": joined([[f.frac for f in row] for row in factors], " "),
        "formulas": joined([[formula(f) for f in row] for row in factors], r" \cdot "),
    }
    if numbers:
        parts["numbers"] = joined([[_fmt(f.value) for f in row] for row in factors], r" \times ")
        parts["value"] = _fmt(sum(_product([f.value for f in row]) for row in factors))
    return parts


def _product(xs: list[float | None]) -> float:
    out = 1.0
    for x in xs:
        out *= float(x)  # type: ignore[arg-type]
    return out


__all__ = ["MAX_PATHS", "ChainRule", "Factor", "chain_rule"]
