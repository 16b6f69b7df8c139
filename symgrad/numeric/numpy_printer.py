r"""The NumPy printer for lowered graphs: SymPy's `NumPyPrinter`, taught the heads of symgrad's graphs.

What it is taught lives in `GraphPrinting`, which the JAX printer
(`symgrad.numeric.jax_printer`, SymPy's `JaxPrinter` taught the same) shares: one lowering,
two printers, one program.

* `W x` (MatMul) → `W @ x`; `A ⊙ B` (HadamardProduct) → `A*B`; `Aᵀ` → `A.T`;
* the bias broadcast `b 1ᵀ` inside a sum → `+ b` (NumPy broadcasting);
* the batch sum `δ 1` (`G · OneMatrix(m, 1)`) → `δ.sum(axis=1, keepdims=True)`;
* `tr(Aᵀ B)` → `np.vdot(A, B)`;
* an elementwise function σ(z) → the elementwise NumPy expression; symgrad's own heads
  (σ, σ′, tanh′, ReLU, H, softplus, softmax) print themselves (`_numpycode`), with
  the stable helpers of `HELPERS` (σ as `½(1 + tanh(z/2))`, softmax and
  log-softmax minus each column's maximum).

`fast_scalar` prints plain scalar expressions without SymPy's printer (a
neuron-level graph has ~10⁵ of them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sympy as sp
from sympy import MatAdd, MatMul, Trace, Transpose
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from ..core.functions import sigmoid, sigmoid_prime
from ..errors import CompileError
from .lower import Lowering, is_full, is_matrix

#: Helper functions every generated module starts with (NumPy only).
HELPERS = '''\
def _sigmoid(z, out=None):
    # sigma(z) = (1 + tanh(z/2))/2: no overflow for any z, about the cost of 1/(1 + exp(-z)).
    if out is None:
        t = np.tanh(0.5 * z)
    else:  # in place, into a preallocated buffer (a training step's workspace)
        t = np.tanh(np.multiply(z, 0.5, out=out), out=out)
    t *= 0.5
    t += 0.5
    return t


def _sigmoid_prime(z):
    s = _sigmoid(z)
    return s * (1 - s)


def _softmax(z):
    # per column (one example per column); subtracting the column max avoids overflow
    e = np.exp(z - z.max(axis=0, keepdims=True))
    e /= e.sum(axis=0, keepdims=True)
    return e


def _log_softmax(z):
    s = z - z.max(axis=0, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=0, keepdims=True))
'''


_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\.T)?$")


def _paren(code: str) -> str:
    """`code` in brackets unless it is a bare name (or its transpose)."""
    return code if _SIMPLE.match(code) else f"({code})"


class GraphPrinting:
    """What SymPy's array printers are taught for symgrad's graphs (see the module docstring).

    Mixed into SymPy's `NumPyPrinter` (`GraphNumPyPrinter`) and `JaxPrinter`
    (`symgrad.numeric.jax_printer.GraphJaxPrinter`); `np` is the array module's
    name in the generated code (`np` or `jnp`). symgrad's own heads print themselves
    through the printer's print method, `_numpycode` or `_jaxcode`, written beside their
    `_latex` (`symgrad.core.functions`): `sigmoid(z)` prints as `_sigmoid(z)`, a
    helper every generated module defines.
    """

    np = "np"
    ctx: Lowering

    def _module_format(self, fqn: str, register: bool = True) -> str:
        out = super()._module_format(fqn, register)  # type: ignore[misc]
        for module in ("jax.numpy.", "numpy."):
            if out.startswith(module):
                return f"{self.np}.{out[len(module):]}"
        return out

    # ----------------------------------------------------------- leaves
    def _print_Symbol(self, e: sp.Symbol) -> str:
        code = self.ctx.ident.get(e)
        if code is not None:
            return code
        if e in self.ctx.dims:
            return self.ctx.dims[e]
        raise CompileError(f"symbol {e} is not a node of graph {self.ctx.graph.name!r}")

    def _print_Dummy(self, e: sp.Dummy) -> str:
        if e in self.ctx.opaque:
            return _paren(self._print(self.ctx.opaque[e]))
        if e in self.ctx.ident:
            return self.ctx.ident[e]
        raise CompileError(f"unknown placeholder {e}")

    def _print_MatrixSymbol(self, e: sp.MatrixSymbol) -> str:
        code = self.ctx.ident.get(e)
        if code is None:
            raise CompileError(f"matrix {e} is not a node of graph {self.ctx.graph.name!r}")
        return code

    def _shape(self, shape: Sequence) -> str:
        return "(" + ", ".join(self._print(sp.sympify(d)) for d in shape) + ")"

    def _print_OneMatrix(self, e: sp.OneMatrix) -> str:
        return f"{self.np}.ones({self._shape(e.shape)}, dtype=_dtype)"

    def _print_ZeroMatrix(self, e: sp.ZeroMatrix) -> str:
        return f"{self.np}.zeros({self._shape(e.shape)}, dtype=_dtype)"

    def _print_Identity(self, e: sp.Identity) -> str:
        return f"{self.np}.eye({self._print(e.shape[0])}, dtype=_dtype)"

    def _print_Add(self, e: sp.Add, order: Any = None) -> str:
        # positive terms first, then subtractions: `a - y` is one NumPy operation, `-y + a` two
        terms = list(e.args) if len(e.args) > 16 else list(e.as_ordered_terms())
        pos = [t for t in terms if not t.could_extract_minus_sign()]
        neg = [-t for t in terms if t.could_extract_minus_sign()]
        prec = precedence(e)
        if not pos:
            return "-(" + " + ".join(self.parenthesize(t, prec) for t in neg) + ")"
        code = " + ".join(self.parenthesize(t, prec) for t in pos)
        for t in neg:
            code += " - " + self.parenthesize(t, prec + 1 if isinstance(t, sp.Add) else prec)
        return code

    # ---------------------------------------------------- elementwise heads
    def _elementwise(self, e: sp.Basic) -> str:
        s = self.ctx.to_scalar(e)
        if self.ctx.rules:
            s = s.xreplace(self.ctx.rules)
        return self._print(s)

    _print_MatAdd = _elementwise
    _print_HadamardProduct = _elementwise
    _print_HadamardPower = _elementwise
    _print_ElementwiseApplyFunction = _elementwise

    # -------------------------------------------------------- matrix heads
    def _print_MatMul(self, e: MatMul) -> str:
        coeffs = [a for a in e.args if not is_matrix(a)]
        mats = [a for a in e.args if is_matrix(a)]
        if len(mats) == 1:
            return self._elementwise(e)
        code = self._chain(mats)
        if coeffs:
            return f"{self._print(sp.Mul(*coeffs))}*{_paren(code)}"
        return code

    def _chain(self, mats: list) -> str:
        last, first = mats[-1], mats[0]
        if isinstance(last, sp.OneMatrix) and len(mats) > 1:
            rest = self._chain(mats[:-1])
            if last.shape[0] == 1:  # b 1ᵀ: broadcasting does it
                return rest
            return f"{_paren(rest)}.sum(axis=1, keepdims=True)"  # G 1: the sum over the batch
        if isinstance(first, sp.OneMatrix) and len(mats) > 1:
            rest = self._chain(mats[1:])
            if first.shape[1] == 1:
                return rest
            return f"{_paren(rest)}.sum(axis=0, keepdims=True)"  # 1 G: column sums (broadcast)
        return " @ ".join(_paren(self._print(m)) for m in mats)

    def _print_Transpose(self, e: Transpose) -> str:
        return f"{_paren(self._print(e.arg))}.T"

    def _print_Trace(self, e: Trace) -> str:
        arg = e.arg
        if isinstance(arg, MatAdd):
            return "(" + " + ".join(self._print(Trace(a)) for a in arg.args) + ")"
        coeffs, mats = [], [arg]
        if isinstance(arg, MatMul):
            coeffs = [a for a in arg.args if not is_matrix(a)]
            mats = [a for a in arg.args if is_matrix(a)]
        if len(mats) >= 2:
            # tr(P Q) = Σ_jk (Pᵀ)_jk Q_jk: no product matrix, one pass
            PT = Transpose(mats[0]).doit()
            Q = mats[1] if len(mats) == 2 else MatMul(*mats[1:])
            if PT == Q:
                t = self._print(Q)
                t = t if _SIMPLE.match(t) else self.ctx.temp(t)
                code = f"{self.np}.vdot({t}, {t})"
            elif is_full(PT) and is_full(Q):
                code = f"{self.np}.vdot({self._print(PT)}, {self._print(Q)})"
            else:
                code = f"{self.np}.sum({_paren(self._print(PT))}*{_paren(self._print(Q))})"
        else:
            code = f"{self.np}.trace({self._print(mats[0])})"
        if coeffs:
            return f"{self._print(sp.Mul(*coeffs))}*{code}"
        return code

    # ----------------------------------------------------- SymPy's own heads
    def _print_Heaviside(self, e: sp.Function) -> str:
        h0 = e.args[1] if len(e.args) > 1 else sp.S.Half
        return f"{self.np}.heaviside({self._print(e.args[0])}, {self._print(h0)})"

    def _minmax(self, e: sp.Basic, fn: str) -> str:
        args = [self._print(a) for a in e.args]
        code = args[0]
        for a in args[1:]:
            code = f"{self.np}.{fn}({code}, {a})"
        return code

    def _print_Max(self, e: sp.Basic) -> str:
        return self._minmax(e, "maximum")

    def _print_Min(self, e: sp.Basic) -> str:
        return self._minmax(e, "minimum")

    def _print_sign(self, e: sp.Basic) -> str:
        return f"{self.np}.sign({self._print(e.args[0])})"

    def _print_Abs(self, e: sp.Basic) -> str:
        return f"{self.np}.abs({self._print(e.args[0])})"


class GraphNumPyPrinter(GraphPrinting, NumPyPrinter):
    """SymPy's NumPy printer, taught the heads of symgrad's graphs (`GraphPrinting`)."""

    np = "np"

    def __init__(self, ctx: Lowering, dtype: str = "float64") -> None:
        super().__init__({"order": "none", "fully_qualified_modules": True, "allow_unknown_functions": False})
        self.ctx = ctx
        self.dtype = dtype


#: The functions fast_scalar prints itself (as the heads' own NumPy printing would).
_FAST_FUNCS = {sp.exp: "{np}.exp", sp.log: "{np}.log", sp.tanh: "{np}.tanh", sigmoid: "_sigmoid",
               sigmoid_prime: "_sigmoid_prime"}


def fast_scalar(e: sp.Basic, ident: dict, np: str = "np") -> str | None:
    """Code for a plain scalar expression without SymPy's printer (neuron-level graphs have ~10⁵ of them).

    Handles sums, products, integer powers, numbers, symbols and a few
    functions; returns `None` for anything else (the full printer does it).
    """
    if e.is_Symbol:
        return ident.get(e)
    if e.is_Integer or e.is_Float:
        return repr(int(e)) if e.is_Integer else repr(float(e))
    if e.is_Rational:
        return f"({e.p}/{e.q})"
    if e.is_Add:
        pos, neg = [], []
        for t in e.args:
            if t.is_Mul and t.args[0].is_Number and t.args[0].is_negative:
                c = fast_scalar(-t, ident, np)
                if c is None:
                    return None
                neg.append(c if not (-t).is_Add else f"({c})")
            elif t.is_Number and t.is_negative:
                neg.append(fast_scalar(-t, ident, np))
            else:
                c = fast_scalar(t, ident, np)
                if c is None:
                    return None
                pos.append(c)
        if not pos:
            return "-(" + " + ".join(neg) + ")"
        return " + ".join(pos) + "".join(" - " + c for c in neg)
    if e.is_Mul:
        parts, sign = [], ""
        args = e.args
        if args[0] is sp.S.NegativeOne:
            sign, args = "-", args[1:]
        for f in args:
            c = fast_scalar(f, ident, np)
            if c is None:
                return None
            parts.append(f"({c})" if f.is_Add or (f.is_Number and f.is_negative) else c)
        return sign + "*".join(parts)
    if e.is_Pow:
        b, x = e.args
        if x.is_Integer:
            c = fast_scalar(b, ident, np)
            if c is None:
                return None
            c = c if b.is_Symbol else f"({c})"
            return f"{c}**{int(x)}" if x > 0 else f"1/{c}" if x == -1 else f"{c}**({int(x)})"
        return None
    head = _FAST_FUNCS.get(type(e))
    if head is not None and len(e.args) == 1:
        c = fast_scalar(e.args[0], ident, np)
        return None if c is None else f"{head.format(np=np)}({c})"
    return None
