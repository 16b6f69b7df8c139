r"""Compile a derivative graph to one NumPy function: one statement per node.

:func:`compile` walks the graph in topological order and writes, for every
node the requested outputs need (forward nodes, then derivative nodes; the rest
is dead code and left out), one statement ``name = <expression>``. A shared
node is computed once and its variable reused. The printer is SymPy's
``NumPyPrinter`` extended with one ``_print_<Head>`` method per head the graphs
use:

* ``W x`` (MatMul) → ``W @ x``; ``A ⊙ B`` (HadamardProduct) → ``A*B``; ``Aᵀ`` → ``A.T``;
* the bias broadcast ``b 1ᵀ`` inside a sum → ``+ b`` (NumPy broadcasting);
* the batch sum ``δ 1`` (``G · OneMatrix(m, 1)``) → ``δ.sum(axis=1, keepdims=True)``;
* ``tr(Aᵀ B)`` → ``np.vdot(A, B)``;
* an elementwise function σ(z) → the elementwise NumPy expression.

What an expert does by hand is done here on the graph:

* σ′(z^l) becomes ``a*(1 - a)`` when the node a^l = σ(z^l) exists (tanh′ → ``1 - a**2``);
* σ is evaluated stably (``½(1 + tanh(z/2))``), ln σ(z) as −softplus(−z) and
  ln(1 − σ(z)) as −softplus(z) with ``np.logaddexp``; softmax and log-softmax
  subtract each column's maximum;
* an elementwise derivative node is simplified together with the elementwise
  derivative nodes it uses (the scalar form is simplified by SymPy, then
  printed elementwise): for σ with the cross-entropy cost
  δ^L = (−y/a + (1−y)/(1−a)) ⊙ a(1−a) becomes ``a - y``, so the cost and δ^L stay
  finite for |z| up to 10³.

The result, a :class:`CompiledModel`, has the readable ``.source``; calling it
gives the cost and the gradients for a mini-batch (columns are examples);
``.fn`` is the raw positional function (the training fast path), and
``.export(path)`` writes a standalone module that needs only NumPy.
"""

from __future__ import annotations

import builtins
import keyword
import linecache
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, Trace, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from ..core.functions import (
    log_softmax,
    sigmoid,
    sigmoid_prime,
    softmax,
    softplus,
    tanh_prime,
)
from ..core.graph import Graph, Node
from ..errors import UsageError

__all__ = ["CompiledModel", "CompileError", "compile", "HELPERS"]

DTYPES = ("float64", "float32")


class CompileError(UsageError):
    """The graph cannot be compiled (the message names the node at fault)."""


