r"""One graph, two views: the per-neuron entries of a layer-level node.

A layer-level node is a matrix (W^l, b^l, z^l, a^l, δ^l, ∂C/∂W^l, ...). Its
*explicit view* is the SymPy `Matrix` of its entries, each written in
per-entry scalar symbols with Nielsen's notation:

* `W^l[j, k] → w^l_{jk}` (symbol `w2_1_1`), `b^l[j] → b^l_j`, `z^l[j] → z^l_j`,
  `a^l[j] → a^l_j`, `x[k] → x_k`, `y[j] → y_j`;
* the entries of a derivative node ∂C/∂u are ∂C/∂(entry of u): `δ^l_j` for
  `∂C/∂z^l` (symbol `dC/dz2_1`), `∂C/∂w^l_{jk}`, ...;
* with a batch of m > 1 examples, the column c (example c) adds `(c)`:
  `z^l_j{}^{(c)}`.

These are the very symbols of the neuron-level network of
`symgrad.mlp` (`level="neuron"`), so the two views can be compared
directly. Three forms of a node's entries:

* `factored` — the node's own expression, with pass-along derivative nodes
  substituted (as `symgrad.printing.factored`), in the entry symbols of
  its parents: BP2 per neuron reads `δ^l_j = (Σ_k w^{l+1}_{kj} δ^{l+1}_k) σ′(z^l_j)`
  and BP4 reads `∂C/∂w^l_{jk} = a^{l−1}_k δ^l_j`;
* `node` — the node's own expression (no substitution);
* `expanded` — the closed form in the leaves' entry symbols (`x_k`, `w^l_{jk}`,
  `b^l_j`, `y_j`), computed node by node (each node's entries once, shared).
  `cut=["z2"]` treats the named nodes as leaves: their entries stay symbols
  (C as a function of `z^2_j`, to differentiate it with respect to z^2_j).

The shapes must be concrete: a network built with a symbolic batch m needs
`batch=1` (or any whole number) here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, Trace, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from ..core.functions import ColumnwiseMatrixFunction
from ..core.graph import Graph, Node, as_graph
from ..errors import ExplicitError
from ..printing.latex import BookLatexPrinter, factored, tex_names

FORMS = ("factored", "node", "expanded")
_PER_EXAMPLE = ("x", "y", "z", "a")


class ExplicitView:
    """The per-entry view of a layer-level graph (see the module docstring).

    `batch` gives the symbolic shape dimensions (the batch size m) a value:
    a whole number for the one symbol, or `{symbol: number}`.
    """

    def __init__(self, graph: Graph | Any, batch: int | Mapping[sp.Symbol, int] | None = None) -> None:
        self.graph = as_graph(graph)
        self.dims = self._dims(batch)
        self._symbols: dict[str, sp.ImmutableMatrix] = {}
        self.tex: dict[sp.Symbol, str] = {}
        self._closed: dict[tuple[str, frozenset], Any] = {}

    # ------------------------------------------------------------ shapes
    def _dims(self, batch: Any) -> dict[sp.Symbol, sp.Integer]:
        free: dict[sp.Symbol, Node] = {}
        for n in self.graph.nodes():
            if n.is_matrix:
                for d in n.symbol.shape:
                    for s in sp.sympify(d).free_symbols:
                        free.setdefault(s, n)
        if not free:
            return {}
        if batch is None:
            s, n = next(iter(free.items()))
            raise ExplicitError(
                f"node {n.name!r} has symbolic shape {n.symbol.shape[0]}×{n.symbol.shape[1]}; "
                f"give {s} a value (explicit(..., batch=1)) or build the network with batch=1"
            )
        if isinstance(batch, Mapping):
            dims = {sp.sympify(k): sp.Integer(int(v)) for k, v in batch.items()}
        else:
            if len(free) > 1:
                raise ExplicitError(
                    f"the graph has several symbolic dimensions ({', '.join(map(str, free))}); "
                    "give batch={symbol: value}"
                )
            if int(batch) < 1:
                raise ExplicitError(f"batch must be a positive whole number, got {batch!r}")
            dims = {next(iter(free)): sp.Integer(int(batch))}
        missing = [str(s) for s in free if s not in dims]
        if missing:
            raise ExplicitError(f"no value for the symbolic dimension(s) {', '.join(missing)}")
        return dims

    def shape(self, name: str) -> tuple[int, int] | None:
        """The concrete shape of node `name` (`None` for a scalar)."""
        node = self.graph.node(name)
        if not node.is_matrix:
            return None
        return tuple(int(sp.sympify(d).xreplace(self.dims)) for d in node.symbol.shape)

    # ------------------------------------------------------- entry names
    def _entry_name(self, node: Node, i: int, j: int, shape: tuple[int, int]) -> tuple[str, str]:
        """(symbol name, LaTeX) of entry (i, j) (0-based) of `node`."""
        g = self.graph
        if node.role == "derivative" and node.of is not None:
            of = g.node(node.of)
            base, tex = self._entry_name(of, i, j, shape)
            cost = g.node(node.cost) if node.cost else None
            ctex = (cost.tex or cost.name) if cost else "C"
            cname = cost.name if cost else "C"
            if of.kind == "z" and tex.lstrip("{").startswith("z"):
                tex = tex.replace("z", r"\delta", 1)
            else:
                tex = rf"\frac{{\partial {ctex}}}{{\partial {tex}}}"
            return f"d{cname}/d{base}", tex
        rows, cols = shape
        sep = "," if max(rows, cols) > 9 else ""
        kind, layer = node.kind, node.meta.get("layer")
        example = ""
        if kind in _PER_EXAMPLE and cols > 1:
            example = f"({j + 1})"
        if kind == "W" and layer is not None:
            name, tex = f"w{layer}_{i + 1}_{j + 1}", f"w^{{{layer}}}_{{{i + 1}{sep}{j + 1}}}"
        elif kind in ("b", "z", "a") and layer is not None:
            name, tex = f"{kind}{layer}_{i + 1}", f"{kind}^{{{layer}}}_{{{i + 1}}}"
        elif kind in ("x", "y"):
            name, tex = f"{kind}{i + 1}", f"{kind}_{{{i + 1}}}"
        else:
            base = node.tex or node.name
            if cols == 1:
                idx = f"{i + 1}"
                name = f"{node.name}_{i + 1}"
            elif rows == 1:
                idx = f"{j + 1}"
                name = f"{node.name}_{j + 1}"
            else:
                idx = f"{i + 1}{sep}{j + 1}"
                name = f"{node.name}_{i + 1}_{j + 1}"
            return name, f"{{{base}}}_{{{idx}}}"
        if example:
            return name + example, f"{{{tex}}}^{{{example}}}"
        return name, tex

    def symbols(self, name: str) -> sp.ImmutableMatrix | sp.Symbol:
        """The entry symbols of node `name` (a scalar node: its own symbol)."""
        node = self.graph.node(name)
        if not node.is_matrix:
            if node.tex:
                self.tex[node.symbol] = node.tex
            return node.symbol
        if node.name not in self._symbols:
            shape = self.shape(node.name)
            entries = []
            for i in range(shape[0]):
                row = []
                for j in range(shape[1]):
                    sname, tex = self._entry_name(node, i, j, shape)
                    s = sp.Symbol(sname, real=True)
                    self.tex[s] = tex
                    row.append(s)
                entries.append(row)
            self._symbols[node.name] = sp.ImmutableMatrix(entries)
        return self._symbols[node.name]

    def entry(self, name: str, i: int, j: int = 0) -> sp.Symbol:
        """The symbol of entry (i, j) (0-based) of node `name`."""
        return self.symbols(name)[i, j]

    # --------------------------------------------------------- explicit
    def _convert(self, expr: sp.Basic, env: Mapping[str, Any]) -> Any:
        """`expr` with every node symbol replaced by `env[node name]`, as explicit entries."""
        return _Entries(self, env)(expr)

    def local(self, name: str, form: str = "factored") -> Any:
        """Entries of node `name`'s expression in its parents' entry symbols (`factored` or `node`)."""
        node = self.graph.node(name)
        if node.expr is None:
            return self.symbols(name)
        expr = factored(self.graph, node.name) if form == "factored" else node.expr
        for n in self.graph.nodes():
            if n.is_matrix:
                self.symbols(n.name)
        return self._convert(expr, {})

    def expanded(self, name: str, cut: Iterable[str] = ()) -> Any:
        """Entries of node `name` in the leaves' entry symbols (`cut` nodes kept as symbols)."""
        g = self.graph
        target = g.node(name)
        cut_set = frozenset(g.node(c).name for c in cut)
        key = (target.name, cut_set)
        if key in self._closed:
            return self._closed[key]
        env: dict[str, Any] = {}
        for n in g.upstream([target.name], stop=cut_set):  # not above a cut: its entries stay symbols
            node = g.node(n)
            if node.expr is None or n in cut_set:
                env[n] = self.symbols(n)
                continue
            env[n] = self._convert(node.expr, env)
        self._closed[key] = env[target.name]
        return env[target.name]

    def explicit(self, name: str, form: str = "factored", cut: Iterable[str] = ()) -> Any:
        """Node `name`'s entries in `form` (see the module docstring)."""
        if form not in FORMS:
            raise ExplicitError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
        if form == "expanded":
            return self.expanded(name, cut)
        return self.local(name, form)

    # --------------------------------------------------------- printing
    def printer(self) -> BookLatexPrinter:
        names = tex_names(self.graph)
        names.update(self.tex)
        return BookLatexPrinter(names)

    def equations(self, name: str, form: str = "factored", cut: Iterable[str] = ()) -> list[str]:
        """One LaTeX equation per entry: `\\delta^{2}_{1} = ...` (row by row)."""
        rhs = self.explicit(name, form, cut)
        lhs = self.symbols(name)
        printer = self.printer()
        if not isinstance(rhs, sp.MatrixBase):
            return [f"{printer.doprint(lhs)} = {printer.doprint(rhs)}"]
        return [
            f"{printer.doprint(lhs[i, j])} = {printer.doprint(rhs[i, j])}"
            for i in range(rhs.shape[0])
            for j in range(rhs.shape[1])
        ]

    def latex(self, name: str, form: str = "factored", cut: Iterable[str] = ()) -> str:
        """All entries' equations of node `name` in an `aligned` block."""
        rows = [eq.replace(" = ", " &= ", 1) for eq in self.equations(name, form, cut)]
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


