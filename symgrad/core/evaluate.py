"""Numbers from a graph: substitute leaf values and evaluate node by node.

This is the plain, exact-ish path (SymPy floats and explicit matrices) behind
`Graph.evaluate`, used for small worked
examples and checks; training uses `symgrad.numeric.compile`.

Every head a graph can hold is evaluated bottom-up on explicit matrices: matrix
products and sums, ᵀ, ⊙ (`HadamardProduct`/`HadamardPower`), f applied
elementwise, `Trace`, the constant matrices 1, 0 and I, softmax and ln softmax
per column, powers and inverses, matrix entries, and any scalar SymPy function
with a numeric value. A symbolic dimension such as the batch size m is bound
from the shapes of the values given for the leaves (x is n_1 × m, so m is the
number of columns of the array given for x).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from ..errors import GraphError
from .node import Node


def _to_sympy(node_name: str, value: Any, shape: tuple | None) -> sp.Basic:
    if shape is None:
        if isinstance(value, sp.Basic):
            return value
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise GraphError(f"node {node_name!r} is a scalar; its value must be a number, got {value!r:.60}") from None
        if arr.size != 1:
            raise GraphError(f"node {node_name!r} is a scalar but its value has shape {arr.shape}")
        return sp.Float(float(arr.reshape(())))
    try:
        arr = np.asarray(value, dtype=object if isinstance(value, sp.MatrixBase) else float)
    except (TypeError, ValueError):
        raise GraphError(
            f"node {node_name!r} is a {_shape_str(shape)} matrix; its value must be an array of numbers, "
            f"got {value!r:.60}"
        ) from None
    if arr.ndim == 1 and shape[1] == 1:
        arr = arr.reshape(-1, 1)
    concrete = tuple(int(d) if d.is_Integer else None for d in map(sp.sympify, shape))
    if arr.ndim != 2 or any(c is not None and c != s for c, s in zip(concrete, arr.shape)):
        raise GraphError(f"node {node_name!r} has shape {_shape_str(shape)} but its value has shape {arr.shape}")
    return sp.ImmutableMatrix(arr.tolist())


def _shape_str(shape: tuple) -> str:
    return f"{shape[0]}×{shape[1]}"


def _bind_dims(node: Node, value: sp.MatrixBase, dims: dict[sp.Basic, sp.Integer], origin: dict) -> None:
    """Bind the symbolic dimensions of `node`'s shape (m in n × m) from its value's shape."""
    for d, actual in zip(node.symbol.shape, value.shape):
        if not isinstance(d, sp.Symbol):
            continue
        if d in dims and dims[d] != actual:
            raise GraphError(
                f"node {node.name!r}: its value has {actual} for the dimension {d} of its shape "
                f"{_shape_str(node.symbol.shape)}, but node {origin[d]!r}'s value gave {d} = {dims[d]}; "
                f"give every {d}-sized value the same {d}"
            )
        dims[d], origin[d] = sp.Integer(actual), node.name


class _Evaluator:
    """Evaluates expressions bottom-up once the nodes' symbols have values (`subs`)."""

    def __init__(self) -> None:
        self.subs: dict[sp.Basic, sp.Basic] = {}
        self.dims: dict[sp.Basic, sp.Integer] = {}

    def dim(self, d: sp.Basic) -> int:
        d = sp.sympify(d).xreplace(self.dims)
        if not d.is_Integer:
            raise _Unbound(d)
        return int(d)

    def __call__(self, e: Any, memo: dict) -> Any:
        if not isinstance(e, sp.Basic) or isinstance(e, type):
            return e  # a head passed as an argument (the f of an elementwise application)
        hit = memo.get(e)
        if hit is not None:
            return hit
        out = self._eval(e, memo)
        memo[e] = out
        return out

    def _eval(self, e: sp.Basic, memo: dict) -> Any:
        if e in self.subs:
            return self.subs[e]
        if e in self.dims:
            return self.dims[e]
        if isinstance(e, sp.MatrixSymbol):
            raise _Unbound(e)
        if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
            rows, cols = (self.dim(d) for d in e.shape)
            if isinstance(e, sp.OneMatrix):
                return sp.ImmutableMatrix.ones(rows, cols)
            if isinstance(e, sp.ZeroMatrix):
                return sp.ImmutableMatrix.zeros(rows, cols)
            return sp.ImmutableMatrix.eye(rows)
        if isinstance(e, sp.MatrixBase):  # its entries may use node symbols (a unit matrix times G)
            return sp.ImmutableMatrix(e.applyfunc(lambda v: self(v, memo)) if e.free_symbols else e)
        if e.is_Atom or isinstance(e, sp.Lambda):
            return e  # numbers, bound variables (dummies), and functions written as Lambda(x, body)
        if isinstance(e, ElementwiseApplyFunction):
            return self._matrix(e.expr, memo).applyfunc(e.function)
        args = [self(a, memo) for a in e.args]
        if isinstance(e, sp.MatMul):
            return functools.reduce(operator.mul, args)
        if isinstance(e, sp.MatAdd):
            return functools.reduce(operator.add, args)
        if isinstance(e, sp.Transpose):
            return args[0].T
        if isinstance(e, HadamardProduct):
            return functools.reduce(lambda a, b: a.multiply_elementwise(b), args)
        if isinstance(e, HadamardPower):
            base, expo = args
            return base.applyfunc(lambda v: v**expo)
        if isinstance(e, sp.Trace):
            return args[0].trace()
        if isinstance(e, sp.Inverse):
            return args[0].inv()
        if isinstance(e, sp.MatPow):
            return args[0] ** args[1]
        if isinstance(e, MatrixElement):
            return args[0][int(args[1]), int(args[2])]
        rebuilt = e.func(*args)
        if isinstance(rebuilt, (sp.Subs, sp.Derivative)):  # f′(u) of a function given a definition
            return rebuilt.doit()
        if isinstance(rebuilt, MatrixExpr):  # softmax, ln softmax and other heads with explicit entries
            return sp.ImmutableMatrix(rebuilt.as_explicit())
        return rebuilt

    def _matrix(self, e: sp.Basic, memo: dict) -> sp.ImmutableMatrix:
        v = self(e, memo)
        return v if isinstance(v, sp.MatrixBase) else sp.ImmutableMatrix(v.as_explicit())


