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
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.printing.latex import LatexPrinter

from ..core.backprop import MAX_TERMS, expand
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


class Textbook:
    r"""An elementwise expression as a textbook writes it: one fraction, factored, signs tidied.

    The expression is read entry by entry: a dummy scalar stands for each matrix symbol
    (`matrices`), 1 for the all-ones matrix of `shape` (`None`: a scalar expression). It
    is `sign · Π num[i] / Π den[i]`, each a `(factor, power)`. The cross-entropy's
    `∇_a C = −(y − 𝟏) ⊙ 1/(𝟏 − a) − y/a` prints as `\frac{a − y}{a ⊙ (𝟏 − a)}`, a
    fraction of matrices dividing entry by entry.
    """

    def __init__(self, sign: sp.Integer, num: list, den: list, matrices: dict, shape: tuple | None) -> None:
        self.sign, self.num, self.den, self.matrices, self.shape = sign, num, den, matrices, shape

    @classmethod
    def of(cls, expr: sp.Basic) -> Textbook | None:
        """The textbook form of `expr`, or `None` when it has no division to tidy (or is not elementwise)."""
        matrices: dict[sp.Dummy, sp.MatrixSymbol] = {}
        shape = expr.shape if isinstance(expr, sp.MatrixExpr) else None
        scalar = _scalar(expr, matrices, shape)
        if scalar is None or scalar.atoms(sp.Function) or not any(
                p.exp.is_negative for p in scalar.atoms(sp.Pow)):
            return None
        num, den = sp.fraction(sp.factor(sp.together(scalar)))
        sign = sp.S.One
        parts = []
        for x in (num, den):
            coeff, factors = sp.factor_list(x)
            if not coeff.is_Integer:
                return None
            sign *= sp.sign(coeff) if x is num else sp.sign(coeff)
            tidy = []
            if abs(coeff) != 1:
                tidy.append((abs(coeff), 1))
            for f, k in factors:
                if _flip(f):
                    f, sign = sp.expand(-f), sign * (-1) ** k
                tidy.append((f, k))
            parts.append(tidy)
        return cls(sign, parts[0], parts[1], matrices, shape)

    def value(self) -> sp.Expr:
        """The form as one SymPy expression in the dummies (to prove it equal to the node's)."""
        num = sp.Mul(*[f**k for f, k in self.num])
        den = sp.Mul(*[f**k for f, k in self.den])
        return self.sign * num / den

    def latex(self, printer: LatexPrinter) -> str | None:
        """The LaTeX, ⊙ between matrix factors, or `None` for a form this printer does not write."""
        return _Elementwise(printer, self.matrices, self.shape).fraction(self)


def _flip(f: sp.Expr) -> bool:
    """Whether a factor reads better negated: fewer minus terms than plus ones, else a positive
    constant term (1 − a), else a positive first symbol (a − y, output before target)."""
    if not isinstance(f, sp.Add):
        return False
    neg = sum(1 for t in f.args if t.could_extract_minus_sign())
    if 2 * neg != len(f.args):
        return 2 * neg > len(f.args)
    const = [t for t in f.args if t.is_Number]
    lead = const[0] if const else min(f.args, key=lambda t: sp.default_sort_key(-t if t.could_extract_minus_sign() else t))
    return lead.could_extract_minus_sign()


def _scalar(e: sp.Basic, matrices: dict, shape: tuple | None) -> sp.Expr | None:
    """An elementwise matrix expression as a scalar one (`None` if it is not elementwise)."""
    if shape is None:
        return e if isinstance(e, sp.Expr) and not e.has(sp.MatrixSymbol) else None
    if isinstance(e, sp.MatrixSymbol):
        if e.shape != shape:
            return None
        d = next((k for k, v in matrices.items() if v == e), None)
        if d is None:
            d = sp.Dummy(e.name)
            matrices[d] = e
        return d
    if isinstance(e, sp.OneMatrix):
        return sp.S.One if e.shape == shape else None
    if isinstance(e, sp.ZeroMatrix):
        return sp.S.Zero
    if isinstance(e, (sp.MatAdd, sp.HadamardProduct)):
        parts: list[sp.Expr] = []
        for a in e.args:
            if (q := _scalar(a, matrices, shape)) is None:
                return None
            parts.append(q)
        return sp.Add(*parts) if isinstance(e, sp.MatAdd) else sp.Mul(*parts)
    if isinstance(e, sp.MatMul):  # a scalar times one matrix only: c W, not W V
        mats = [a for a in e.args if isinstance(a, sp.MatrixExpr)]
        scalars = [a for a in e.args if not isinstance(a, sp.MatrixExpr)]
        if len(mats) != 1 or any(a.has(sp.MatrixSymbol) for a in scalars):
            return None
        q = _scalar(mats[0], matrices, shape)
        return None if q is None else sp.Mul(*scalars, q)
    if isinstance(e, ElementwiseApplyFunction):
        q = _scalar(e.expr, matrices, shape)
        return None if q is None else e.function(q)
    if isinstance(e, HadamardPower):
        q = _scalar(e.args[0], matrices, shape)
        return None if q is None or e.args[1].has(sp.MatrixSymbol) else q ** e.args[1]
    return None


