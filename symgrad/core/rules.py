r"""The rule table: one vector–Jacobian product per SymPy head.

`RULES[Head](expr, i, G)` returns the cotangent that flows to `expr.args[i]`
when `G` = ∂C/∂expr flows into `expr`. For a scalar head that is
`G · ∂expr/∂args[i]`; for a matrix head it is the matrix that makes
`Σ_jk G_jk ∂expr_jk/∂X` (e.g. `G Bᵀ` for the left factor of `A B`).

`pullback` runs reverse mode through one node's expression — its own
small grad table over the expression's subterms — and returns the cotangent of
every node symbol the expression uses. Backprop over the graph calls it once
per node, so each edge is visited once and a sum over 784 inputs is walked
once, not once per input.

Branches: `Piecewise` passes the cotangent to the branch whose condition is the first to
hold (a condition has no derivative). An undefined function f (`sympy.Function("f")`) has
the partial f′(u) = `Subs(Derivative(f(ξ), ξ), ξ, u)`, which is not differentiated again.

Subgradients: `relu` passes the cotangent where the argument is strictly
positive (`H(0) = 0`); at a tie of `Max`/`Min` the first tied argument
takes it all (so the partials still sum to 1); `Abs` uses `sign(0) = 0`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatPow, Trace, Transpose
from sympy.core.function import UndefinedFunction
from sympy.core.relational import Relational
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import BooleanFunction
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from ..errors import RuleError
from .functions import (
    gelu,
    gelu_prime,
    identity,
    log_softmax,
    relu,
    sigmoid,
    sigmoid_prime,
    silu,
    silu_prime,
    softmax,
    softplus,
    step,
    tanh_prime,
)

Rule = Callable[[sp.Basic, int, sp.Basic], sp.Basic]


def _is_matrix(e: sp.Basic) -> bool:
    return isinstance(e, MatrixExpr)


def _others(args: tuple, i: int) -> list:
    return [a for k, a in enumerate(args) if k != i]


def _scalar(derivative: Callable[[sp.Basic, int], sp.Basic]) -> Rule:
    """A scalar head's rule from its partial derivative ∂expr/∂args[i]."""
    return lambda e, i, G: G * derivative(e, i)


def _function_partial(e: sp.Basic, i: int) -> sp.Basic:
    """∂f/∂args[i] of any SymPy function head, via its own `fdiff` (symgrad's heads say theirs there)."""
    if isinstance(e.func, UndefinedFunction):
        return undefined_partial(e, i)
    return e.fdiff(i + 1)


def undefined_partial(e: sp.Basic, i: int) -> sp.Subs:
    r"""∂f/∂args[i] of an undefined function f (`sympy.Function("f")`): f's i-th partial at the point.

    Written `Subs(Derivative(f(ξ), ξ), ξ, u)`, i.e. f′(u), with a bound variable ξ: a bare
    `Derivative(f(u), u)` would be rewritten into ∂u/∂u once the node u = f(u) stands for f(u).
    """
    xi = sp.Dummy("xi")
    args = list(e.args)
    args[i] = xi
    return sp.Subs(sp.Derivative(e.func(*args), xi), xi, e.args[i])


def _piecewise(e: sp.Piecewise, i: int, G: sp.Basic) -> sp.Basic:
    # The cotangent goes to the branch whose condition is the first to hold, as Piecewise
    # chooses its value; a condition itself has no derivative (it changes on a set of measure 0).
    earlier = [(sp.S.Zero, c) for _, c in e.args[:i]]
    return sp.Piecewise(*earlier, (G, e.args[i].cond), (sp.S.Zero, True))


# ---------------------------------------------------------------- scalar rules
def _pow(e: sp.Pow, i: int) -> sp.Basic:
    base, expo = e.args
    return expo * base ** (expo - 1) if i == 0 else e * sp.log(base)


def _max(e: sp.Basic, i: int) -> sp.Basic:
    # Subgradient: at a tie the first of the tied arguments (SymPy's order) takes the
    # whole cotangent. Giving every tied argument 0 would leave the subdifferential:
    # max(u, v) with u = v = 2p is 2p, yet ∂/∂p would come out 0. A constant sorts
    # first, so Max(0, z) still has H(0) = 0, as relu' at 0.
    x = e.args[i]
    before, after = e.args[:i], e.args[i + 1 :]
    return sp.Mul(*[step(x - y) for y in before], *[1 - step(y - x) for y in after])


def _min(e: sp.Basic, i: int) -> sp.Basic:
    x = e.args[i]
    before, after = e.args[:i], e.args[i + 1 :]
    return sp.Mul(*[step(y - x) for y in before], *[1 - step(x - y) for y in after])