class _Unbound(Exception):
    """A symbol (or a dimension) that no node and no leaf value defines."""


def _head(e: sp.Basic) -> str:
    return type(e).__name__


def _brief(e: Any) -> str:
    """`e` on one line, cut to 60 characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _leftover(v: sp.Basic) -> sp.Basic | None:
    """The first subterm of a value that is not a number: an undefined function, an unknown symbol."""
    stack = [v]
    while stack:
        e = stack.pop()
        if isinstance(e, (sp.Number, sp.NumberSymbol)) or e in (sp.true, sp.false):
            continue
        if e is sp.I:
            return e
        if isinstance(e, sp.Symbol):
            return e
        if isinstance(e, (sp.Derivative, sp.Subs)) or (
            isinstance(e, sp.Function) and isinstance(e.func, sp.core.function.UndefinedFunction)
        ):
            return e
        if not e.args:
            return e
        stack.extend(a for a in e.args if isinstance(a, sp.Basic))
    return None


def _fail(node: Node, expr: sp.Basic, why: str) -> GraphError:
    return GraphError(f"node {node.name!r} ({_head(expr)} {_brief(expr)}): {why}")


def _what_is(term: sp.Basic) -> str:
    if term is sp.I:
        return "its value is not a real number; check the values given (ln or a root of a negative number?)"
    if isinstance(term, sp.Symbol):
        return (
            f"it holds the symbol {term}, which is no node of the graph and no dimension the values fix; "
            f"give {term} a number (substitute it in the expression) or make it a node"
        )
    if isinstance(term, (sp.Derivative, sp.Subs)):
        return (
            f"it holds {_head(term)} {_brief(term)}, the derivative of an undefined function; "
            "define the function (a Lambda or a symgrad head) to evaluate it"
        )
    if isinstance(term, sp.Function) and isinstance(term.func, sp.core.function.UndefinedFunction):
        return (
            f"it holds the undefined function {term.func}, which has no numeric value; "
            f"define {term.func} (e.g. sympy.Lambda(x, ...)) or replace it by a symgrad head"
        )
    return f"{_head(term)} {_brief(term)} has no numeric value; rewrite it with heads that do"


def _value(node: Node, expr: sp.Basic, ev: _Evaluator) -> sp.Basic:
    try:
        v = ev(expr, {})
        if node.is_matrix:
            v = v if isinstance(v, sp.MatrixBase) else sp.ImmutableMatrix(v.as_explicit())
            v = sp.ImmutableMatrix(v).evalf()
        else:
            v = sp.sympify(v).evalf()
            if isinstance(v, sp.MatrixBase):  # a 1×1 trace result
                v = v[0, 0]
    except _Unbound as e:
        what = e.args[0]
        raise _fail(node, expr, _what_is(what) if not isinstance(what, sp.MatrixSymbol) else
                    f"matrix {what} is not a node of the graph; add it first") from None
    except GraphError:
        raise
    except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError, sp.ShapeError,
            sp.matrices.exceptions.NonInvertibleMatrixError) as e:
        raise _fail(
            node, expr, f"cannot be evaluated ({type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else '-'}); "
            "check the shapes of the values given, or evaluate the compiled model (symgrad.numeric.compile)"
        ) from None
    bad = _leftover(v) if not isinstance(v, sp.MatrixBase) else next(
        (t for t in map(_leftover, v) if t is not None), None
    )
    if bad is not None:
        raise _fail(node, expr, _what_is(bad))
    return v


def _as_number(node: Node, expr: sp.Basic | None, v: sp.Basic) -> Any:
    try:
        return np.array(v.tolist(), dtype=float) if node.is_matrix else float(v)
    except (TypeError, ValueError):
        what = f" ({_head(expr)} {_brief(expr)})" if expr is not None else ""
        raise GraphError(
            f"node {node.name!r}{what}: its value {_brief(v)} is not a real number; "
            "check the values given (a complex result, e.g. ln of a negative number?)"
        ) from None


def evaluate(nodes: Iterable[Node], given: Mapping[str, Any]) -> dict[str, Any]:
    """`{name: value}` of `nodes` (in topological order): floats for scalars, NumPy arrays for matrices.

    A leaf's value comes from `given` or from its stored `value`; a leaf with
    neither is an error that names it. A symbolic dimension of a leaf's shape (the
    batch size m of x: n_1 × m) is bound from the value's shape; two values that
    disagree about it are an error naming both nodes. Every failure is one
    `GraphError` naming the node, the head of its expression and what to do.
    """
    ev = _Evaluator()
    origin: dict[sp.Basic, str] = {}
    out: dict[str, Any] = {}
    for node in nodes:
        if node.expr is None:
            value = given.get(node.name, node.value)
            if value is None:
                raise GraphError(f"node {node.name!r} ({node.role}) has no value; give it one")
            v = _to_sympy(node.name, value, node.shape)
            if node.is_matrix:
                _bind_dims(node, v, ev.dims, origin)
        else:
            v = _value(node, node.expr, ev)
        ev.subs[node.symbol] = v
        out[node.name] = _as_number(node, node.expr, v)
    return out