class _Elementwise:
    """Writes a `Textbook` form: sums with their plus terms first, ⊙ between matrix factors."""

    def __init__(self, printer: LatexPrinter, matrices: dict, shape: tuple | None) -> None:
        self.p, self.matrices, self.shape = printer, matrices, shape
        self.ok = True

    def fraction(self, form: Textbook) -> str | None:
        num, den = self.product(form.num), self.product(form.den)
        if not self.ok:
            return None
        lead = "- " if form.sign < 0 else ""
        if not den:
            return lead + (num or self.one())
        return lead + rf"\frac{{{num or self.one()}}}{{{den}}}"

    def product(self, factors: list[tuple[sp.Expr, sp.Integer]]) -> str:
        numbers = [f for f, _ in factors if f.is_Number]
        rest = [(f, k) for f, k in factors if not f.is_Number]
        parts = []
        for f, k in sorted(rest, key=lambda fk: (isinstance(fk[0], sp.Add), sp.default_sort_key(fk[0]))):
            if k != 1 and self.shape is not None:
                self.ok = False  # an entrywise power: no textbook form here
            if isinstance(f, sp.Add):
                tex = self.sum(f)
                if len(rest) > 1 or k != 1 or numbers:
                    tex = rf"\left({tex}\right)"
            else:
                tex = self.atom(f)
            parts.append(tex if k == 1 else f"{tex}^{{{k}}}")
        body = (r" \odot " if self.shape is not None else " ").join(parts)
        return " ".join([*(self.p.doprint(n) for n in numbers), body]).strip()

    def sum(self, e: sp.Add) -> str:
        terms = sorted(e.args, key=lambda t: (t.could_extract_minus_sign(), not t.is_Number, sp.default_sort_key(t)))
        out = ""
        for i, t in enumerate(terms):
            minus = t.could_extract_minus_sign()
            body = self.term(-t if minus else t)
            out += (("- " if minus else "") if i == 0 else (" - " if minus else " + ")) + body
        return out

    def term(self, t: sp.Expr) -> str:
        if t.is_Number:
            return self.one() if t == 1 else f"{self.p.doprint(t)} {self.one()}".rstrip(" 1")
        coeff, rest = t.as_coeff_Mul()
        factors = list(sp.Mul.make_args(rest))
        if any(isinstance(f, (sp.Pow, sp.Add)) for f in factors) or not coeff.is_Rational:
            self.ok = False
            return ""
        body = (r" \odot " if self.shape is not None else " ").join(self.atom(f) for f in factors)
        return body if coeff == 1 else f"{self.p.doprint(coeff)} {body}"

    def atom(self, a: sp.Expr) -> str:
        return self.p.doprint(self.matrices.get(a, a))

    def one(self) -> str:
        return "1" if self.shape is None else self.p.doprint(sp.OneMatrix(*self.shape))


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
        rhs = expand(graph, node.name, max_terms=MAX_TERMS)
    elif form == "factored":
        rhs = factored(graph, node.name)
    else:
        rhs = node.expr
    return f"{lhs} = {textbook_latex(rhs, printer)}"


def textbook_latex(expr: sp.Basic, printer: BookLatexPrinter) -> str:
    """`expr` in LaTeX, in its `Textbook` form when it has one (a division to tidy)."""
    form = Textbook.of(expr)
    tex = form.latex(printer) if form is not None else None
    return tex if tex is not None else printer.doprint(expr)


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
