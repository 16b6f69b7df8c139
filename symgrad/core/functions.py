"""The activation functions and their derivatives, as SymPy heads.

Each is a ``sympy.Function`` that prints in the book's notation (σ, σ′, ReLU)
and evaluates numerically. The derivative of a head is itself a named head
(``sigmoid_prime`` prints as σ′), so a factored derivative reads as in the
book: δ^L = ∇_a C ⊙ σ′(z^L). ``rewrite(sp.exp)`` gives the closed form.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.evalf import prec_to_dps
from sympy.matrices.expressions.matexpr import MatrixExpr


class _Numeric(sp.Function):
    """A function whose numeric value comes from its closed form."""

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


class sigmoid(_Numeric):
    r"""The logistic function σ(z) = 1 / (1 + e^{−z}); σ′ = σ(1 − σ)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid_prime(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


class sigmoid_prime(_Numeric):
    r"""σ′(z) = σ(z)(1 − σ(z)), the derivative of :class:`sigmoid`."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return sigmoid_prime(x) * (1 - 2 * sigmoid(x))

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.exp(-x) / (1 + sp.exp(-x)) ** 2

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.exp(-x) / (1 + sp.exp(-x)) ** 2

    def _eval_rewrite_as_sigmoid(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sigmoid(x) * (1 - sigmoid(x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma'\left({printer._print(self.args[0])}\right)"


class relu(_Numeric):
    r"""ReLU(z) = max{0, z}. Its derivative is the step H(z) with H(0) = 0:
    the subgradient 0 is taken at the kink, as PyTorch and NumPy code do."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return step(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.Max(0, x)

    def _eval_rewrite_as_Max(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.Max(0, x)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.Max(0, x)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{ReLU}}\left({printer._print(self.args[0])}\right)"


class step(_Numeric):
    r"""The step H(z): 1 for z > 0, 0 for z ≤ 0 (ReLU′, subgradient 0 at z = 0)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.Heaviside(x, 0)

    def _eval_rewrite_as_Heaviside(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.Heaviside(x, 0)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.Heaviside(x, 0)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{ReLU}}'\left({printer._print(self.args[0])}\right)"


class tanh_prime(_Numeric):
    r"""tanh′(z) = 1 − tanh²(z)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return -2 * sp.tanh(x) * tanh_prime(x)

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return 1 - sp.tanh(x) ** 2

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return (1 - sp.tanh(x) ** 2).rewrite(sp.exp)

    def _eval_rewrite_as_tanh(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return 1 - sp.tanh(x) ** 2

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\tanh'\left({printer._print(self.args[0])}\right)"


class identity(_Numeric):
    """The identity activation f(z) = z (a linear output layer)."""

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr:
        return x

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:  # pragma: no cover - eval always returns x
        return x


class softplus(_Numeric):
    r"""softplus(z) = ln(1 + e^z); softplus′ = σ. Used for stable cross-entropy."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    @staticmethod
    def _formula(x: sp.Expr) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    def _eval_rewrite_as_log(self, x: sp.Expr, **kw: object) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"


#: name -> (f, f′) for the activations a network may use.
ACTIVATIONS: dict[str, tuple[type[sp.Function], type[sp.Function] | None]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (sp.tanh, tanh_prime),
    "relu": (relu, step),
    "identity": (identity, None),
}


def activation(name: str) -> type[sp.Function]:
    """The SymPy head for an activation name (``sigmoid``, ``tanh``, ``relu``, ``identity``)."""
    try:
        return ACTIVATIONS[name][0]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None


def closed_form(expr: sp.Basic) -> sp.Basic:
    """Rewrite σ, σ′, tanh′, ReLU, H, softplus into exp/Max/Heaviside (for proofs)."""
    reps = {
        sigmoid: lambda x: 1 / (1 + sp.exp(-x)),
        sigmoid_prime: lambda x: sp.exp(-x) / (1 + sp.exp(-x)) ** 2,
        tanh_prime: lambda x: 1 - sp.tanh(x) ** 2,
        relu: lambda x: sp.Max(0, x),
        step: lambda x: sp.Heaviside(x, 0),
        softplus: lambda x: sp.log(1 + sp.exp(x)),
    }
    for head, f in reps.items():
        expr = expr.replace(head, f)
    return expr


# ---------------------------------------------------------------- matrix heads
class _ColumnwiseMatrixFunction(MatrixExpr):
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


class softmax(_ColumnwiseMatrixFunction):
    r"""softmax(z)_j = e^{z_j} / Σ_k e^{z_k}, per column (Nielsen ch. 3)."""

    @staticmethod
    def _scalar(col: list, i: int) -> sp.Expr:
        return sp.exp(col[i]) / sp.Add(*[sp.exp(c) for c in col])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\operatorname{{softmax}}\left({printer._print(self.arg)}\right)"


class log_softmax(_ColumnwiseMatrixFunction):
    r"""log softmax(z)_j = z_j − ln Σ_k e^{z_k}, per column (computed stably)."""

    @staticmethod
    def _scalar(col: list, i: int) -> sp.Expr:
        return col[i] - sp.log(sp.Add(*[sp.exp(c) for c in col]))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\ln\operatorname{{softmax}}\left({printer._print(self.arg)}\right)"
