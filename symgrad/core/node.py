"""One node of a computational graph: a name, a SymPy symbol for its value, a role, an expression.

The roles are the leaves' (`input` x, `parameter` w and b, `target` y) and the computed
nodes' (`intermediate`, `cost` C, and `derivative` ∂C/∂u, added by backprop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import display

ROLES = ("input", "parameter", "target", "intermediate", "cost", "derivative")
LEAF_ROLES = ("input", "parameter", "target")

Symbolish = sp.Symbol | sp.MatrixSymbol


@dataclass(eq=False)
class Node:
    """One node of a `Graph`.

    `symbol` stands for the node's value; `expr` (computed nodes only) is
    written in the parents' symbols. `tex` is the LaTeX used when the symbol is
    printed (e.g. `w^{2}_{13}` or `\\delta^{3}`). `kind` tags a network's
    nodes with the book's letter (`"w"`, `"b"`, `"z"`, `"a"`, ...).
    For a derivative node, `of` is the node differentiated and `cost` the
    node differentiated from: it holds ∂cost/∂of.
    """

    name: str
    symbol: Symbolish
    role: str
    expr: sp.Basic | None = None
    tex: str | None = None
    kind: str | None = None
    value: Any = None
    of: str | None = None
    cost: str | None = None
    meta: dict = field(default_factory=dict)
    graph: Any = field(default=None, repr=False)

    @property
    def shape(self) -> tuple | None:
        """`(rows, cols)` for a matrix node, `None` for a scalar."""
        return tuple(self.symbol.shape) if isinstance(self.symbol, MatrixExpr) else None

    @property
    def is_matrix(self) -> bool:
        return isinstance(self.symbol, MatrixExpr)

    def __repr__(self) -> str:
        tail = f" = {self.expr}" if self.expr is not None else ""
        return f"<{self.role} {self.name}{tail}>"

    def _repr_latex_(self) -> str | None:
        tex = display.show("latex", self)
        return None if tex is None else f"$${tex}$$"
