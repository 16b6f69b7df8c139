r"""LaTeX in the book's notation, by SymPy's `_print_<Head>` dispatch.

`BookLatexPrinter` prints node symbols by their `tex` (`w^{l}_{jk}`,
`δ^{l}`, `∇_{a^{L}} C`, ...), ⊙ as `\odot` (SymPy writes `\circ`), an
elementwise function as σ(z), σ′(z), and the bias broadcast b 1ᵀ.

Two forms of a derivative node:

* **factored** — in terms of δ and the other nodes: derivative nodes that only
  pass a gradient along (`∇_{a^l} C = (W^{l+1})ᵀ δ^{l+1}` for a hidden layer) are
  substituted, so BP2 reads `δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ′(z^l)`;
* **expanded** — the closed form in the inputs, parameters and targets.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter

from ..core.backprop import expand
from ..core.graph import Graph, Node, as_graph
from ..errors import GraphError, UsageError
from .names import FORMS


class BookLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with node names and the book's operators."""

    def __init__(self, names: dict[sp.Basic, str] | None = None, **settings: Any) -> None:
        settings.setdefault("mul_symbol", None)
        super().__init__(settings)
        self.names = names or {}

    def doprint(self, expr: Any) -> str:
        # KaTeX expands every \operatorname as a macro, and a long expanded formula exceeds its
        # default expansion limit; \mathrm is a plain font switch that renders the same name.
        return super().doprint(expr).replace(r"\operatorname{", r"\mathrm{")

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr in self.names:
            return self.names[expr]
        return super()._print_Symbol(expr, style=style)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        if expr in self.names:
            return self.names[expr]
        return super()._print_MatrixSymbol(expr)

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        # Products and sums inside ⊙ are bracketed: ((W^{l+1})^T δ^{l+1}) ⊙ σ′(z^l).
        parts = []
        for a in expr.args:
            tex = self._print(a)
            if isinstance(a, (sp.MatMul, sp.MatAdd, sp.Add, sp.Mul)):
                tex = rf"\left({tex}\right)"
            parts.append(tex)
        return r" \odot ".join(parts)

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        f = expr.function
        d = f.variables[0]
        body = f.expr
        # σ(z), σ′(z), log(a): the body with the variable replaced by the matrix.
        arg = sp.Symbol(self._print(expr.expr))
        if isinstance(body, sp.Function) and body.args == (d,):
            return self._print(body.func(arg))
        return self._print(body.xreplace({d: arg}))

    def _print_OneMatrix(self, expr: sp.OneMatrix) -> str:
        rows, cols = expr.shape
        if rows == 1:
            return r"\mathbf{1}^{T}"
        if cols == 1:
            return r"\mathbf{1}"
        return r"\mathbf{1}\mathbf{1}^{T}"

    def _print_Trace(self, expr: sp.Trace) -> str:
        return rf"\mathrm{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_Identity(self, expr: sp.Identity) -> str:
        return "I"


def tex_names(graph: Graph) -> dict[sp.Basic, str]:
    return {n.symbol: n.tex for n in graph.nodes() if n.tex}


def to_latex(expr: sp.Basic, graph: Graph | None = None) -> str:
    """LaTeX of a SymPy expression, node symbols printed in the book's notation."""
    return BookLatexPrinter(tex_names(graph) if graph is not None else None).doprint(expr)


def passes_along(graph: Graph, node: Node) -> bool:
    """A derivative node that only carries the gradient on: `∇_{a^l}C = (W^{l+1})ᵀδ^{l+1}`."""
    if node.role != "derivative" or node.kind == "delta" or node.of is None:
        return False
    if graph.node(node.of).role == "parameter":
        return False
    return any(graph.node(p).role == "derivative" for p in graph.nx.predecessors(node.name))


def factored(graph: Graph, name: str) -> sp.Basic:
    """A node's expression with pass-along derivative nodes substituted (the book's form)."""
    node = graph.node(name)
    expr = node.expr if node.expr is not None else node.symbol
    reps: dict[sp.Basic, sp.Basic] = {}
    for p in graph.nx.predecessors(node.name):
        pn = graph.node(p)
        if passes_along(graph, pn):
            reps[pn.symbol] = factored(graph, p)
    return expr.xreplace(reps) if reps else expr


def equation(graph: Graph, name: str, form: str = "factored") -> str:
    """`lhs = rhs` in LaTeX for one node; `form` is `factored`, `expanded` or `node`."""
    if form not in FORMS:
        raise UsageError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}", arg="form")
    node = graph.node(name)
    printer = BookLatexPrinter(tex_names(graph))
    lhs = node.tex or printer.doprint(node.symbol)
    if node.expr is None:
        return lhs
    if form == "expanded":
        rhs = expand(graph, node.name)
    elif form == "factored":
        rhs = factored(graph, node.name)
    else:
        rhs = node.expr
    return f"{lhs} = {printer.doprint(rhs)}"


def latex(obj: Any, name: str | None = None, *, form: str = "factored") -> str:
    """LaTeX for a node, a derivative, a whole network's derivatives, or an expression.

    * `latex(graph, "dC/dW2")` — one equation, e.g. `\\frac{∂C}{∂W^{2}} = δ^{2} x^{T}`;
    * `latex(network)` or `latex(graph)` — every derivative node (or, before
      backprop, every computed node) in an `aligned` block;
    * `latex(node)` — a `Node` that belongs to a graph;
    * `latex(expr)` — any SymPy expression.
    """
    if isinstance(obj, Node):
        if obj.graph is None:
            raise GraphError(f"node {obj.name!r} belongs to no graph")
        return equation(obj.graph, obj.name, form)
    if isinstance(obj, sp.Basic):
        return to_latex(obj)
    try:
        g = as_graph(obj)
    except UsageError:
        raise TypeError(f"latex() takes a Graph, Network, Node or SymPy expression, not {type(obj).__name__}") from None
    if name is not None:
        return equation(g, name, form)
    nodes = g.nodes("derivative") or [n for n in g.nodes() if n.expr is not None]
    shown = [n for n in nodes if not passes_along(g, n)] if form == "factored" else nodes
    rows = [equation(g, n.name, form).replace(" = ", " &= ", 1) for n in shown]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


class Formula:
    """LaTeX that shows itself in a notebook (`_repr_latex_`) and prints as text."""

    def __init__(self, tex: str) -> None:
        self.tex = tex

    def __str__(self) -> str:
        return self.tex

    def __repr__(self) -> str:
        return f"Formula({self.tex!r})"

    def _repr_latex_(self) -> str:
        return f"$${self.tex}$$"
