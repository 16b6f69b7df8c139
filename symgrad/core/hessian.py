r"""Second derivatives by running backprop again on derivative nodes.

Derivative nodes are ordinary nodes, so backprop from a scalar derivative node
∂C/∂θ_i adds the nodes ∂²C/∂θ_i∂θ_j to the same graph (Deep Learning book
§6.5.6: symbol-to-symbol derivatives can be differentiated again). The rows of
the Hessian H_ij = ∂²C/∂θ_i∂θ_j are one such backprop each.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..errors import GraphError
from .backprop import backprop, expand
from .graph import Graph


def hessian_nodes(graph: Graph, cost: str, wrt: Sequence[str]) -> list[list[str | None]]:
    """Add the second-derivative nodes; `[[name of ∂²C/∂θ_i∂θ_j or None]]`.

    `None` marks an entry that is identically 0 because ∂C/∂θ_i does not
    depend on θ_j at all (no path in the graph).
    """
    wrt = [graph.node(w).name for w in wrt]
    for w in wrt:
        if graph.node(w).is_matrix:
            raise GraphError(f"hessian needs scalar nodes; {w!r} is a matrix (use a neuron-level network)")
    first = backprop(graph, cost, wrt)
    rows: list[list[str | None]] = []
    for w in wrt:
        d = first[w]
        reach = set(graph.upstream([d]))
        targets = [v for v in wrt if v in reach]
        second = backprop(graph, d, targets) if targets else {}
        rows.append([second.get(v) for v in wrt])
    return rows


def hessian(graph: Graph, cost: str, wrt: Sequence[str]) -> sp.Matrix:
    """The Hessian ∂²C/∂θ_i∂θ_j in closed form (leaves only), from second-derivative nodes."""
    names = hessian_nodes(graph, cost, wrt)
    return sp.Matrix([[sp.S.Zero if n is None else expand(graph, n) for n in row] for row in names])


__all__ = ["hessian", "hessian_nodes"]
