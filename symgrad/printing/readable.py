r"""Formulas that read like the textbook: a printing pass that simplifies for reading, not for computing.

The graph is not changed. `readable` rewrites a node's expression into an equal one that
a person would write, and `ReadableLatexPrinter` prints it:

* `x^{∘1}` → x, 1 ⊙ X → X (a Hadamard factor of ones), and a block of entrywise operations
  simplified as the scalar expression it is entry by entry: with σ′ = σ(1 − σ),
  −y ⊙ σ′(Xw) ⊘ σ(Xw) + (1 − y) ⊙ σ′(Xw) ⊘ (1 − σ(Xw)) becomes σ(Xw) − y;
* a common factor taken out of a sum: A x + Aᵀ x → (A + Aᵀ) x;
* a lone constant printed plainly: `½ 1ᵀ e^{∘2} 1`, never `\left(\frac{1}{2}\right)`;
* ∘-powers −1, ½ and −½ as fractions and roots: `A ⊙ B^{∘−1}` → `\frac{A}{B}`, `X^{∘½}` → `\sqrt{X}`;
* multi-letter names upright (`\mathrm{up}`, never the product u·p), and ∇ bracketed
  inside a product: (∇_e C) hᵀ;
* δ-style names: ∂C/∂u for a pre-activation u (a node an activation or softmax is applied to)
  is `δ_u` (δ for z, `δ_{1}` for z1), kept as a node in the factored form, as BP1–BP2 do.

Every rewrite is an identity; `readable` is proved equal to the graph's expression entry by
entry in the tests (`tests/test_readable.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..core.backprop import MAX_TERMS, expand
from ..core.functions import log_softmax, sigmoid, sigmoid_prime, softmax, tanh_prime
from ..core.graph import Graph
from ..core.parse import name_tex
from ..core.rules import hadamard
from ..errors import UsageError
from .latex import BookLatexPrinter, passes_along

#: Entries with more operations than this are not simplified (the time grows fast, the reading gains little).
MAX_ENTRY_OPS = 150

_ELEMENTWISE = (sp.MatAdd, sp.HadamardProduct, HadamardPower, ElementwiseApplyFunction)


def _is_scalar_times_matrix(e: sp.Basic) -> bool:
    return isinstance(e, sp.MatMul) and sum(isinstance(a, MatrixExpr) for a in e.args) == 1


def _entrywise(e: sp.Basic) -> bool:
    """Whether `e` is an entrywise operation on matrices of its own shape."""
    return isinstance(e, _ELEMENTWISE) or _is_scalar_times_matrix(e) or isinstance(e, sp.OneMatrix)


# ------------------------------------------------------------ entrywise blocks
class _Block:
    """A maximal block of entrywise operations, lifted to the scalar expression of one entry."""

    def __init__(self, shape: tuple, inner: Callable[[sp.Basic], sp.Basic]) -> None:
        self.shape = shape
        self.inner = inner  # how the non-entrywise subterms (Xw, Wᵀδ, ...) are themselves rewritten
        self.holes: dict[sp.Basic, sp.Dummy] = {}
        self.back: dict[sp.Dummy, sp.Basic] = {}

    def hole(self, e: sp.Basic) -> sp.Dummy:
        e = self.inner(e)
        if e not in self.holes:
            d = sp.Dummy(f"m{len(self.holes)}", real=True)
            self.holes[e], self.back[d] = d, e
        return self.holes[e]

    def lift(self, e: sp.Basic) -> sp.Basic:
        if not isinstance(e, MatrixExpr):
            return e  # a scalar factor
        if tuple(e.shape) != self.shape:
            return self.hole(e)
        if isinstance(e, sp.OneMatrix):
            return sp.S.One
        if isinstance(e, sp.MatAdd):
            return sp.Add(*[self.lift(a) for a in e.args])
        if isinstance(e, sp.HadamardProduct):
            return sp.Mul(*[self.lift(a) for a in e.args])
        if isinstance(e, HadamardPower) and e.args[1].is_Number:
            return self.lift(e.args[0]) ** e.args[1]
        if isinstance(e, ElementwiseApplyFunction):
            f, arg = e.function, self.lift(e.expr)
            if isinstance(f, sp.Lambda):
                return f.expr.xreplace({f.variables[0]: arg})
            return f(arg)
        if _is_scalar_times_matrix(e):
            return sp.Mul(*[self.lift(a) for a in e.args])
        return self.hole(e)

    def lower(self, s: sp.Basic) -> sp.Basic:
        """The scalar expression of an entry back as a matrix expression of the block's shape."""
        if s in self.back:
            return self.back[s]
        if not (s.free_symbols & set(self.back)):
            return s * sp.OneMatrix(*self.shape)  # a constant: c 1 1ᵀ
        if isinstance(s, sp.Add):
            return sp.MatAdd(*[self.lower(a) for a in s.args])
        if isinstance(s, sp.Mul):
            coeff = [a for a in s.args if not (a.free_symbols & set(self.back))]
            rest = [a for a in s.args if a.free_symbols & set(self.back)]
            num = [a for a in rest if not (isinstance(a, sp.Pow) and a.exp.is_negative)]
            den = [a for a in rest if isinstance(a, sp.Pow) and a.exp.is_negative]
            factors = [self.lower(a) for a in num] + [self.lower(a) for a in den]
            out = hadamard(*factors) if len(factors) > 1 else factors[0]
            c = sp.Mul(*coeff)
            return out if c == 1 else c * out
        if isinstance(s, sp.Pow) and s.exp.is_Number:
            base = self.lower(s.base)
            return base if s.exp == 1 else HadamardPower(base, s.exp)
        if isinstance(s, sp.Function) and len(s.args) == 1:
            return ElementwiseApplyFunction(s.func, self.lower(s.args[0]))
        raise ValueError  # not expressible entry by entry: keep the original