SCALAR_PARTIALS: dict[type, Callable[[sp.Basic, int], sp.Basic]] = {
    sp.Add: lambda e, i: sp.S.One,
    sp.Mul: lambda e, i: sp.Mul(*_others(e.args, i)),
    sp.Pow: _pow,
    sp.exp: lambda e, i: e,
    sp.log: lambda e, i: 1 / e.args[0],
    sp.sin: lambda e, i: sp.cos(e.args[0]),
    sp.cos: lambda e, i: -sp.sin(e.args[0]),
    sp.tanh: lambda e, i: tanh_prime(e.args[0]),
    sp.Abs: lambda e, i: sp.sign(e.args[0]),
    sp.Max: _max,
    sp.Min: _min,
    **{head: _function_partial for head in (sigmoid, sigmoid_prime, tanh_prime, relu, step, softplus, identity,
                                               silu, silu_prime, gelu, gelu_prime)},
}


# ---------------------------------------------------------------- matrix rules
def _matmul(e: MatMul, i: int, G: sp.Basic) -> sp.Basic:
    args = e.args
    x = args[i]
    left, right = args[:i], args[i + 1 :]
    if not _is_matrix(x):
        # A scalar factor c of c·M: ∂C/∂c = Σ_jk G_jk M_jk = tr(Gᵀ M).
        rest = MatMul(*_others(args, i)).doit()
        return Trace(G.T * rest)
    scalars = [a for a in left + right if not _is_matrix(a)]
    lm = [a for a in left if _is_matrix(a)]
    rm = [a for a in right if _is_matrix(a)]
    out = G
    if lm:
        out = MatMul(*lm).T * out
    if rm:
        out = out * MatMul(*rm).T
    if scalars:
        out = sp.Mul(*scalars) * out
    return out


def hadamard(*args: sp.Basic) -> sp.Basic:
    """A ⊙ B ⊙ ... with scalar factors pulled out: (−Y) ⊙ A = −(Y ⊙ A), so signs cancel."""
    coeff = sp.S.One
    rest = []
    for a in args:
        if isinstance(a, MatMul):
            c, m = a.as_coeff_mmul()
            coeff *= c
            a = MatMul(*m.args).doit() if len(m.args) > 1 else m.args[0]
        rest.append(a)
    out = HadamardProduct(*rest) if len(rest) > 1 else rest[0]
    return out if coeff == 1 else coeff * out


def _hadamard(e: HadamardProduct, i: int, G: sp.Basic) -> sp.Basic:
    return hadamard(G, *_others(e.args, i))


def _hadamard_power(e: HadamardPower, i: int, G: sp.Basic) -> sp.Basic:
    base, expo = e.args
    if i != 0:
        raise RuleError("HadamardPower: differentiating the exponent is not supported")
    return hadamard(G, expo * HadamardPower(base, expo - 1))


def elementwise_derivative(f: sp.Lambda) -> sp.Lambda | type:
    """f′ for the function of an `ElementwiseApplyFunction`; a named head (σ′) when there is one."""
    d = f.variables[0]
    body = local_partial(f.expr, d)
    if isinstance(body, sp.Function) and body.args == (d,):
        return body.func
    return sp.Lambda(d, body)


def _applyfunc(e: ElementwiseApplyFunction, i: int, G: sp.Basic) -> sp.Basic:
    fprime = elementwise_derivative(e.function)
    return hadamard(G, ElementwiseApplyFunction(fprime, e.expr))


def _trace(e: Trace, i: int, G: sp.Basic) -> sp.Basic:
    return G * sp.Identity(e.arg.shape[0])


def _matrix_element(e: MatrixElement, i: int, G: sp.Basic) -> sp.Basic:
    if i != 0:
        return sp.S.Zero
    mat, r, c = e.args
    rows, cols = mat.shape
    unit = sp.ImmutableSparseMatrix(rows, cols, {(r, c): 1})
    return G * unit


def _softmax(e: softmax, i: int, G: sp.Basic) -> sp.Basic:
    # Per column s = softmax(z): ∂C/∂z = s ⊙ (G − 1 (1ᵀ (s ⊙ G))).
    n = e.shape[0]
    s = e
    return hadamard(s, G - sp.OneMatrix(n, n) * hadamard(s, G))


def _log_softmax(e: log_softmax, i: int, G: sp.Basic) -> sp.Basic:
    # Per column: ∂C/∂z = G − softmax(z) ⊙ (1 1ᵀ G).
    n = e.shape[0]
    return G - hadamard(softmax(e.arg), sp.OneMatrix(n, n) * G)


