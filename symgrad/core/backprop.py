r"""The symbol-to-symbol backprop pass (Deep Learning book §6.5.5–6.5.6).

`backprop` walks the graph in reverse topological order keeping a grad
table. For every node u on a path from a differentiated node to the cost C it
adds one *derivative node* ∂C/∂u whose expression is

    ∂C/∂u = Σ_{v ∈ consumers(u)} (∂C/∂v) · ∂v/∂u

written with the symbols of ∂C/∂v and of the forward nodes — nothing is
inlined — so the result is again a graph, which can be printed, evaluated,
compiled or differentiated again.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from ..errors import GraphError, RuleError
from .graph import Graph, Node
from .rules import pullback


def derivative_name(cost: str, node: str) -> str:
    """The name of the derivative node ∂cost/∂node: `"dC/dz2"`."""
    return f"d{cost}/d{node}"


def derivative_tex(graph: Graph, cost: Node, node: Node) -> str:
    """LaTeX for ∂C/∂u: δ for a pre-activation z (Nielsen's error), ∇_a C for a matrix, else a fraction."""
    ctex = cost.tex or sp.latex(cost.symbol)
    utex = node.tex or sp.latex(node.symbol)
    # δ means ∂C/∂z for the network's cost only, not for a second derivative ∂(∂C/∂w)/∂z.
    if node.kind == "z" and utex.startswith("z") and cost.role == "cost":
        return r"\delta" + utex[1:]
    if node.is_matrix and node.role != "parameter":
        return rf"\nabla_{{{utex}}} {ctex}"
    return rf"\frac{{\partial {ctex}}}{{\partial {utex}}}"


def backprop(graph: Graph, cost: str | sp.Basic, wrt: Iterable[str] | None = None) -> dict[str, str]:
    """Add the derivative nodes ∂cost/∂u to `graph`; return `{u: name of ∂cost/∂u}` for `wrt`.

    `wrt` defaults to the graph's parameters. Derivative nodes are added for
    every node on a path from a `wrt` node to `cost` (so ∂C/∂z^l = δ^l is a
    node of its own and is shared by ∂C/∂W^l and ∂C/∂b^l).

    Calling it again for the same cost reuses the derivative nodes already
    there and adds only the missing ones (a derivative node is complete: it sums
    every consumer on a path to the cost). A `wrt` node from which the cost
    cannot be reached raises `GraphError`; so does a non-scalar cost.
    Derivative nodes are ordinary nodes: backprop from one of them (e.g. a
    scalar ∂C/∂w) gives second derivatives.
    """
    cost_node = graph.node(cost)
    if cost_node.is_matrix and tuple(cost_node.shape) != (1, 1):
        raise GraphError(
            f"cost {cost_node.name!r} has shape {cost_node.shape}; backprop needs a scalar cost "
            "(sum it, e.g. with a trace)"
        )
    if wrt is None:
        targets = [n.name for n in graph.parameters]
    else:
        targets = [graph.node(w).name for w in ([wrt] if isinstance(wrt, str) else wrt)]
    order, relevant = _between(graph, cost_node.name, targets)
    table = graph.derivatives.setdefault(cost_node.name, {})
    # A derivative that recomputes a forward node (softmax(z) in a softmax rule)
    # refers to that node's symbol instead.
    forward = {
        n.expr: n.symbol
        for n in graph.nodes(("intermediate", "cost"))
        if n.expr is not None and not n.expr.is_Atom
    }
    contributions: dict[str, list[sp.Basic]] = {n: [] for n in relevant}
    for name in order:
        node = graph.node(name)
        if name == cost_node.name:
            G: sp.Basic = sp.Identity(1) if node.is_matrix else sp.S.One
        elif name in table:
            G = graph.node(table[name]).symbol
        else:
            G = _add_derivative_node(graph, cost_node, node, contributions[name], table, forward)
        if node.expr is None:
            continue
        # A parent that already has its derivative node (an earlier call) is complete.
        parents = {
            graph.node(p).symbol: p
            for p in graph.nx.predecessors(name)
            if p in relevant and p not in table
        }
        if not parents:
            continue
        try:
            pulled = pullback(node.expr, G, parents)
        except RuleError as e:
            raise GraphError(f"node {name!r}: {e}") from None
        for s, c in pulled.items():
            contributions[parents[s]].append(c)
    return {t: table[t] for t in targets}


def _between(graph: Graph, cost: str, targets: list[str]) -> tuple[list[str], set[str]]:
    """The nodes on a path from a `targets` node to `cost`: in reverse topological order, and as a set."""
    upstream = graph.upstream([cost])
    ancestors = set(upstream)
    for t in targets:
        if t not in ancestors:
            raise GraphError(
                f"node {t!r} does not reach cost {cost!r}: ∂{cost}/∂{t} is 0 everywhere (is it used by the network?)"
            )
    # One multi-source walk: the nodes downstream of any wrt node.
    relevant = set(targets)
    stack = list(targets)
    while stack:
        for s in graph.nx.successors(stack.pop()):
            if s not in relevant:
                relevant.add(s)
                stack.append(s)
    relevant &= ancestors
    return [n for n in reversed(upstream) if n in relevant], relevant


def _add_derivative_node(
    graph: Graph,
    cost: Node,
    node: Node,
    terms: list[sp.Basic],
    table: dict[str, str],
    forward: dict[sp.Basic, sp.Basic],
) -> sp.Basic:
    if node.is_matrix:
        expr = sp.MatAdd(*terms).doit() if len(terms) > 1 else terms[0]
    else:
        expr = sp.Add(*terms)
    if forward:
        expr = expr.xreplace(forward)
    name = derivative_name(cost.name, node.name)
    symbol = (
        sp.MatrixSymbol(name, *node.symbol.shape) if node.is_matrix else sp.Symbol(name, real=True)
    )
    graph.add(
        name,
        expr,
        role="derivative",
        symbol=symbol,
        tex=derivative_tex(graph, cost, node),
        kind="delta" if node.kind == "z" else "grad",
        of=node.name,
        cost=cost.name,
        meta=dict(node.meta),
    )
    table[node.name] = name
    return symbol


def expand(graph: Graph, node: str | sp.Basic) -> sp.Basic:
    """The closed form of a node in the leaves (inputs, parameters, targets).

    Substitutes every intermediate and derivative symbol by its expression,
    recursively: `expand(g, "dC/dw")` is ∂C/∂w as one formula, which equals
    `sympy.diff` of `expand(g, "C")` with respect to w.
    """
    target = graph.node(node)
    closed: dict[sp.Basic, sp.Basic] = {}
    for name in graph.upstream([target.name]):
        n = graph.node(name)
        if n.expr is None:
            continue
        closed[n.symbol] = n.expr.xreplace(closed) if closed else n.expr
    return closed.get(target.symbol, target.symbol)


def gradients(graph: Graph, cost: str | None = None) -> dict[str, str]:
    """`{parameter: derivative node}` from the backprop already run for `cost`."""
    if cost is None:
        if not graph.derivatives:
            raise GraphError("no backprop has been run on this graph yet")
        if len(graph.derivatives) > 1:
            raise GraphError("name the cost: the graph has derivatives of " + ", ".join(graph.derivatives))
        cost = next(iter(graph.derivatives))
    table = graph.derivatives.get(graph.node(cost).name)
    if table is None:
        raise GraphError(f"no backprop has been run for cost {cost!r}")
    return {p.name: table[p.name] for p in graph.parameters if p.name in table}
