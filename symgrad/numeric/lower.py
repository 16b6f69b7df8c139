r"""Lowering a derivative graph for NumPy: the tables and rewrites an expert applies by hand.

* Every node gets a Python variable (`identifier`); an elementwise matrix expression
  is printed through its scalar form (`Lowering.to_scalar`), so `A ⊙ B + C` becomes
  one broadcasting NumPy expression.
* For a node a = f(z) the table `NODE_REWRITES` says what else a names: σ′(z) is
  `a*(1 - a)` when the node a^l = σ(z^l) exists (tanh′ → `1 - a**2`), ln σ(z) is
  −softplus(−z) and ln(1 − σ(z)) is −softplus(z) (stable: `np.logaddexp`).
* `fuse_derivatives` simplifies an elementwise derivative node together with the
  elementwise derivative nodes it uses: for σ with the cross-entropy cost
  δ^L = (−y/a + (1−y)/(1−a)) ⊙ a(1−a) becomes `a - y`, finite for |z| up to 10³.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable
from typing import Any

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..core.functions import sigmoid, sigmoid_prime, softplus, tanh_prime
from ..core.graph import Graph, Node

#: For a node a = f(z), the expressions a also stands for: `NODE_REWRITES[f](a, z)`.
NODE_REWRITES: dict[type, Callable[[sp.Basic, sp.Basic], dict[sp.Basic, sp.Basic]]] = {
    sigmoid: lambda a, z: {sigmoid_prime(z): a * (1 - a), sp.log(a): -softplus(-z), sp.log(1 - a): -softplus(z)},
    sp.tanh: lambda a, z: {tanh_prime(z): 1 - a**2},
    sp.exp: lambda a, z: {sp.log(a): z},
}


#: Names the generated modules use for themselves; a node never gets one of them as its variable.
RESERVED = frozenset({"np", "jnp", "jax", "lax", "math", "functools", "params", "state", "ws", "rows", "perm",
                      "bs", "stop", "mesh", "step", "epoch", "workspace", "init_state", "compiled"})


def identifier(name: str, taken: set[str]) -> str:
    """A Python variable for node `name` (`dC/dz2` → `dC_dz2`), not a keyword, builtin or one `taken`.

    The variable is *derived* from the name, never copied: only ASCII letters, digits and `_`
    survive (anything else becomes `_`), so no name — quotes, newlines, `\\upsilon`, letters
    Python would NFKC-normalise into another variable — can change the generated code. It never
    starts with `_` (the generated modules' own names do) and is unique among `taken`.
    """
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not base or base[0].isdigit():
        base = "v_" + base
    if keyword.iskeyword(base) or hasattr(builtins, base) or base in RESERVED or base.startswith("_"):
        base = "v_" + base
    ident, k = base, 1
    while ident in taken:
        k += 1
        ident = f"{base}_{k}"
    taken.add(ident)
    return ident


def is_matrix(e: Any) -> bool:
    """Whether `e` is a matrix expression (a layer-level node: W^l, z^l, δ^l, ...)."""
    return isinstance(e, MatrixExpr)


def is_elementwise(e: sp.Basic) -> bool:
    """Whether `e` acts entry by entry (`A + B`, `A ⊙ B`, `A^{∘k}`, `σ(A)`, `c·A`), so it prints as one scalar formula."""
    return isinstance(e, (MatAdd, HadamardProduct, HadamardPower, ElementwiseApplyFunction)) or (
        isinstance(e, MatMul) and sum(is_matrix(a) for a in e.args) == 1
    )


class Lowering:
    """A graph lowered for printing: node variables, scalar stand-ins of matrix nodes, rewrites.

    An elementwise matrix expression (a sum, a Hadamard product, σ applied to a matrix) is
    printed through its scalar form, in stand-ins for the matrix nodes it uses; what is not
    elementwise (a matrix product, a trace) stays a matrix expression, an opaque stand-in.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.ident: dict[sp.Basic, str] = {}  # node symbol -> Python variable
        self.node_of: dict[sp.Basic, str] = {}  # node symbol or stand-in -> node name
        self.standin: dict[sp.Basic, sp.Dummy] = {}  # matrix node symbol -> scalar stand-in
        self.opaque: dict[sp.Dummy, sp.Basic] = {}  # stand-in -> non-elementwise matrix expr
        self.opaque_of: dict[sp.Basic, sp.Dummy] = {}
        self.rules: dict[sp.Basic, sp.Basic] = {}  # scalar rewrites (σ(z) -> a, σ'(z) -> a(1-a), ...)
        self.rule_sources: set[str] = set()
        self.dims: dict[sp.Symbol, str] = {}
        self.pre: list[str] = []  # hoisted temporaries of the statement being printed
        self.ntemp = 0
        taken: set[str] = set()
        for name in graph.topological_order():
            node = graph.node(name)
            self.ident[node.symbol] = identifier(name, taken)
            self.node_of[node.symbol] = name
        self.taken = taken

    # ------------------------------------------------------------ scalar map
    def to_scalar(self, e: sp.Basic) -> sp.Basic:
        """The scalar expression of an elementwise matrix expression (stand-ins for the rest)."""
        if not is_matrix(e):
            return e
        if isinstance(e, sp.MatrixSymbol):
            d = self.standin.get(e)
            if d is None:
                d = self.standin[e] = sp.Dummy(str(e.name))
                self.node_of[d] = self.node_of.get(e, str(e.name))
                self.ident[d] = self.ident.get(e, str(e.name))
            return d
        if isinstance(e, MatAdd):
            return sp.Add(*[self.to_scalar(a) for a in e.args])
        if isinstance(e, HadamardProduct):
            return sp.Mul(*[self.to_scalar(a) for a in e.args])
        if isinstance(e, HadamardPower):
            return sp.Pow(self.to_scalar(e.base), e.exp)
        if isinstance(e, MatMul):
            coeffs = [a for a in e.args if not is_matrix(a)]
            mats = [a for a in e.args if is_matrix(a)]
            inner = self.to_scalar(mats[0]) if len(mats) == 1 else self._opaque(MatMul(*mats))
            return sp.Mul(*coeffs, inner)
        if isinstance(e, ElementwiseApplyFunction):
            f, inner = e.function, self.to_scalar(e.expr)
            if isinstance(f, sp.Lambda):
                return f.expr.xreplace({f.variables[0]: inner})
            return f(inner)
        if isinstance(e, sp.OneMatrix):
            return sp.S.One
        if isinstance(e, sp.ZeroMatrix):
            return sp.S.Zero
        return self._opaque(e)

    def _opaque(self, e: sp.Basic) -> sp.Dummy:
        d = self.opaque_of.get(e)
        if d is None:
            d = self.opaque_of[e] = sp.Dummy("o")
            self.opaque[d] = e
        return d

    def scalar_symbol(self, sym: sp.Basic) -> sp.Basic:
        """A node's symbol in scalar expressions (its stand-in for a matrix node)."""
        return self.to_scalar(sym) if is_matrix(sym) else sym

    def add_rules(self, node: Node) -> None:
        """Record σ(z) -> a, σ′(z) -> a(1 − a), ln a -> −softplus(−z), ... for a node a = f(z)."""
        e = node.expr
        if isinstance(e, ElementwiseApplyFunction):
            s = self.to_scalar(e)
        elif not node.is_matrix and isinstance(e, sp.Function) and len(e.args) == 1:
            s = e
        else:
            return
        if not isinstance(s, sp.Function) or len(s.args) != 1:
            return
        a, z = self.scalar_symbol(node.symbol), s.args[0]
        rules = {s: a}
        if type(s) in NODE_REWRITES:
            rules.update(NODE_REWRITES[type(s)](a, z))
        for k, v in rules.items():
            self.rules.setdefault(k, v)
        self.rule_sources.add(node.name)

    def rewrite(self, node: Node) -> sp.Basic:
        """The node's expression for printing: scalar form when elementwise, rules applied."""
        e = node.expr
        if node.is_matrix and is_elementwise(e):
            e = self.to_scalar(e)
        elif node.is_matrix:
            return e
        if node.name in self.rule_sources or not self.rules:
            return e
        return e.xreplace(self.rules)

    def deps(self, e: sp.Basic, out: set[str]) -> set[str]:
        """Names of the nodes a (rewritten) expression uses."""
        stack = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, sp.Dummy):
                if x in self.opaque:
                    stack.append(self.opaque[x])
                elif x in self.node_of:
                    out.add(self.node_of[x])
            elif isinstance(x, (sp.Symbol, sp.MatrixSymbol)):
                name = self.node_of.get(x)
                if name is not None:
                    out.add(name)
            elif isinstance(x, (sp.Lambda, sp.OneMatrix, sp.ZeroMatrix, sp.Identity, sp.Number)):
                continue
            else:
                stack.extend(x.args)
        return out

    def temp(self, code: str) -> str:
        """A temporary `_tN = code` hoisted before the statement being printed; its name."""
        self.ntemp += 1
        t = f"_t{self.ntemp}"
        self.pre.append(f"{t} = {code}")
        return t