class _Entries:
    """One conversion to explicit entries: node symbols become `env[node name]` or the view's entry symbols."""

    def __init__(self, view: ExplicitView, env: Mapping[str, Any]) -> None:
        g = view.graph
        self.view, self.env, self.graph, self.dims = view, env, g, view.dims
        self.by_name = {n.symbol.name: n.name for n in g.nodes() if n.is_matrix}
        self.scalars = {n.symbol for n in g.nodes() if not n.is_matrix}
        self.cache: dict[sp.Basic, Any] = {}

    def value(self, sym: sp.Basic) -> Any:
        g = self.graph
        node = g.node(self.by_name[sym.name]) if isinstance(sym, sp.MatrixSymbol) else g.node(sym)
        if node.name in self.env:
            return self.env[node.name]
        return self.view.symbols(node.name)

    def __call__(self, e: sp.Basic) -> Any:
        hit = self.cache.get(e)
        if hit is None:
            hit = self.cache[e] = self._convert(e)
        return hit

    def _convert(self, e: sp.Basic) -> Any:
        if isinstance(e, sp.MatrixSymbol):
            if e.name not in self.by_name:
                raise ExplicitError(f"matrix {e.name} is not a node of graph {self.graph.name!r}")
            return self.value(e)
        if isinstance(e, sp.MatrixBase):
            return e.applyfunc(self) if e.free_symbols else e
        if isinstance(e, MatrixExpr):
            return self._matrix(e)
        if isinstance(e, sp.Symbol):
            return self.value(e) if e in self.scalars else e
        if isinstance(e, Trace):
            return self(e.arg).trace()
        if isinstance(e, MatrixElement):
            parent, r, c = e.args
            return self(parent)[int(r), int(c)]
        if e.is_Atom or isinstance(e, sp.Lambda):
            return e
        args = [self(a) for a in e.args]
        if any(isinstance(a, sp.MatrixBase) for a in args):
            if len(args) == 1 or isinstance(e, sp.Mul):
                # a 1×1 matrix times scalars (a trace-free scalar cost like (zᵀz)[0,0])
                args = [a[0, 0] if isinstance(a, sp.MatrixBase) and a.shape == (1, 1) else a for a in args]
        return e.func(*args) if args != list(e.args) else e

    def _matrix(self, e: MatrixExpr) -> sp.ImmutableMatrix:
        shape = tuple(int(sp.sympify(d).xreplace(self.dims)) for d in e.shape)
        if isinstance(e, sp.OneMatrix):
            return sp.ImmutableMatrix.ones(*shape)
        if isinstance(e, sp.ZeroMatrix):
            return sp.ImmutableMatrix.zeros(*shape)
        if isinstance(e, sp.Identity):
            return sp.ImmutableMatrix.eye(shape[0])
        if isinstance(e, MatAdd):
            parts = [self(a) for a in e.args]
            out = parts[0]
            for p in parts[1:]:
                out = out + p
            return sp.ImmutableMatrix(out)
        if isinstance(e, MatMul):
            scalar = sp.S.One
            out = None
            for a in e.args:
                if isinstance(a, MatrixExpr) or isinstance(a, sp.MatrixBase):
                    m = self(a)
                    out = m if out is None else out * m
                else:
                    scalar = scalar * self(a)
            return sp.ImmutableMatrix(out * scalar if scalar != 1 else out)
        if isinstance(e, Transpose):
            return self(e.arg).T
        if isinstance(e, HadamardProduct):
            parts = [self(a) for a in e.args]
            out = parts[0]
            for p in parts[1:]:
                out = out.multiply_elementwise(p)
            return sp.ImmutableMatrix(out)
        if isinstance(e, HadamardPower):
            base, expo = self(e.args[0]), self(e.args[1])
            return base.applyfunc(lambda v: v**expo)
        if isinstance(e, ElementwiseApplyFunction):
            f = e.function
            return self(e.expr).applyfunc(lambda v: f(v))
        if isinstance(e, ColumnwiseMatrixFunction):
            arg = self(e.arg)
            rows, cols = arg.shape
            return sp.ImmutableMatrix(
                rows, cols, lambda i, j: e._scalar([arg[k, j] for k in range(rows)], i)
            )
        raise ExplicitError(f"cannot write {type(e).__name__} entry by entry: {e}")


def explicit(
    graph: Graph | Any,
    name: str,
    form: str = "factored",
    *,
    batch: int | Mapping[sp.Symbol, int] | None = None,
    cut: Iterable[str] = (),
) -> Any:
    """The entries of a layer-level node as a SymPy `Matrix` in per-entry symbols.

    `explicit(net, "dC/dz2")[j, 0]` is `δ^2_{j+1} = (Σ_k w^3_{kj} δ^3_k) σ′(z^2_j)`
    (`form="factored"`); `explicit(net, "dC/dW2")[j, k]` is a^1_k δ^2_j.
    `form="expanded"` writes the entries in the leaves (x, w, b, y). A
    scalar node (the cost C) gives a scalar expression. `batch` fixes a
    symbolic batch size m; a network built with `batch=None` needs it.
    """
    return ExplicitView(graph, batch).explicit(name, form, cut)


def componentwise(graph: Graph | Any, name: str, form: str = "factored", *, batch: Any = None) -> list[str]:
    """LaTeX per-neuron equations of node `name`, e.g. `\\delta^{2}_{1} = ...`."""
    return ExplicitView(graph, batch).equations(name, form)


__all__ = ["ExplicitError", "ExplicitView", "componentwise", "explicit"]