def _atomize(s: sp.Basic) -> tuple[sp.Basic, dict[sp.Dummy, sp.Basic]]:
    """Function applications f(u) as symbols (σ′ and tanh′ as their σ and tanh polynomials), so that
    `cancel` sees a rational function."""
    s = s.replace(sigmoid_prime, lambda u: sigmoid(u) * (1 - sigmoid(u)))
    s = s.replace(tanh_prime, lambda u: 1 - sp.tanh(u) ** 2)
    atoms: dict[sp.Basic, sp.Dummy] = {}
    for f in sorted(s.atoms(sp.Function), key=sp.count_ops):
        atoms[f] = sp.Dummy("f", real=True)
    return s.xreplace(atoms), {d: f for f, d in atoms.items()}


def _simplify_entry(s: sp.Basic) -> sp.Basic:
    atomized, back = _atomize(s)
    best = s
    for candidate in (sp.cancel(atomized), sp.factor_terms(sp.cancel(atomized)), sp.factor(atomized)):
        c = candidate.xreplace(back)
        if sp.count_ops(c) < sp.count_ops(best):
            best = c
    return best


def _block(e: MatrixExpr, inner: Callable[[sp.Basic], sp.Basic]) -> sp.Basic:
    b = _Block(tuple(e.shape), inner)
    lifted = b.lift(e)
    # a big entry is left as it is: simplifying it would take long and read no better
    simple = _simplify_entry(lifted) if sp.count_ops(lifted) <= MAX_ENTRY_OPS else lifted
    for candidate in (simple, lifted):
        try:
            return b.lower(candidate)
        except ValueError:  # a head with no entrywise form (a function of two arguments, say)
            continue
    return e.func(*[inner(a) for a in e.args])


# ----------------------------------------------------------------- rewriting
def _factor_sum(e: sp.MatAdd) -> sp.Basic:
    """A x + B x → (A + B) x, and x A + x B → x (A + B), when every term shares the factor."""
    terms = [t if isinstance(t, sp.MatMul) else sp.MatMul(t) for t in e.args]
    if len(terms) < 2 or any(len(t.args) < 2 for t in terms):
        return e
    for side in (-1, 0):
        common = terms[0].args[side]
        if not isinstance(common, MatrixExpr) or any(t.args[side] != common for t in terms):
            continue
        parts = [sp.MatMul(*(t.args[:-1] if side == -1 else t.args[1:])).doit() for t in terms]
        if any(not isinstance(p, MatrixExpr) for p in parts):
            continue  # 3·1 + Wᵀ 1 stays: (3 I + Wᵀ) 1 reads no better
        rest = sp.MatAdd(*parts)
        rest = _factor_sum(rest) if isinstance(rest, sp.MatAdd) else rest
        return sp.MatMul(rest, common) if side == -1 else sp.MatMul(common, rest)
    return e