def is_full(e: sp.Basic) -> bool:
    """Whether the printed code of a matrix expression has the full shape (no broadcasting)."""
    if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix)):
        return False
    if isinstance(e, MatMul):
        mats = [a for a in e.args if is_matrix(a)]
        if len(mats) > 1 and isinstance(mats[-1], sp.OneMatrix):
            return mats[-1].shape[1] == 1 and (mats[-1].shape[0] != 1 or is_full(MatMul(*mats[:-1])))
        if len(mats) > 1 and isinstance(mats[0], sp.OneMatrix):
            return mats[0].shape[0] == 1 and (mats[0].shape[1] != 1 or is_full(MatMul(*mats[1:])))
        return True
    if isinstance(e, (MatAdd, HadamardProduct)):
        return any(is_full(a) for a in e.args if is_matrix(a))
    if isinstance(e, Transpose):
        return is_full(e.arg)
    if isinstance(e, (ElementwiseApplyFunction,)):
        return is_full(e.expr)
    if isinstance(e, HadamardPower):
        return is_full(e.base)
    return True


def scalar_full(ctx: Lowering, s: sp.Basic) -> bool:
    """Whether a scalar form's code has the node's full shape (it uses a matrix node, or a full opaque part)."""
    for x in s.atoms(sp.Dummy):
        if x in ctx.opaque:
            if is_full(ctx.opaque[x]):
                return True
        elif x in ctx.node_of:
            return True
    return False


