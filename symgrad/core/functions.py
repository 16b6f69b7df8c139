"""The activation functions and their derivatives, as SymPy heads.

Each is a `sympy.Function` that prints in the book's notation (σ, σ′, ReLU)
and evaluates numerically. The derivative of a head is itself a named head
(`sigmoid_prime` prints as σ′), so a factored derivative reads as in the
book: `δ^L = ∇_a C ⊙ σ′(z^L)`. `rewrite(sp.exp)` gives the closed form.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.evalf import prec_to_dps
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import UsageError


class _Numeric(sp.Function):
    """A head whose closed form is written once, in `_formula`.

    Its numeric value, `rewrite(sp.exp)` and `rewrite` to the heads the closed form uses
    (`_formula_heads`), and `closed_form`, all come from `_formula`. Each head
    prints itself in LaTeX (`_latex`) and, beside it, in NumPy and JAX (`_numpycode` and
    `_jaxcode`, the methods SymPy's `NumPyPrinter` and `JaxPrinter` ask for; the array
    module is the printer's `_module`, `numpy` or `jax.numpy`).
    """

    #: rewrite(head) for these heads also gives the closed form (e.g. relu.rewrite(sp.Max))
    _formula_heads: tuple[type, ...] = ()

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._formula(self.args[0])._eval_evalf(prec)

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_Float:
            return cls._formula(x).evalf(prec_to_dps(x._prec))
        return None

    def _eval_rewrite(self, rule: object, args: tuple, **hints: object) -> sp.Expr | None:
        name = rule if isinstance(rule, str) else getattr(rule, "__name__", None)  # rewrite("exp") works too
        if name == "exp" or name in {h.__name__ for h in self._formula_heads}:
            return self._formula(*args)
        return None


class sigmoid(_Numeric):
    r"""The logistic function `σ(z) = 1 / (1 + e^{−z})`; `σ′ = σ(1 − σ)`."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid_prime(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"_sigmoid({printer._print(self.args[0])})"  # the stable helper each generated module defines

    _jaxcode = _numpycode


class sigmoid_prime(_Numeric):
    r"""σ′(z) = σ(z)(1 − σ(z)), the derivative of `sigmoid`."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return sigmoid_prime(x) * (1 - 2 * sigmoid(x))

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.exp(-x) / (1 + sp.exp(-x)) ** 2

    def _eval_rewrite_as_sigmoid(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sigmoid(x) * (1 - sigmoid(x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma'\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"_sigmoid_prime({printer._print(self.args[0])})"

    _jaxcode = _numpycode


class relu(_Numeric):
    r"""ReLU(z) = max{0, z}. Its derivative is the step H(z) with H(0) = 0:
    the subgradient 0 is taken at the kink, as PyTorch and NumPy code do."""

    _formula_heads = (sp.Max,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return step(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.Max(0, x)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathrm{{ReLU}}\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"{printer._module_format(printer._module + '.maximum')}({printer._print(self.args[0])}, 0)"

    _jaxcode = _numpycode


class step(_Numeric):
    r"""The step H(z): 1 for z > 0, 0 for z ≤ 0 (ReLU′, subgradient 0 at z = 0)."""

    _formula_heads = (sp.Heaviside,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.Heaviside(x, 0)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathrm{{ReLU}}'\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"{printer._module_format(printer._module + '.heaviside')}({printer._print(self.args[0])}, 0)"

    _jaxcode = _numpycode


class tanh_prime(_Numeric):
    r"""tanh′(z) = 1 − tanh²(z)."""

    _formula_heads = (sp.tanh,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return -2 * sp.tanh(x) * tanh_prime(x)

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return 1 - sp.tanh(x) ** 2

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return self._formula(x).rewrite(sp.exp)  # the closed form is in tanh, which must become exp too

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\tanh'\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"(1 - {printer._module_format(printer._module + '.tanh')}({printer._print(self.args[0])})**2)"

    _jaxcode = _numpycode


class identity(_Numeric):
    """The identity activation f(z) = z (a linear output layer)."""

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr:
        return x

    def fdiff(self, argindex: int = 1) -> sp.Expr:  # pragma: no cover - eval always returns x
        return sp.S.One

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:  # pragma: no cover - eval always returns x
        return x


class softplus(_Numeric):
    r"""`softplus(z) = ln(1 + e^z)`; softplus′ = σ. Used for stable cross-entropy."""

    _formula_heads = (sp.log,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathrm{{softplus}}\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        # ln(1 + e^z) without overflow
        return f"{printer._module_format(printer._module + '.logaddexp')}(0, {printer._print(self.args[0])})"

    _jaxcode = _numpycode


class silu(_Numeric):
    r"""SiLU(z) = z σ(z) (the swish); SiLU′(z) = σ(z)(1 + z(1 − σ(z)))."""

    _formula_heads = (sigmoid,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return silu_prime(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return x / (1 + sp.exp(-x))

    def _eval_rewrite_as_sigmoid(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return x * sigmoid(x)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{SiLU}}\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        x = printer._print(self.args[0])
        return f"({x})*_sigmoid({x})"

    _jaxcode = _numpycode


class silu_prime(_Numeric):
    r"""SiLU′(z) = σ(z)(1 + z(1 − σ(z))), the derivative of `silu`."""

    _formula_heads = (sigmoid,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return sigmoid_prime(x) * (2 + x * (1 - 2 * sigmoid(x)))

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        s = 1 / (1 + sp.exp(-x))
        return s * (1 + x * (1 - s))

    def _eval_rewrite_as_sigmoid(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sigmoid(x) * (1 + x * (1 - sigmoid(x)))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{SiLU}}'\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        x = printer._print(self.args[0])
        return f"(_sigmoid({x})*(1 + ({x})*(1 - _sigmoid({x}))))"

    _jaxcode = _numpycode


#: GELU's tanh approximation: √(2/π) and the cubic coefficient 0.044715, exact.
GELU_C = sp.Rational(44715, 10**6)


def _gelu_inner(x: sp.Expr) -> sp.Expr:
    return sp.sqrt(2 / sp.pi) * (x + GELU_C * x**3)


class gelu(_Numeric):
    r"""GELU(z) ≈ ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))), the tanh approximation (Hendrycks & Gimpel)."""

    _formula_heads = (sp.tanh,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return gelu_prime(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return x * (1 + sp.tanh(_gelu_inner(x))) / 2

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return self._formula(x).rewrite(sp.exp)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{GELU}}\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        x, tanh = printer._print(self.args[0]), printer._module_format(printer._module + ".tanh")
        return f"(0.5*({x})*(1 + {tanh}(0.7978845608028654*(({x}) + 0.044715*({x})**3))))"

    _jaxcode = _numpycode


class gelu_prime(_Numeric):
    r"""GELU′(z) for the tanh approximation: with u = √(2/π)(z + 0.044715 z³) and t = tanh u,
    GELU′(z) = ½(1 + t) + ½ z (1 − t²) √(2/π)(1 + 3·0.044715 z²)."""

    _formula_heads = (sp.tanh,)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = sp.Dummy("x")
        return sp.diff(self._formula(x), x).xreplace({x: self.args[0]})

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        t = sp.tanh(_gelu_inner(x))
        return (1 + t) / 2 + x * (1 - t**2) * sp.sqrt(2 / sp.pi) * (1 + 3 * GELU_C * x**2) / 2

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return self._formula(x).rewrite(sp.exp)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{GELU}}'\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        x, tanh = printer._print(self.args[0]), printer._module_format(printer._module + ".tanh")
        t = f"{tanh}(0.7978845608028654*(({x}) + 0.044715*({x})**3))"
        return (f"(0.5*(1 + {t}) + 0.5*({x})*(1 - {t}**2)*0.7978845608028654*(1 + 0.134145*({x})**2))")

    _jaxcode = _numpycode


#: name -> (f, f′) for the activations a network may use.
ACTIVATIONS: dict[str, tuple[type[sp.Function], type[sp.Function] | None]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (sp.tanh, tanh_prime),
    "relu": (relu, step),
    "identity": (identity, None),
}


def activation(name: str) -> type[sp.Function]:
    """The SymPy head for an activation name (`sigmoid`, `tanh`, `relu`, `identity`)."""
    try:
        return ACTIVATIONS[name][0]
    except (KeyError, TypeError):
        raise UsageError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}", arg="activation"
        ) from None


#: The heads `closed_form` rewrites into their `_formula`.
CLOSED_FORM_HEADS = (sigmoid, sigmoid_prime, tanh_prime, relu, step, softplus, silu, silu_prime, gelu, gelu_prime)


def closed_form(expr: sp.Basic) -> sp.Basic:
    """Rewrite σ, σ′, tanh′, ReLU, H, softplus, SiLU, GELU (and their derivatives) into exp/tanh/Max/Heaviside (for proofs)."""
    for head in CLOSED_FORM_HEADS:
        expr = expr.replace(head, head._formula)
    return expr


# ---------------------------------------------------------------- matrix heads
class ColumnwiseMatrixFunction(MatrixExpr):
    """A function applied to each column of a matrix (one example per column)."""

    def __new__(cls, arg: MatrixExpr) -> MatrixExpr:
        arg = sp.sympify(arg)
        return super().__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple:
        return self.arg.shape

    def _entry(self, i: int, j: int, **kw: object) -> sp.Expr:
        col = [self.arg[k, j] for k in range(self.arg.shape[0])]
        return self._scalar(col, i)

    def _eval_derivative(self, x: sp.Basic) -> sp.Basic:  # pragma: no cover - we use rules.py
        raise NotImplementedError("differentiate with symgrad.backprop")


class softmax(ColumnwiseMatrixFunction):
    r"""`softmax(z)_j = e^{z_j} / Σ_k e^{z_k}`, per column (Nielsen ch. 3)."""

    @staticmethod
    def _scalar(col: list, i: int) -> sp.Expr:
        return sp.exp(col[i]) / sp.Add(*[sp.exp(c) for c in col])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathrm{{softmax}}\left({printer._print(self.arg)}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"_softmax({printer._print(self.arg)})"

    _jaxcode = _numpycode


class log_softmax(ColumnwiseMatrixFunction):
    r"""`log softmax(z)_j = z_j − ln Σ_k e^{z_k}`, per column (computed stably)."""

    @staticmethod
    def _scalar(col: list, i: int) -> sp.Expr:
        return col[i] - sp.log(sp.Add(*[sp.exp(c) for c in col]))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\ln\mathrm{{softmax}}\left({printer._print(self.arg)}\right)"

    def _numpycode(self, printer: sp.printing.printer.Printer, **kw: object) -> str:
        return f"_log_softmax({printer._print(self.arg)})"

    _jaxcode = _numpycode
