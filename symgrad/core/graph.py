"""Computational graphs whose nodes hold SymPy expressions.

A `Graph` is a `networkx.DiGraph` of named nodes. Every node has a
SymPy symbol that stands for its value (a `Symbol` for a scalar, a
`MatrixSymbol` for a layer-level matrix), a role, and, for computed nodes, an
expression in its parents' symbols only. An edge `u -> v` exists exactly when
`v`'s expression uses `u`'s symbol (Deep Learning book §6.5.1).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import networkx as nx
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import GraphError, UsageError
from . import display
from .evaluate import evaluate
from .node import LEAF_ROLES, ROLES, Node, Symbolish


def _shape_str(shape: tuple | None) -> str:
    return "scalar" if shape is None else f"{shape[0]}×{shape[1]}"


class Graph:
    """A computational graph: named nodes holding SymPy expressions.

    Build it node by node:

    ```python
    g = Graph()
    x = g.input("x")
    w = g.parameter("w", value=0.5)
    y = g.add("y", w * x)
    g.add("C", (y - 1) ** 2 / 2, role="cost")
    ```

    `g.nx` is the underlying `networkx.DiGraph`; each networkx node is
    the node's name and carries the `Node` under the attribute `"node"`.
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.nx = nx.DiGraph()
        self._by_symbol: dict[sp.Basic, str] = {}
        self._order: list[str] | None = None
        self._ranks: dict[str, int] | None = None
        # cost name -> {forward node name -> derivative node name}
        self.derivatives: dict[str, dict[str, str]] = {}
        self.meta: dict[str, Any] = {}

    # ----------------------------------------------------------------- access
    def __contains__(self, name: object) -> bool:
        return name in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __iter__(self) -> Iterator[Node]:
        return (self.node(n) for n in self.topological_order())

    def __getitem__(self, name: str) -> Symbolish:
        """The symbol of node `name` (to write expressions with)."""
        return self.node(name).symbol

    def node(self, name: str | Node | sp.Basic) -> Node:
        """The `Node` named `name` (a node, or its symbol, also works)."""
        if isinstance(name, Node):
            return name
        if isinstance(name, sp.Basic):
            if name not in self._by_symbol:
                raise GraphError(f"symbol {name} is not a node of graph {self.name!r}")
            name = self._by_symbol[name]
        try:
            return self.nx.nodes[name]["node"]
        except KeyError:
            raise GraphError(f"unknown node {name!r} in graph {self.name!r}") from None

    def nodes(self, role: str | Iterable[str] | None = None) -> list[Node]:
        """Nodes in topological order, optionally only those with `role`."""
        roles = (role,) if isinstance(role, str) else role
        return [n for n in self if roles is None or n.role in roles]

    @property
    def parameters(self) -> list[Node]:
        return self.nodes("parameter")

    @property
    def symbols(self) -> dict[sp.Basic, str]:
        """Map symbol -> node name (read-only view)."""
        return dict(self._by_symbol)

    def parents(self, name: str) -> list[str]:
        return sorted(self.nx.predecessors(self.node(name).name), key=self._rank)

    def consumers(self, name: str) -> list[str]:
        return sorted(self.nx.successors(self.node(name).name), key=self._rank)

    def upstream(self, names: Iterable[str | Node | sp.Basic], stop: Iterable[str] = ()) -> list[str]:
        """The nodes `names` are computed from, themselves included, in topological order.

        The walk does not go above a node named in `stop`: it is kept, as if it were a leaf.
        """
        wanted = {self.node(n).name for n in names}
        stack, cut, pred = list(wanted), set(stop), self.nx.pred
        while stack:
            n = stack.pop()
            if n in cut:
                continue
            for p in pred[n]:
                if p not in wanted:
                    wanted.add(p)
                    stack.append(p)
        return [n for n in self.topological_order() if n in wanted]

    def topological_order(self) -> list[str]:
        """Node names in a topological order (stable: insertion order breaks ties)."""
        if self._order is None:
            index = {n: i for i, n in enumerate(self.nx.nodes)}
            self._order = list(nx.lexicographical_topological_sort(self.nx, key=index.__getitem__))
        return self._order

    def _rank(self, name: str) -> int:
        if self._ranks is None:
            self._ranks = {n: i for i, n in enumerate(self.topological_order())}
        return self._ranks[name]

    # ------------------------------------------------------------- building
    def _new_symbol(self, name: str, shape: tuple | None) -> Symbolish:
        if not isinstance(name, str) or not name:
            raise GraphError(f"node names must be non-empty strings, got {name!r}")
        if shape is None:
            return sp.Symbol(name, real=True)
        try:
            rows, cols = shape
            if any(isinstance(d, (str, bool)) or (isinstance(d, int) and d < 1) for d in (rows, cols)):
                raise ValueError
            return sp.MatrixSymbol(name, rows, cols)
        except (TypeError, ValueError, sp.SympifyError):
            raise GraphError(
                f"node {name!r}: shape must be None (a scalar) or (rows, cols) of positive "
                f"whole numbers or symbols, got {shape!r}"
            ) from None

    def _insert(self, node: Node) -> Symbolish:
        if not isinstance(node.name, str) or not node.name:
            raise GraphError(f"node names must be non-empty strings, got {node.name!r}")
        if node.name in self.nx:
            raise GraphError(f"duplicate node name {node.name!r} in graph {self.name!r}")
        if node.role not in ROLES:
            raise GraphError(f"node {node.name!r}: unknown role {node.role!r}; use one of {ROLES}")
        if node.symbol in self._by_symbol:
            raise GraphError(
                f"node {node.name!r}: symbol {node.symbol} already stands for node "
                f"{self._by_symbol[node.symbol]!r}"
            )
        parents: list[str] = []
        if node.expr is not None:
            parents = self._parents_of(node.name, node.expr)
            self._check_shape(node)
        node.graph = self
        self.nx.add_node(node.name, node=node)
        self._by_symbol[node.symbol] = node.name
        for p in parents:
            self.nx.add_edge(p, node.name)
        self._order = self._ranks = None
        return node.symbol

    def _parents_of(self, name: str, expr: sp.Basic) -> list[str]:
        parents = []
        for s in node_symbols(expr):
            if s not in self._by_symbol:
                raise GraphError(
                    f"node {name!r}: expression uses {s}, which is not a node of graph "
                    f"{self.name!r} (add it first with input(), parameter() or add())"
                )
            parents.append(self._by_symbol[s])
        if name in parents:
            raise GraphError(f"node {name!r} would depend on itself (a cycle)")
        return parents

    def _check_shape(self, node: Node) -> None:
        expr_shape = tuple(node.expr.shape) if isinstance(node.expr, MatrixExpr) else None
        if expr_shape != node.shape:
            raise GraphError(
                f"node {node.name!r}: its expression has shape {_shape_str(expr_shape)} "
                f"but the node was declared {_shape_str(node.shape)}"
            )

    def input(self, name: str, shape: tuple | None = None, *, value: Any = None, **kw: Any) -> Symbolish:
        """Add an input node (data x); `shape=(rows, cols)` makes it a matrix."""
        return self._insert(Node(name, self._new_symbol(name, shape), "input", value=value, **kw))

    def parameter(self, name: str, shape: tuple | None = None, *, value: Any = None, **kw: Any) -> Symbolish:
        """Add a parameter node (a weight or bias, what training changes)."""
        return self._insert(Node(name, self._new_symbol(name, shape), "parameter", value=value, **kw))

    def target(self, name: str, shape: tuple | None = None, *, value: Any = None, **kw: Any) -> Symbolish:
        """Add a target node (the desired output y)."""
        return self._insert(Node(name, self._new_symbol(name, shape), "target", value=value, **kw))

    def add(self, name: str, expr: Any, role: str = "intermediate", **kw: Any) -> Symbolish:
        """Add a computed node `name = expr`; `expr` uses other nodes' symbols only."""
        if role in LEAF_ROLES:
            raise GraphError(f"node {name!r}: a computed node cannot have role {role!r}")
        expr = _as_expr(name, expr)
        shape = tuple(expr.shape) if isinstance(expr, MatrixExpr) else None
        symbol = kw.pop("symbol", None) or self._new_symbol(name, shape)
        return self._insert(Node(name, symbol, role, expr=expr, **kw))

    def op(self, name: str, fn: Any, *args: str, role: str = "intermediate", **kw: Any) -> Symbolish:
        """Add `name = fn(*parents)`, parents given by name.

        A shape mismatch is reported with both nodes and both shapes, e.g.
        `node 'z2': cannot multiply W2 (3×2) by a1 (3×4)`.
        """
        symbols = [self.node(a).symbol for a in args]
        try:
            expr = fn(*symbols)
        except (sp.ShapeError, IndexError) as e:
            shapes = ", ".join(f"{a} ({_shape_str(self.node(a).shape)})" for a in args)
            why = f" ({e})" if isinstance(e, IndexError) else ""
            raise GraphError(f"node {name!r}: shapes do not fit: {shapes}{why}") from None
        return self.add(name, expr, role=role, **kw)

    def matmul(self, name: str, left: str, right: str, **kw: Any) -> Symbolish:
        """Add `name = left · right` (matrix product), checking shapes."""
        L, R = self.node(left), self.node(right)
        if L.shape is None or R.shape is None or L.shape[1] != R.shape[0]:
            raise GraphError(
                f"node {name!r}: cannot multiply {left} ({_shape_str(L.shape)}) by "
                f"{right} ({_shape_str(R.shape)})"
            )
        return self.add(name, L.symbol * R.symbol, **kw)

    # --------------------------------------------------------------- values
    def values(self) -> dict[str, Any]:
        """`{name: value}` for the nodes that have a value."""
        return {n.name: n.value for n in self if n.value is not None}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Give leaf nodes values (`{name: value}`)."""
        for name, v in values.items():
            self.node(name).value = v

    def evaluate(self, values: Mapping[str, Any] | None = None, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Evaluate the graph node by node (plain SymPy floats/matrices; slow but exact).

        `values` overrides the stored leaf values. Returns `{name: value}`
        for every node (or only `names` and what they need): floats for scalars,
        NumPy arrays for matrices. A layer-level batch is columns: x is n_1 × m, and the
        batch size m (or any other symbolic dimension) is read off the arrays given.
        Every head a graph can hold evaluates (products, sums, ᵀ, ⊙, f elementwise,
        Tr, 1, I, softmax, ln softmax, ...). A needed leaf without a value, values that
        disagree about m, and an expression without a numeric value (an undefined
        function f) are each one `GraphError` naming the node, the head and what
        to do. The compiled NumPy path is `symgrad.numeric.compile`.
        """
        if names is None:
            return evaluate(list(self), values or {})
        names = [self.node(n).name for n in names]
        out = evaluate([self.node(n) for n in self.upstream(names)], values or {})
        return {n: out[n] for n in names}

    # -------------------------------------------------------------- helpers
    def check(self) -> None:
        """Re-check the invariants: acyclic, edges = symbol dependencies."""
        if not nx.is_directed_acyclic_graph(self.nx):
            cycle = nx.find_cycle(self.nx)
            raise GraphError(f"graph {self.name!r} has a cycle through node {cycle[0][0]!r}")
        for n in self.nx.nodes:
            node = self.node(n)
            want = set(self._parents_of(n, node.expr)) if node.expr is not None else set()
            if want != set(self.nx.predecessors(n)):
                raise GraphError(f"node {n!r}: edges do not match its expression's symbols")

    def add_edge_checked(self, u: str, v: str) -> None:
        """Add edge `u -> v`, refusing one that would close a cycle."""
        u, v = self.node(u).name, self.node(v).name
        if nx.has_path(self.nx, v, u):
            raise GraphError(f"edge {u!r} -> {v!r} would make a cycle")
        self.nx.add_edge(u, v)
        self._order = self._ranks = None

    def copy(self) -> Graph:
        g = Graph(self.name)
        g.nx = self.nx.copy()
        for n in g.nx.nodes:
            old = g.nx.nodes[n]["node"]
            g.nx.nodes[n]["node"] = Node(**{**old.__dict__, "meta": dict(old.meta), "graph": g})
        g._by_symbol = dict(self._by_symbol)
        g.derivatives = {k: dict(v) for k, v in self.derivatives.items()}
        g.meta = dict(self.meta)
        return g

    def subgraph(self, names: Iterable[str], name: str | None = None) -> Graph:
        """A new graph of the nodes `names` (each with the nodes it uses), same symbols and expressions.

        Leaves keep their values; derivative tables are not carried over. Used to
        compile or evaluate a part of a graph on its own.
        """
        keep = set(self.upstream(names))
        g = Graph(self.name if name is None else name)
        for n in self.topological_order():
            if n in keep:
                old = self.node(n)
                g._insert(Node(**{**old.__dict__, "meta": dict(old.meta), "graph": None}))
        g.meta = dict(self.meta)
        return g

    def __repr__(self) -> str:
        roles: dict[str, int] = {}
        for n in self.nx.nodes:
            r = self.node(n).role
            roles[r] = roles.get(r, 0) + 1
        detail = ", ".join(f"{v} {k}" for k, v in roles.items())
        return f"<Graph {self.name!r}: {len(self)} nodes ({detail})>"

    def _repr_svg_(self) -> str | None:
        """The picture in a notebook (`symgrad.printing.drawing.svg`); `None` when too big to draw."""
        return display.show("svg", self)

    # ------------------------------------------------------------- from_expr
    @classmethod
    def from_expr(
        cls,
        expr: sp.Basic,
        name: str = "C",
        *,
        role: str = "cost",
        parameters: Iterable[sp.Basic] | None = None,
        prefix: str = "t",
    ) -> Graph:
        """Build a graph from one SymPy expression.

        Leaves (free symbols) become nodes: those in `parameters` (default:
        all) are parameters, the rest inputs. Every compound subexpression
        becomes one intermediate node `t1, t2, ...` in its operands' symbols,
        so a repeated subexpression such as `f(w)` in `f(f(f(w)))` is one
        shared node. The whole expression is node `name`.
        """
        g = cls(name)
        expr = _as_expr(name, expr)
        leaves = sorted(node_symbols(expr), key=str)
        params = set(leaves if parameters is None else parameters)
        for s in leaves:
            node_role = "parameter" if s in params else "input"
            g._insert(Node(str(s), s, node_role))
        memo: dict[sp.Basic, sp.Basic] = {s: s for s in leaves}
        counter = [0]

        def visit(e: sp.Basic, top: bool) -> sp.Basic:
            if e in memo:
                return memo[e]
            if not node_symbols(e):
                return e
            new_args = [visit(a, False) for a in e.args]
            rebuilt = e.func(*new_args) if new_args != list(e.args) else e
            if not isinstance(e, (sp.Expr, MatrixExpr)):
                return rebuilt  # a condition or a (value, condition) pair of a Piecewise: no value of its own
            if top:
                sym = g.add(name, rebuilt, role=role)
            else:
                counter[0] += 1
                sym = g.add(f"{prefix}{counter[0]}", rebuilt, tex=f"{prefix}_{{{counter[0]}}}")
            memo[e] = sym
            return sym

        visit(expr, True)
        if name not in g:  # the whole expression was a single leaf
            g.add(name, expr, role=role)
        return g


