"""Numbers from a graph: substitute leaf values and evaluate node by node.

This is the plain, exact-ish path (SymPy floats and explicit matrices) behind
`Graph.evaluate <symgrad.core.graph.Graph.evaluate>`, used for small worked
examples and checks; training uses `symgrad.numeric.compile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import sympy as sp

from ..errors import GraphError
from .node import Node


def _to_sympy(node_name: str, value: Any, shape: tuple | None) -> sp.Basic:
    if shape is None:
        if isinstance(value, sp.Basic):
            return value
        arr = np.asarray(value, dtype=float)
        if arr.size != 1:
            raise GraphError(f"node {node_name!r} is a scalar but its value has shape {arr.shape}")
        return sp.Float(float(arr.reshape(())))
    arr = np.asarray(value, dtype=object if isinstance(value, sp.MatrixBase) else float)
    if arr.ndim == 1 and shape[1] == 1:
        arr = arr.reshape(-1, 1)
    concrete = tuple(int(d) if d.is_Integer else None for d in map(sp.sympify, shape))
    if arr.ndim != 2 or any(c is not None and c != s for c, s in zip(concrete, arr.shape)):
        raise GraphError(f"node {node_name!r} has shape {shape} but its value has shape {arr.shape}")
    return sp.ImmutableMatrix(arr.tolist())


def evaluate(nodes: Iterable[Node], given: Mapping[str, Any]) -> dict[str, Any]:
    """`{name: value}` of `nodes` (in topological order): floats for scalars, NumPy arrays for matrices.

    A leaf's value comes from `given` or from its stored `value`; a leaf with
    neither is an error that names it.
    """
    subs: dict[sp.Basic, sp.Basic] = {}
    dims: dict[sp.Basic, sp.Basic] = {}
    out: dict[str, Any] = {}
    for node in nodes:
        if node.expr is None:
            value = given.get(node.name, node.value)
            if value is None:
                raise GraphError(f"node {node.name!r} ({node.role}) has no value; give it one")
            v = _to_sympy(node.name, value, node.shape)
            if node.is_matrix:
                for d, actual in zip(node.symbol.shape, v.shape):
                    if isinstance(d, sp.Symbol):
                        dims[d] = sp.Integer(actual)
        else:
            expr = node.expr.xreplace(dims) if dims else node.expr
            # an explicit ones matrix, so that sums with explicit matrices evaluate
            expr = expr.replace(
                lambda e: isinstance(e, sp.OneMatrix) and all(d.is_Integer for d in e.shape),
                lambda e: sp.ImmutableMatrix.ones(*e.shape),
            )
            v = expr.xreplace(subs)
            v = v.doit() if node.is_matrix else v
            if node.is_matrix:
                v = sp.ImmutableMatrix(v.as_explicit()).evalf()
            else:
                v = sp.sympify(v).doit().evalf()  # a trace of an explicit matrix needs doit()
                if isinstance(v, sp.MatrixBase):  # a 1×1 trace result
                    v = v[0, 0]
        subs[node.symbol] = v
        out[node.name] = np.array(v.tolist(), dtype=float) if node.is_matrix else float(v)
    return out