def _matpow(e: MatPow, i: int, G: sp.Basic) -> sp.Basic:
    # Aⁿ (n a whole number; A⁻¹ is MatPow's subclass Inverse). For n ≥ 1 the
    # cotangent is Σ_{k<n} (Aᵏ)ᵀ G (A^{n−1−k})ᵀ; for n < 0 it is that with B = A⁻¹
    # and |n|, pulled back through B = A⁻¹: −Bᵀ G_B Bᵀ.
    base, n = e.args
    if i != 0 or not (n.is_Integer and n != 0):
        raise RuleError(f"MatPow: only whole-number powers of a matrix are supported, got {e}")
    A = base if n > 0 else sp.Inverse(base)
    k = abs(int(n))
    out = MatAdd(*[(A**j).T * G * (A ** (k - 1 - j)).T for j in range(k)]).doit()
    return out if n > 0 else -A.T * out * A.T


#: A Piecewise's branches and their conditions (which have no derivative).
BRANCH_RULES: dict[type, Rule] = {
    sp.Piecewise: _piecewise,
    ExprCondPair: lambda e, i, G: G if i == 0 else sp.S.Zero,
    Relational: lambda e, i, G: sp.S.Zero,
    BooleanFunction: lambda e, i, G: sp.S.Zero,
}

MATRIX_RULES: dict[type, Rule] = {
    MatAdd: lambda e, i, G: G,
    MatMul: _matmul,
    Transpose: lambda e, i, G: G.T,
    HadamardProduct: _hadamard,
    HadamardPower: _hadamard_power,
    ElementwiseApplyFunction: _applyfunc,
    Trace: _trace,
    MatrixElement: _matrix_element,
    softmax: _softmax,
    log_softmax: _log_softmax,
    MatPow: _matpow,
}

#: The one table: head -> vector–Jacobian product.
RULES: dict[type, Rule] = {
    **{head: _scalar(partial) for head, partial in SCALAR_PARTIALS.items()},
    **BRANCH_RULES,
    **MATRIX_RULES,
}


def rule_for(head: type) -> Rule:
    """The VJP rule for `head`: the table's, else SymPy's `fdiff` for a scalar function."""
    for klass in head.__mro__:
        if klass in RULES:
            return RULES[klass]
    if issubclass(head, sp.Function):
        return _scalar(_function_partial)
    if issubclass(head, sp.Subs):  # f′(u) of an undefined f, from undefined_partial
        raise RuleError(
            "Subs: no second derivative of an undefined function; define the function "
            "(a sympy.Lambda or a symgrad head) to differentiate it again"
        )
    raise RuleError(f"no differentiation rule for {head.__name__}")


# ------------------------------------------------------------------- pullback
def _depends(expr: sp.Basic, wanted: frozenset, memo: dict) -> bool:
    hit = memo.get(expr)
    if hit is None:
        if expr in wanted:
            hit = True
        elif isinstance(expr, (sp.Lambda, sp.Symbol, sp.MatrixSymbol, sp.Number)):
            hit = False
        else:
            hit = any(_depends(a, wanted, memo) for a in expr.args)
        memo[expr] = hit
    return hit


def _zero_like(x: sp.Basic) -> sp.Basic:
    return sp.ZeroMatrix(*x.shape) if _is_matrix(x) else sp.S.Zero


def _sum(terms: list, like: sp.Basic) -> sp.Basic:
    if not terms:
        return _zero_like(like)
    if len(terms) == 1:
        return terms[0]
    if _is_matrix(like):
        return MatAdd(*terms).doit()
    return sp.Add(*terms)


def pullback(expr: sp.Basic, G: sp.Basic, wrt: Iterable[sp.Basic]) -> dict[sp.Basic, sp.Basic]:
    """Cotangents `{s: Σ G·∂expr/∂s}` for the symbols `wrt` that `expr` uses.

    Reverse mode over the expression's own subterms: each subterm's cotangent
    is complete (all its uses summed) before it is pushed to its arguments.
    """
    wanted = frozenset(wrt)
    memo: dict[sp.Basic, bool] = {}
    if not _depends(expr, wanted, memo):
        return {}
    order: list[sp.Basic] = []  # post-order: arguments before the terms using them
    seen: set[sp.Basic] = set()
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
            continue
        if e in seen:
            continue
        seen.add(e)
        stack.append((e, True))
        if e not in wanted:
            stack.extend((a, False) for a in e.args if memo.get(a) or _depends(a, wanted, memo))
    cot: dict[sp.Basic, list] = {expr: [G]}
    out: dict[sp.Basic, sp.Basic] = {}
    for e in reversed(order):
        g = _sum(cot.pop(e, []), e)
        if e in wanted:
            out[e] = g
            continue
        rule = rule_for(type(e))
        for i, a in enumerate(e.args):
            if _depends(a, wanted, memo):
                cot.setdefault(a, []).append(rule(e, i, g))
    return out


def local_partial(expr: sp.Basic, x: sp.Basic) -> sp.Basic:
    """∂expr/∂x for a scalar `expr` by the rule table (`x` a symbol)."""
    return pullback(expr, sp.S.One, [x]).get(x, sp.S.Zero)