def readable(expr: sp.Basic) -> sp.Basic:
    """An expression equal to `expr` that reads like the textbook (see the module docstring).

    Only for printing: the result may hold unevaluated products such as (A + Aᵀ) x.
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def go(e: sp.Basic) -> sp.Basic:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Atom or isinstance(e, (sp.MatrixSymbol, sp.Lambda, sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
            out = e
        elif isinstance(e, MatrixExpr) and _entrywise(e):
            out = _block(e, go)
            out = _tidy(out)
        else:
            out = e.func(*[go(a) for a in e.args])
            if isinstance(out, sp.MatAdd):
                out = _factor_sum(out)
        memo[e] = out
        return out

    return go(expr)


def _tidy(e: sp.Basic) -> sp.Basic:
    """`x^{∘1}` → x and a Hadamard factor of ones dropped, everywhere in `e`."""
    if e.is_Atom or isinstance(e, (sp.MatrixSymbol, sp.Lambda)):
        return e
    args = [_tidy(a) for a in e.args]
    if isinstance(e, HadamardPower) and args[1] == 1:
        return args[0]
    if isinstance(e, sp.HadamardProduct):
        kept = [a for a in args if not isinstance(a, sp.OneMatrix)] or args[:1]
        return hadamard(*kept)
    if isinstance(e, sp.MatAdd):
        out = sp.MatAdd(*args)
        return _factor_sum(out) if isinstance(out, sp.MatAdd) else out
    return e.func(*args) if args != list(e.args) else e


# ------------------------------------------------------------------- names
def pre_activations(graph: Graph) -> set[str]:
    """The nodes an activation (entrywise function) or softmax is applied to: their ∂C/∂u is a δ."""
    out = set()
    for n in graph.nodes():
        if n.expr is None or n.role == "derivative":
            continue
        for sub in sp.preorder_traversal(n.expr):
            if isinstance(sub, (ElementwiseApplyFunction, softmax, log_softmax)):
                arg = sub.expr if isinstance(sub, ElementwiseApplyFunction) else sub.arg
                if arg in graph.symbols:
                    out.add(graph.symbols[arg])
    return out


def delta_tex(tex: str) -> str:
    r"""δ-style LaTeX for ∂C/∂u from u's LaTeX: `z` → `\delta`, `z_{1}` → `\delta_{1}`,
    `z^{2}` → `\delta^{2}`, anything else `u` → `\delta_{u}`."""
    if tex == "z" or re.fullmatch(r"z[_^]\{[^{}]*\}", tex):
        return r"\delta" + tex[1:]
    return rf"\delta_{{{tex}}}"


def readable_names(graph: Graph) -> dict[sp.Basic, str]:
    """LaTeX for every node's symbol: its `tex`, else its name upright when multi-letter (`name_tex`),
    and δ-style for the derivative of a pre-activation."""
    names: dict[sp.Basic, str] = {}
    pre = pre_activations(graph)
    for n in graph.nodes():
        tex = n.tex
        if not tex:
            tex = name_tex(n.name) if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n.name) else None
        if n.role == "derivative" and n.of in pre and n.cost is not None and graph.node(n.cost).role == "cost":
            of = graph.node(n.of)
            tex = delta_tex(names.get(of.symbol) or of.tex or name_tex(of.name))
        if tex:
            names[n.symbol] = tex
    return names


# ----------------------------------------------------------------- printing
def _is_sum_of_squares(mats: list) -> bool:
    if len(mats) not in (2, 3) or not isinstance(mats[0], sp.OneMatrix) or mats[0].shape[0] != 1:
        return False
    if not (isinstance(mats[1], HadamardPower) and mats[1].args[1] == 2):
        return False
    return len(mats) == 2 and mats[1].shape[1] == 1 or len(mats) == 3 and isinstance(mats[2], sp.OneMatrix)


class _Norm2(sp.Basic):
    r"""‖e‖² for printing only (a placeholder the printer writes as `\left\lVert e \right\rVert^{2}`)."""


class ReadableLatexPrinter(BookLatexPrinter):
    """`BookLatexPrinter` with the readable pass's notation (see the module docstring)."""

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr not in self.names and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", expr.name):
            return name_tex(expr.name)
        return super()._print_Symbol(expr, style=style)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        if expr not in self.names and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", expr.name):
            return name_tex(expr.name)
        return super()._print_MatrixSymbol(expr)

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        base, p = expr.args
        if p == 1:
            return self._print(base)
        if p.is_Number and p < 0:
            return rf"\frac{{1}}{{{self._print(HadamardPower(base, -p))}}}"
        tex = self._print(base)
        if p == sp.Rational(1, 2):
            return rf"\sqrt{{{tex}}}"
        if not isinstance(base, (sp.MatrixSymbol, sp.OneMatrix)) and not re.fullmatch(r"[\\\w{}^_]+", tex):
            tex = rf"\left({tex}\right)"
        elif "^" in tex:  # c^{2} squared is {c^{2}}^{∘2}: a second superscript on c^{2} is not LaTeX
            tex = f"{{{tex}}}"
        return rf"{tex}^{{\circ {self._print(p)}}}"

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        num = [a for a in expr.args if not (isinstance(a, HadamardPower) and a.args[1].is_Number and a.args[1] < 0)]
        den = [HadamardPower(a.args[0], -a.args[1]) for a in expr.args if a not in num]
        if not den:
            return super()._print_HadamardProduct(expr)

        def side(parts: list) -> str:
            if not parts:
                return "1"
            return self._print(parts[0]) if len(parts) == 1 else super(ReadableLatexPrinter, self)._print_HadamardProduct(
                sp.HadamardProduct(*parts))

        return rf"\frac{{{side(num)}}}{{{side(den)}}}"

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        flat: list[sp.Basic] = []
        stack = list(reversed(expr.args))
        while stack:  # nested products' constants fold into one: ⅔ (−½ A) is −⅓ A
            a = stack.pop()
            if isinstance(a, sp.MatMul):
                stack.extend(reversed(a.args))
            else:
                flat.append(a)
        coeff = [a for a in flat if not isinstance(a, MatrixExpr)]
        mats = [a for a in flat if isinstance(a, MatrixExpr)]
        c = sp.Mul(*coeff)
        if _is_sum_of_squares(mats):  # 1ᵀ e^{∘2} 1 is ‖e‖²
            mats = [_Norm2(mats[1].args[0])]
        parts = []
        for k, a in enumerate(mats):
            tex = self._print(a)
            compound = isinstance(a, (sp.MatAdd, sp.HadamardProduct)) or (
                isinstance(a, HadamardPower) and a.args[1].is_Number and a.args[1] < 0)
            nabla = tex.startswith(r"\nabla") and k < len(mats) - 1
            if compound or nabla:
                tex = rf"\left({tex}\right)"
            parts.append(tex)
        body = " ".join(parts)
        if c == 1:
            return body
        if c == -1:
            return f"- {body}"
        ctex = self._print(c)
        if isinstance(c, sp.Add):
            ctex = rf"\left({ctex}\right)"
        return f"{ctex} {body}"

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        # the terms with a minus sign last: X w - y, σ(z) - y (SymPy's order would give -y + X w)
        texs = [self._print(t) for t in expr.args]
        texs = [t for t in texs if not t.startswith("-")] + [t for t in texs if t.startswith("-")]
        out = texs[0]
        for tex in texs[1:]:
            out += f" - {tex[1:].lstrip()}" if tex.startswith("-") else f" + {tex}"
        return out

    def _print__Norm2(self, expr: _Norm2) -> str:
        return rf"\left\lVert {self._print(expr.args[0])} \right\rVert^{{2}}"

    def _print_log(self, expr: sp.log, exp: str | None = None) -> str:
        tex = rf"\ln\left({self._print(expr.args[0])}\right)"
        return tex if exp is None else rf"\ln^{{{exp}}}\left({self._print(expr.args[0])}\right)"

    def _print_OneMatrix(self, expr: sp.OneMatrix) -> str:
        if tuple(expr.shape) == (1, 1):
            return "1"
        return super()._print_OneMatrix(expr)