#: Helper functions every generated module starts with (NumPy only).
HELPERS = '''\
def _sigmoid(z):
    # sigma(z) = (1 + tanh(z/2))/2: no overflow for any z, about the cost of 1/(1 + exp(-z)).
    t = np.tanh(0.5 * z)
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


def _identifier(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit():
        base = "v_" + base
    if keyword.iskeyword(base) or hasattr(builtins, base) or base in ("np", "_dtype") or base.startswith("_"):
        base = "v_" + base
    ident, k = base, 1
    while ident in taken:
        k += 1
        ident = f"{base}_{k}"
    taken.add(ident)
    return ident


def _is_matrix(e: Any) -> bool:
    return isinstance(e, MatrixExpr)


def _is_elementwise(e: sp.Basic) -> bool:
    return isinstance(e, (MatAdd, HadamardProduct, HadamardPower, ElementwiseApplyFunction)) or (
        isinstance(e, MatMul) and sum(_is_matrix(a) for a in e.args) == 1
    )


class _Context:
    """What the printer knows about the graph: node variables, stand-ins, rewrites."""

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
            self.ident[node.symbol] = _identifier(name, taken)
            self.node_of[node.symbol] = name
        self.taken = taken

    # ------------------------------------------------------------ scalar map
    def to_scalar(self, e: sp.Basic) -> sp.Basic:
        """The scalar expression of an elementwise matrix expression (stand-ins for the rest)."""
        if not _is_matrix(e):
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
            coeffs = [a for a in e.args if not _is_matrix(a)]
            mats = [a for a in e.args if _is_matrix(a)]
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
        return self.to_scalar(sym) if _is_matrix(sym) else sym

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
        head = type(s)
        rules = {s: a}
        if head is sigmoid:
            rules[sigmoid_prime(z)] = a * (1 - a)
            rules[sp.log(a)] = -softplus(-z)
            rules[sp.log(1 - a)] = -softplus(z)
        elif head is sp.tanh:
            rules[tanh_prime(z)] = 1 - a**2
        elif head is sp.exp:
            rules[sp.log(a)] = z
        for k, v in rules.items():
            self.rules.setdefault(k, v)
        self.rule_sources.add(node.name)

    def rewrite(self, node: Node) -> sp.Basic:
        """The node's expression for printing: scalar form when elementwise, rules applied."""
        e = node.expr
        if node.is_matrix and _is_elementwise(e):
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
        self.ntemp += 1
        t = f"_t{self.ntemp}"
        self.pre.append(f"{t} = {code}")
        return t


_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\.T)?$")


def _paren(code: str) -> str:
    return code if _SIMPLE.match(code) else f"({code})"


class GraphNumPyPrinter(NumPyPrinter):
    """SymPy's NumPy printer, taught the heads of symgrad's graphs (see the module docstring)."""

    printmethod = "_symgrad_numpy"

    def __init__(self, ctx: _Context, dtype: str = "float64") -> None:
        super().__init__({"order": "none", "fully_qualified_modules": True, "allow_unknown_functions": False})
        self.ctx = ctx
        self.dtype = dtype

    def _module_format(self, fqn: str, register: bool = True) -> str:
        out = super()._module_format(fqn, register)
        return "np." + out[len("numpy.") :] if out.startswith("numpy.") else out

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
        return f"np.ones({self._shape(e.shape)}, dtype=_dtype)"

    def _print_ZeroMatrix(self, e: sp.ZeroMatrix) -> str:
        return f"np.zeros({self._shape(e.shape)}, dtype=_dtype)"

    def _print_Identity(self, e: sp.Identity) -> str:
        return f"np.eye({self._print(e.shape[0])}, dtype=_dtype)"

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
        coeffs = [a for a in e.args if not _is_matrix(a)]
        mats = [a for a in e.args if _is_matrix(a)]
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
            coeffs = [a for a in arg.args if not _is_matrix(a)]
            mats = [a for a in arg.args if _is_matrix(a)]
        if len(mats) >= 2:
            # tr(P Q) = Σ_jk (Pᵀ)_jk Q_jk: no product matrix, one pass
            PT = Transpose(mats[0]).doit()
            Q = mats[1] if len(mats) == 2 else MatMul(*mats[1:])
            if PT == Q:
                t = self._print(Q)
                t = t if _SIMPLE.match(t) else self.ctx.temp(t)
                code = f"np.vdot({t}, {t})"
            elif _full(PT) and _full(Q):
                code = f"np.vdot({self._print(PT)}, {self._print(Q)})"
            else:
                code = f"np.sum({_paren(self._print(PT))}*{_paren(self._print(Q))})"
        else:
            code = f"np.trace({self._print(mats[0])})"
        if coeffs:
            return f"{self._print(sp.Mul(*coeffs))}*{code}"
        return code

    def _print_softmax(self, e: softmax) -> str:
        return f"_softmax({self._print(e.arg)})"

    def _print_log_softmax(self, e: log_softmax) -> str:
        return f"_log_softmax({self._print(e.arg)})"

    # ----------------------------------------------------- scalar functions
    def _print_sigmoid(self, e: sp.Function) -> str:
        return f"_sigmoid({self._print(e.args[0])})"

    def _print_sigmoid_prime(self, e: sp.Function) -> str:
        return f"_sigmoid_prime({self._print(e.args[0])})"

    def _print_tanh_prime(self, e: sp.Function) -> str:
        return f"(1 - np.tanh({self._print(e.args[0])})**2)"

    def _print_relu(self, e: sp.Function) -> str:
        return f"np.maximum({self._print(e.args[0])}, 0)"

    def _print_step(self, e: sp.Function) -> str:
        return f"np.heaviside({self._print(e.args[0])}, 0)"

    def _print_softplus(self, e: sp.Function) -> str:
        # softplus(z) = ln(1 + e^z) without overflow
        return f"np.logaddexp(0, {self._print(e.args[0])})"

    def _print_identity(self, e: sp.Function) -> str:
        return self._print(e.args[0])

    def _print_Heaviside(self, e: sp.Function) -> str:
        h0 = e.args[1] if len(e.args) > 1 else sp.S.Half
        return f"np.heaviside({self._print(e.args[0])}, {self._print(h0)})"

    def _minmax(self, e: sp.Basic, fn: str) -> str:
        args = [self._print(a) for a in e.args]
        code = args[0]
        for a in args[1:]:
            code = f"np.{fn}({code}, {a})"
        return code

    def _print_Max(self, e: sp.Basic) -> str:
        return self._minmax(e, "maximum")

    def _print_Min(self, e: sp.Basic) -> str:
        return self._minmax(e, "minimum")

    def _print_sign(self, e: sp.Basic) -> str:
        return f"np.sign({self._print(e.args[0])})"

    def _print_Abs(self, e: sp.Basic) -> str:
        return f"np.abs({self._print(e.args[0])})"


_FAST_FUNCS = {sp.exp: "np.exp", sp.log: "np.log", sp.tanh: "np.tanh", sigmoid: "_sigmoid",
               sigmoid_prime: "_sigmoid_prime"}


def _fast_scalar(e: sp.Basic, ident: dict) -> str | None:
    """Code for a plain scalar expression without SymPy's printer (neuron-level graphs have ~10⁵ of them).

    Handles sums, products, integer powers, numbers, symbols and a few
    functions; returns ``None`` for anything else (the full printer does it).
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
                c = _fast_scalar(-t, ident)
                if c is None:
                    return None
                neg.append(c if not (-t).is_Add else f"({c})")
            elif t.is_Number and t.is_negative:
                neg.append(_fast_scalar(-t, ident))
            else:
                c = _fast_scalar(t, ident)
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
            c = _fast_scalar(f, ident)
            if c is None:
                return None
            parts.append(f"({c})" if f.is_Add or (f.is_Number and f.is_negative) else c)
        return sign + "*".join(parts)
    if e.is_Pow:
        b, x = e.args
        if x.is_Integer:
            c = _fast_scalar(b, ident)
            if c is None:
                return None
            c = c if b.is_Symbol else f"({c})"
            return f"{c}**{int(x)}" if x > 0 else f"1/{c}" if x == -1 else f"{c}**({int(x)})"
        return None
    head = _FAST_FUNCS.get(type(e))
    if head is not None and len(e.args) == 1:
        c = _fast_scalar(e.args[0], ident)
        return None if c is None else f"{head}({c})"
    return None


def _full(e: sp.Basic) -> bool:
    """Whether the printed code of a matrix expression has the full shape (no broadcasting)."""
    if isinstance(e, (sp.OneMatrix, sp.ZeroMatrix)):
        return False
    if isinstance(e, MatMul):
        mats = [a for a in e.args if _is_matrix(a)]
        if len(mats) > 1 and isinstance(mats[-1], sp.OneMatrix):
            return mats[-1].shape[1] == 1 and (mats[-1].shape[0] != 1 or _full(MatMul(*mats[:-1])))
        if len(mats) > 1 and isinstance(mats[0], sp.OneMatrix):
            return mats[0].shape[0] == 1 and (mats[0].shape[1] != 1 or _full(MatMul(*mats[1:])))
        return True
    if isinstance(e, (MatAdd, HadamardProduct)):
        return any(_full(a) for a in e.args if _is_matrix(a))
    if isinstance(e, Transpose):
        return _full(e.arg)
    if isinstance(e, (ElementwiseApplyFunction,)):
        return _full(e.expr)
    if isinstance(e, HadamardPower):
        return _full(e.base)
    return True


def _scalar_full(ctx: _Context, s: sp.Basic) -> bool:
    for x in s.atoms(sp.Dummy):
        if x in ctx.opaque:
            if _full(ctx.opaque[x]):
                return True
        elif x in ctx.node_of:
            return True
    return False


def _count(e: sp.Basic) -> int:
    return int(sp.count_ops(e))


def _has_division(e: sp.Basic) -> bool:
    return any(p.exp.is_negative for p in e.atoms(sp.Pow))


# ------------------------------------------------------------------ the model
@dataclass
class CompiledModel:
    """A graph compiled to one NumPy function.

    ``fn(*args)`` is the generated function: positional arrays in the order of
    ``args`` (node names: parameters, then inputs, then targets), returning a
    tuple in the order of ``outputs``. ``model(params, x, y)`` is the friendly
    call: it returns ``(cost, {parameter: gradient})`` (when the outputs are a
    cost and gradients) or ``{output: value}``.
    """

    source: str
    fn: Any
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    dtype: str
    cost: str | None = None
    grads: dict[str, str] = field(default_factory=dict)  # parameter -> derivative node
    graph: Graph | None = field(default=None, repr=False)
    network: Any = field(default=None, repr=False)
    function_name: str = "compiled"

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters whose gradients are returned, in order."""
        return tuple(self.grads)

    def __repr__(self) -> str:
        return f"<CompiledModel {self.function_name}({', '.join(self.args)}) -> {', '.join(self.outputs)}>"

    # -------------------------------------------------------------- calls
    def evaluate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{output: value}`` given ``{leaf name: value}`` (checked, converted to the dtype)."""
        missing = [a for a in self.args if a not in values]
        if missing:
            raise UsageError(f"compiled model needs a value for {', '.join(map(repr, missing))}")
        arrays = [self._convert(a, values[a]) for a in self.args]
        out = self.fn(*arrays)
        return dict(zip(self.outputs, out))

    def _convert(self, name: str, value: Any) -> Any:
        arr = np.asarray(value, dtype=self.dtype)
        node = self.graph.node(name) if self.graph is not None else None
        if node is not None and node.is_matrix:
            if arr.ndim == 1 and node.shape[1] == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2:
                raise UsageError(f"node {name!r} needs a matrix of shape {node.shape}, got shape {arr.shape}")
            for d, actual in zip(node.shape, arr.shape):
                if sp.sympify(d).is_Integer and int(d) != actual:
                    raise UsageError(f"node {name!r} needs shape {node.shape}, got {arr.shape}")
        elif arr.ndim == 0:
            arr = arr[()]
        return arr

    def __call__(self, *args: Any, **kw: Any) -> Any:
        """``model(params, x, y)`` -> ``(cost, grads)``; ``model(values)`` or ``model(*arrays)`` also work.

        ``params`` maps parameter names to arrays (for a neuron-level network
        also the layer arrays ``W2, b2, ...``, with ``x``, ``y`` as (n, m)
        arrays: the result is then summed over the m examples).
        """
        if len(args) == 1 and isinstance(args[0], Mapping) and not kw:
            values = dict(args[0])
        elif args and isinstance(args[0], Mapping):
            values = dict(args[0])
            leaves = [a for a in self.args if a not in values]
            if self._neuron_level():
                return self._neuron_call(values, *args[1:], **kw)
            for name, v in zip(leaves, args[1:]):
                values[name] = v
            values.update(kw)
        elif len(args) == len(self.args):
            values = dict(zip(self.args, args))
        else:
            raise UsageError(
                f"call the compiled model as model(params, x, y) or with {len(self.args)} arrays "
                f"({', '.join(self.args)})"
            )
        out = self.evaluate(values)
        return self._shape_result(out)

    def _shape_result(self, out: dict[str, Any]) -> Any:
        if self.cost is not None and self.grads and set(self.outputs) == {self.cost, *self.grads.values()}:
            return out[self.cost], {p: out[d] for p, d in self.grads.items()}
        return out

    def _neuron_level(self) -> bool:
        return self.network is not None and self.network.level == "neuron"

    def _neuron_call(self, params: Mapping[str, Any], x: Any = None, y: Any = None) -> Any:
        net = self.network
        values: dict[str, Any] = {}
        for l in range(2, net.L + 1):
            W = np.asarray(params[f"W{l}"], dtype=self.dtype)
            b = np.asarray(params[f"b{l}"], dtype=self.dtype).reshape(-1, 1)
            for (j, k), name in net.names["w"][l].items():
                values[name] = W[j - 1, k - 1]
            for j, name in enumerate(net.names["b"][l]):
                values[name] = b[j, 0]
        if x is not None:
            X = np.asarray(x, dtype=self.dtype).reshape(net.sizes[0], -1)
            values.update({name: X[k] for k, name in enumerate(net.names["x"])})
        if y is not None:
            Y = np.asarray(y, dtype=self.dtype).reshape(net.sizes[-1], -1)
            values.update({name: Y[k] for k, name in enumerate(net.names["y"])})
        out = {k: np.sum(v) for k, v in self.evaluate(values).items()}  # sum over the batch
        if self.cost is None or not self.grads:
            return out
        grads: dict[str, np.ndarray] = {}
        for l in range(2, net.L + 1):
            W = np.zeros((net.sizes[l - 1], net.sizes[l - 2]), dtype=self.dtype)
            b = np.zeros((net.sizes[l - 1], 1), dtype=self.dtype)
            for (j, k), name in net.names["w"][l].items():
                W[j - 1, k - 1] = out[self.grads[name]]
            for j, name in enumerate(net.names["b"][l]):
                b[j, 0] = out[self.grads[name]]
            grads[f"W{l}"], grads[f"b{l}"] = W, b
        return out[self.cost], grads

    # ------------------------------------------------------------- export
    def export(self, path: Any) -> Any:
        """Write the generated code as a standalone module (NumPy only), atomically."""
        from ..store.model_file import atomic_write_text

        return atomic_write_text(path, self.source)


def _needed(graph: Graph, outputs: Iterable[str]) -> set[str]:
    """The outputs and all their ancestors (one walk, however many outputs)."""
    out: set[str] = set()
    stack = list(outputs)
    pred = graph.nx.pred
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack.extend(p for p in pred[n] if p not in out)
    return out


def compile(  # noqa: A001 - the name the issue asks for
    net_or_graph: Any,
    cost: str = "C",
    wrt: Sequence[str] | None = None,
    dtype: str = "float64",
    outputs: Sequence[str] | None = None,
    *,
    name: str = "compiled",
    update: str | None = None,
) -> CompiledModel:
    """Compile the graph's nodes needed for ``outputs`` into one NumPy function.

    ``outputs`` defaults to the cost and ∂cost/∂p for every parameter in
    ``wrt`` (default: all parameters with a derivative node; backprop is run
    first if it has not been). Leaves become positional arguments; the generated
    source is ``model.source``.

    ``update="sgd"`` makes the training step itself: the function takes one more
    argument ``eta`` (η/m) and, after computing every gradient, updates the
    parameters in place, w → w − (η/m) ∂C/∂w, returning nothing — Nielsen's
    update with no Python between the gradients and the update.
    """
    from ..core.backprop import backprop

    network = None
    if isinstance(net_or_graph, Graph):
        graph = net_or_graph
    elif hasattr(net_or_graph, "graph") and isinstance(net_or_graph.graph, Graph):
        network, graph = net_or_graph, net_or_graph.graph
    else:
        raise CompileError(f"compile() needs a Graph or a Network, got {type(net_or_graph).__name__}")
    if dtype not in DTYPES:
        raise CompileError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    grads: dict[str, str] = {}
    if outputs is None:
        cost_name = graph.node(cost).name
        params = list(wrt) if wrt is not None else [p.name for p in graph.parameters]
        table = graph.derivatives.get(cost_name, {})
        if any(p not in table for p in params):
            backprop(graph, cost_name, params)
            table = graph.derivatives[cost_name]
        grads = {p: table[p] for p in params}
        outputs = [cost_name, *grads.values()]
        cost_out: str | None = cost_name
    else:
        if any(isinstance(o, str) and o not in graph for o in outputs) and cost in graph:
            backprop(graph, cost)  # derivative nodes asked for before backprop was run
        outputs = [graph.node(o).name for o in outputs]
        cost_out = None
        if cost in graph and cost in graph.derivatives:
            table = graph.derivatives[cost]
            inv = {d: p for p, d in table.items()}
            grads = {inv[o]: o for o in outputs if o in inv}
            cost_out = cost if cost in outputs else None
    if update not in (None, "sgd"):
        raise CompileError(f"update must be None or 'sgd', got {update!r}")
    if update == "sgd" and not grads:
        raise CompileError("update='sgd' needs gradient outputs (∂C/∂p of the parameters)")
    source, args = _generate(graph, list(outputs), dtype, name, grads if update else None)
    namespace: dict[str, Any] = {}
    filename = f"<symgrad-compiled {name} {id(source):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(builtins.compile(source, filename, "exec"), namespace)  # our own generated source
    return CompiledModel(
        source=source,
        fn=namespace[name],
        args=tuple(args),
        outputs=tuple(outputs),
        dtype=dtype,
        cost=cost_out,
        grads=grads,
        graph=graph,
        network=network,
        function_name=name,
    )


def _generate(graph: Graph, outputs: list[str], dtype: str, fname: str,
              sgd: dict[str, str] | None = None) -> tuple[str, list[str]]:
    ctx = _Context(graph)
    order = graph.topological_order()
    needed0 = _needed(graph, outputs)
    for n in order:
        if n in needed0:
            node = graph.node(n)
            if node.expr is not None and node.role != "derivative":
                ctx.add_rules(node)
    rewritten: dict[str, sp.Basic] = {}
    for n in order:
        if n not in needed0:
            continue
        node = graph.node(n)
        if node.expr is None:
            continue
        try:
            rewritten[n] = ctx.rewrite(node)
        except Exception as e:  # noqa: BLE001 - name the node, whatever SymPy raised
            raise CompileError(f"node {n!r}: cannot compile {node.expr}: {e}") from None
    _fuse_derivatives(graph, ctx, rewritten, order)
    # dead-code elimination on the rewritten dependencies
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        if n in rewritten:
            e = rewritten[n]
            if e is graph.node(n).expr and not graph.node(n).is_matrix:
                stack.extend(graph.nx.predecessors(n))
            else:
                stack.extend(ctx.deps(e, set()) - needed)
    leaves = [n for n in order if n in needed and graph.node(n).expr is None]
    role_rank = {"parameter": 0, "input": 1, "target": 2}
    args = sorted(leaves, key=lambda n: role_rank.get(graph.node(n).role, 3))
    printer = GraphNumPyPrinter(ctx, dtype)
    # the batch size (and any other symbolic dimension) is read off the arguments
    dims: list[str] = []
    for a in args:
        node = graph.node(a)
        if node.is_matrix:
            for i, d in enumerate(node.shape):
                if isinstance(d, sp.Symbol) and d not in ctx.dims:
                    ctx.dims[d] = "_" + re.sub(r"\W", "_", str(d))
                    dims.append(f"    {ctx.dims[d]} = {ctx.ident[node.symbol]}.shape[{i}]")
    body: list[str] = []
    seen: dict[str, str] = {}
    for n in order:
        if n not in needed or n not in rewritten:
            continue
        node = graph.node(n)
        e = rewritten[n]
        ctx.pre = []
        code = None if node.is_matrix else _fast_scalar(e, ctx.ident)
        try:
            code = code if code is not None else printer.doprint(e)
        except CompileError as err:
            raise CompileError(f"node {n!r}: {err}") from None
        except Exception as err:  # noqa: BLE001
            raise CompileError(f"node {n!r}: cannot print {node.expr}: {err}") from None
        if node.is_matrix and _is_matrix(node.expr) and not _is_matrix(e) and not _scalar_full(ctx, e):
            code = f"np.broadcast_to({code}, {printer._shape(node.shape)}).copy()"
        elif node.is_matrix and _is_matrix(e) and not _full(e):
            code = f"np.broadcast_to({code}, {printer._shape(node.shape)}).copy()"
        for p in ctx.pre:  # hoisted temporaries: `_t1 = a3 - y`
            tname, tcode = p.split(" = ", 1)
            if tcode not in seen:
                seen[tcode] = tname
                body.append(f"    {p}")
            else:
                body.append(f"    {tname} = {seen[tcode]}")
        ident = ctx.ident[node.symbol]
        # the same expression twice (e.g. a3 - y in C and in ∂C/∂a3) is computed once
        body.append(f"    {ident} = {seen.get(code, code)}")
        seen.setdefault(code, ident)
    idents = [ctx.ident[graph.node(a).symbol] for a in args]
    rets = [ctx.ident[graph.node(o).symbol] for o in outputs]
    if sgd:
        missing = [p for p in sgd if p not in args]
        if missing:
            raise CompileError(f"update='sgd': parameter(s) {', '.join(missing)} are not arguments")
        idents.append("eta")
        args = [*args, "eta"]
        body.append("    # Nielsen's update, in place: w -> w - (eta/m) dC/dw (eta here is already eta/m)")
        for p, d in sgd.items():
            body.append(f"    {ctx.ident[graph.node(p).symbol]} -= eta*{ctx.ident[graph.node(d).symbol]}")
        rets = []

    what = (f"updates {', '.join(sgd)} in place" if sgd else f"-> ({', '.join(outputs)})")
    doc = f'    """{graph.name}: ({", ".join(args)}) {what}; generated by symgrad."""'
    lines = [
        '"""Generated by symgrad.compile from graph ' + repr(graph.name) + ' (needs only NumPy)."""',
        "",
        "import numpy as np",
        "",
        f"_dtype = np.{dtype}",
        f"ARGS = {tuple(args)!r}",
        f"OUTPUTS = {tuple(outputs)!r}",
        "",
        "",
        HELPERS,
        "",
        f"def {fname}({', '.join(idents)}):",
        doc,
        *[d for d in dims if re.search(r"\b" + d.split(" = ")[0].strip() + r"\b", "\n".join(body))],
        *body,
        (f"    return ({', '.join(rets)},)" if len(rets) == 1 else f"    return {', '.join(rets)}") if rets
        else "    return None",
        "",
    ]
    return "\n".join(lines), args


def _fuse_derivatives(graph: Graph, ctx: _Context, rewritten: dict[str, sp.Basic], order: list[str]) -> None:
    """Simplify an elementwise derivative node together with the elementwise derivative nodes it uses.

    Only tried when a used derivative node divides (−y/a + (1 − y)/(1 − a)):
    the simplified scalar form replaces the node's when it has fewer operations
    (for σ with the cross-entropy cost, δ^L = a − y).
    """
    scalar_form: dict[str, sp.Basic] = {}
    divides: dict[str, bool] = {}
    pred = graph.nx.pred
    for n in order:
        if n not in rewritten:
            continue
        node = graph.node(n)
        if node.role != "derivative":
            continue
        e = rewritten[n]
        if _is_matrix(e) or (node.is_matrix and not _is_elementwise(node.expr)):
            continue
        subs = {}
        for p in pred[n]:
            if p in scalar_form:
                if p not in divides:
                    divides[p] = _has_division(scalar_form[p])
                if divides[p]:
                    subs[ctx.scalar_symbol(graph.node(p).symbol)] = scalar_form[p]
        if subs:
            try:
                candidate = sp.cancel(e.xreplace(subs))
            except (sp.PolynomialError, TypeError, ValueError):
                candidate = None
            if candidate is not None and _count(candidate) < _count(e):
                rewritten[n] = e = candidate
        scalar_form[n] = e