def find_cost(graph: Graph, cost: str | sp.Basic | None = None) -> str:
    """The name of the cost C to differentiate: `cost` if given, else the graph's one node of role `cost`.

    A graph with no cost node, or with several, is a `GraphError` that says to name it.
    """
    if cost is not None:
        return graph.node(cost).name
    costs = [n.name for n in graph.nodes("cost")]
    if len(costs) == 1:
        return costs[0]
    if not costs:
        raise GraphError(
            f"graph {graph.name!r} has no cost node (a node added with role='cost'); name the node to "
            "differentiate with cost='...'"
        )
    raise GraphError(
        f"graph {graph.name!r} has {len(costs)} cost nodes ({', '.join(map(repr, costs))}); say which with cost='...'"
    )


def as_graph(obj: Any) -> Graph:
    """`obj` if it is a `Graph`, else its `.graph` (a network's, say), which must be one."""
    if isinstance(obj, Graph):
        return obj
    graph = getattr(obj, "graph", None)
    if isinstance(graph, Graph) and not isinstance(obj, Node):  # a node's .graph is the graph it is in
        return graph
    raise UsageError(f"expected a Graph or a Network, not {type(obj).__name__}")


_NON_FINITE = (sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity)


def _as_expr(name: object, expr: Any) -> sp.Basic:
    """`expr` as a SymPy scalar or matrix expression.

    Only SymPy objects and plain numbers are taken. Text is refused, never parsed:
    `sympify` would `eval` it, even with `strict=True` when it comes inside a
    tuple or dict. A NaN or infinity is refused too (it would only surface later as
    a silent NaN).
    """
    if isinstance(expr, sp.MatrixBase):
        expr = sp.ImmutableMatrix(expr)
    elif isinstance(expr, numbers.Number) and not isinstance(expr, bool):
        expr = sp.sympify(expr, strict=True)
    elif not isinstance(expr, sp.Basic):
        hint = " (text is never parsed: write the expression with the nodes' symbols)" if isinstance(
            expr, (str, bytes)
        ) else ""
        raise GraphError(f"node {name!r}: not a SymPy expression: {expr!r:.80}{hint}")
    if not isinstance(expr, (sp.Expr, MatrixExpr)):
        raise GraphError(
            f"node {name!r}: {type(expr).__name__} {expr!s:.80} is not a scalar or matrix expression"
        )
    if expr.has(*_NON_FINITE):
        raise GraphError(f"node {name!r}: the expression contains NaN or an infinity: {expr!s:.80}")
    return expr


def node_symbols(expr: sp.Basic) -> set[sp.Basic]:
    """The Symbols and MatrixSymbols an expression uses (not dummies, not shapes)."""
    out: set[sp.Basic] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, sp.MatrixSymbol):
            out.add(e)
        elif isinstance(e, sp.Symbol):
            if not isinstance(e, sp.Dummy):
                out.add(e)
        elif isinstance(e, (sp.Lambda, sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
            continue  # a bound variable, or a constant matrix whose args are only its shape
        else:
            stack.extend(e.args)
    return out