def readable_factored(graph: Graph, name: str) -> sp.Basic:
    """The factored form (`symgrad.printing.latex.factored`) keeping δ nodes: a pass-along derivative
    node is substituted unless it is ∂C/∂(pre-activation)."""
    pre = pre_activations(graph)
    node = graph.node(name)
    expr = node.expr if node.expr is not None else node.symbol
    reps: dict[sp.Basic, sp.Basic] = {}
    for p in graph.nx.predecessors(node.name):
        pn = graph.node(p)
        if passes_along(graph, pn) and pn.of not in pre:
            reps[pn.symbol] = readable_factored(graph, p)
    return expr.xreplace(reps) if reps else expr


FORMS = ("factored", "expanded", "node")


def readable_rhs(graph: Graph, name: str, form: str = "factored") -> sp.Basic:
    """The right-hand side `readable_equation` prints, as a SymPy expression (what the tests prove)."""
    if form not in FORMS:
        raise UsageError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}", arg="form")
    node = graph.node(name)
    if node.expr is None:
        return node.symbol
    if form == "expanded":
        rhs = expand(graph, node.name, max_terms=MAX_TERMS)
    elif form == "factored":
        rhs = readable_factored(graph, node.name)
    else:
        rhs = node.expr
    return readable(rhs)


def readable_equation(graph: Graph, name: str, form: str = "factored") -> str:
    """`lhs = rhs` in LaTeX for one node, the right-hand side through `readable`."""
    names = readable_names(graph)
    printer = ReadableLatexPrinter(names)
    node = graph.node(name)
    lhs = names.get(node.symbol) or printer.doprint(node.symbol)
    if node.expr is None:
        return lhs
    return f"{lhs} = {printer.doprint(readable_rhs(graph, name, form))}"


def readable_latex(expr: sp.Basic, graph: Graph | None = None) -> str:
    """LaTeX of any expression through the readable pass (node names from `graph`)."""
    return ReadableLatexPrinter(readable_names(graph) if graph is not None else None).doprint(readable(expr))


__all__ = ["ReadableLatexPrinter", "delta_tex", "pre_activations", "readable", "readable_equation",
           "readable_factored", "readable_latex", "readable_names", "readable_rhs"]