def count_ops(e: sp.Basic) -> int:
    """The number of operations in `e` (what fusing must lower)."""
    return int(sp.count_ops(e))


def has_division(e: sp.Basic) -> bool:
    """Whether `e` divides (a negative power), as ∂C/∂a = −y/a + (1 − y)/(1 − a) does."""
    return any(p.exp.is_negative for p in e.atoms(sp.Pow))


def division_symbols(e: sp.Basic) -> frozenset:
    """The symbols `e` divides by through a polynomial: {a} for −y/a + (1 − y)/(1 − a).

    A denominator with a function in it, such as `Σ_k e^{z_k}` of a neuron-level softmax, is left
    out: no factor of a node's rewrite (σ′(z) = a(1 − a), tanh′(z) = 1 − a²) can cancel it.
    """
    out: set = set()
    for p in e.atoms(sp.Pow):
        if p.exp.is_negative:
            syms = p.base.free_symbols
            if syms and p.base.is_polynomial(*syms):
                out |= syms
    return frozenset(out)


def fuse_derivatives(graph: Graph, ctx: Lowering, rewritten: dict[str, sp.Basic], order: list[str]) -> None:
    """Simplify an elementwise derivative node together with the elementwise derivative nodes it uses.

    A used derivative node is put in only when it divides by a polynomial in symbols that the
    node's own form also has (∂C/∂a = −y/a + (1 − y)/(1 − a) into ∂C/∂a ⊙ a(1 − a)): only then
    can `cancel` take a factor out. The simplified scalar form replaces the node's when it
    has fewer operations (for σ with the cross-entropy cost, δ^L = a − y). Without the symbol
    test every derivative of a neuron-level softmax (which divides by `Σ_k e^{z_k}`) was put into
    its consumers, so a Hessian graph took minutes in `cancel` for nothing to cancel.
    """
    scalar_form: dict[str, sp.Basic] = {}
    divisors: dict[str, frozenset] = {}
    pred = graph.nx.pred
    for n in order:
        if n not in rewritten:
            continue
        node = graph.node(n)
        if node.role != "derivative":
            continue
        e = rewritten[n]
        if is_matrix(e) or (node.is_matrix and not is_elementwise(node.expr)):
            continue
        subs = {}
        own = None
        for p in pred[n]:
            if p in scalar_form:
                if p not in divisors:
                    divisors[p] = division_symbols(scalar_form[p])
                if divisors[p]:
                    own = e.free_symbols if own is None else own
                    if divisors[p] & own:
                        subs[ctx.scalar_symbol(graph.node(p).symbol)] = scalar_form[p]
        if subs:
            try:
                candidate = sp.cancel(e.xreplace(subs))
            except (sp.PolynomialError, TypeError, ValueError):
                candidate = None
            if candidate is not None and count_ops(candidate) < count_ops(e):
                rewritten[n] = e = candidate
        scalar_form[n] = e
