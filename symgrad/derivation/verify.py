r"""`symgrad verify`: prove BP1–BP4 for a network, exactly and numerically.

For a layer-level network with a concrete batch (m = 1 by default) backprop
adds the derivative nodes `δ^l = ∂C/∂z^l`, `∂C/∂b^l` and `∂C/∂W^l`. Each is an
instance of one of Nielsen's equations:

* BP1 `δ^L = ∇_a C ⊙ σ′(z^L)`
* BP2 `δ^l = ((W^{l+1})^T δ^{l+1}) ⊙ σ′(z^l)`
* BP3 `∂C/∂b^l = δ^l` (summed over the batch)
* BP4 `∂C/∂W^l = δ^l (a^{l−1})^T`

**Exact proof.** Every entry of the derivative node, expanded to the leaves
(`symgrad.derivation.explicit`), minus `sympy.diff` of the fully explicit scalar
cost with respect to the same scalar must be 0. For δ^l the cost is written as
a function of the entries `z^l_j` (expanded only down to `z^l`) and differentiated
with respect to them. The difference is decided fast: every application σ(u),
tanh(u), log(u), e^u, ... becomes a fresh symbol (σ′(u) → s(1 − s),
tanh′(u) → 1 − t²), which makes the difference a rational function in
independent symbols; if `cancel` makes it 0, it is 0 for all values. If not,
a 30-digit evaluation at a random point decides "≠ 0"; otherwise the closed
form (`rewrite(exp)`) goes through `simplify`.

**Numeric check.** At `points` seeded random points (leaves ~ N(0, 1), targets
~ U(0, 1); points where the cost is undefined, e.g. `ln(1 − a^L_j)` with a sigmoid
`a^L_j` that rounds to 1, are redrawn) each entry is compared with a central difference of the
cost, extrapolated to h → 0 by Ridders' method (from h = 10⁻², in float64). The
error is |g − ĝ| / max(|g|, |ĝ|, 10⁻⁶) (relative, absolute for entries below
10⁻⁶); it must be ≤ 10⁻⁶.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower

from ..core.backprop import backprop
from ..core.functions import ColumnwiseMatrixFunction, closed_form, sigmoid, sigmoid_prime, tanh_prime
from ..core.graph import Graph, Node, as_graph
from ..errors import UsageError
from ..networks import Network, describe, mlp
from ..numeric.compile import compile_graph
from ..printing.latex import equation
from ..printing.report import Paragraph, Report, Section, Table
from .derive import bp_label
from .explicit import ExplicitView
from .names import VERIFY_FORMATS

TOLERANCE = 1e-6
FORMATS = VERIFY_FORMATS
EQUATIONS = {
    "BP1": r"\delta^{L} = \nabla_{a} C \odot \sigma'\left(z^{L}\right)",
    "BP2": r"\delta^{l} = \left(\left(W^{l+1}\right)^{T} \delta^{l+1}\right) \odot \sigma'\left(z^{l}\right)",
    "BP3": r"\frac{\partial C}{\partial b^{l}} = \delta^{l} \mathbf{1}",
    "BP4": r"\frac{\partial C}{\partial W^{l}} = \delta^{l} \left(a^{l-1}\right)^{T}",
}

#: The same equations in plain text (terminals).
EQUATIONS_TEXT = {
    "BP1": "δ^L = ∇_a C ⊙ σ′(z^L)",
    "BP2": "δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ σ′(z^l)",
    "BP3": "∂C/∂b^l = δ^l 𝟏  (𝟏 a column of ones: δ^l summed over the batch)",
    "BP4": "∂C/∂W^l = δ^l (a^(l−1))ᵀ",
}

#: BP1 for a softmax output layer: a^L_j depends on every z^L_k, ∂a_j/∂z_k = a_j(1[j = k] − a_k), so
#: δ^L = (diag(a^L) − a^L (a^L)ᵀ) ∇_a C, column by column (no σ′ of its own).
SOFTMAX_BP1 = r"\delta^{L} = a^{L} \odot \nabla_{a} C - a^{L} \left(\left(a^{L}\right)^{T} \nabla_{a} C\right)"
SOFTMAX_BP1_TEXT = "δ^L = a^L ⊙ ∇_a C − a^L ((a^L)ᵀ ∇_a C)  (softmax output, for each example)"


# ------------------------------------------------------------------ numerics
def _np_sigmoid(v: Any) -> Any:
    v = np.asarray(v, dtype=float)
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


#: The helpers symgrad's heads name when they print themselves in NumPy (`sigmoid(z)` is
#: `_sigmoid(z)`), here in their most accurate form: a check wants digits, not speed.
NUMPY_FUNCTIONS: dict[str, Callable] = {
    "_sigmoid": _np_sigmoid,
    "_sigmoid_prime": lambda v: _np_sigmoid(v) * (1 - _np_sigmoid(v)),
}


def lambdify(args: Sequence[sp.Symbol], expr: Any) -> Callable:
    """`sympy.lambdify` to NumPy, knowing symgrad's heads (σ, σ′, tanh′, ReLU, H, softplus)."""
    return sp.lambdify(list(args), expr, modules=[NUMPY_FUNCTIONS, "numpy"])


# --------------------------------------------------------------- exact proof
class _Atomizer:
    """Replace every function application by a symbol (σ′, tanh′ by their σ, tanh polynomials)."""

    def __init__(self) -> None:
        self.atoms: dict[tuple, sp.Symbol] = {}
        self.memo: dict[sp.Basic, sp.Basic] = {}

    def _atom(self, head: Any, arg: tuple) -> sp.Symbol:
        key = (head, arg)
        if key not in self.atoms:
            self.atoms[key] = sp.Dummy(f"{getattr(head, '__name__', 'f')}{len(self.atoms)}")
        return self.atoms[key]

    def __call__(self, e: sp.Basic) -> sp.Basic:
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        if e.is_Atom:
            out = e
        else:
            args = tuple(self(a) for a in e.args)
            if e.func is sigmoid_prime:
                s = self._atom(sigmoid, args)
                out = s * (1 - s)
            elif e.func is tanh_prime:
                t = self._atom(sp.tanh, args)
                out = 1 - t**2
            elif isinstance(e, sp.Function) or e.func is sp.exp:
                out = self._atom(e.func, args)
            elif isinstance(e, sp.Pow) and not args[1].is_Number:
                out = self._atom(sp.Pow, args)
            else:
                out = e.func(*args)
        self.memo[e] = out
        return out


def _random_point(symbols: set, rng: np.random.Generator) -> dict:
    return {s: sp.Rational(int(rng.integers(-900, 900)), 1000) for s in symbols}


def decide_zero(diff: sp.Expr, atomizer: _Atomizer | None = None, rng: np.random.Generator | None = None) -> str:
    """`"0"` when `diff` is proved identically 0, `"≠ 0"` when a point shows it is not, else `"?"`."""
    atomizer = atomizer or _Atomizer()
    atomized = atomizer(diff)
    numer = sp.together(atomized).as_numer_denom()[0]
    if sp.expand(numer) == 0 or sp.cancel(atomized) == 0:
        return "0"
    rng = rng or np.random.default_rng(0)
    cf = closed_form(diff).rewrite(sp.exp)
    for _ in range(3):
        val = cf.xreplace(_random_point(cf.free_symbols, rng)).evalf(30)
        if val.is_number and val.is_finite and abs(val) > 1e-15:
            return "≠ 0"
    return "0" if sp.simplify(cf) == 0 else "?"


# ----------------------------------------------------------------- the report
def _within_tolerance(max_error: float) -> bool:
    """The numeric verdict every check shares: the worst relative error is finite and at most `TOLERANCE`."""
    return bool(np.isfinite(max_error)) and max_error <= TOLERANCE


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """`rows` (the head first) as text lines, each column padded to its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]


class _CheckReport:
    """What `Verification` and the expression report share: a check's row in text, Markdown and LaTeX,
    the verdict line, and the formats (`render`, `str`, notebook Markdown)."""

    _TEXT_HEAD = ("node", "entries", "exact", "max rel. err", "time", "")
    _MD_HEAD = ["node", "formula", "entries", "exact", "max rel. error", "time", ""]

    def _row(self, c: Any) -> tuple[str, str, str, str, str, str]:
        return (c.node, str(c.entries), c.symbolic, f"{c.max_error:.1e}", f"{c.seconds:.2f} s", "ok" if c.ok else "FAIL")

    def _text_head(self) -> list[str]:
        return [self.title, f"numeric check: {self.points} random points (seed {self.seed}), tolerance {TOLERANCE:g}", ""]

    def _text_table(self, checks: Sequence[Any]) -> list[str]:
        return _aligned([self._TEXT_HEAD] + [self._row(c) for c in checks])

    def _verdict_text(self) -> str:
        return f"{'ALL HOLD' if self.ok else 'FAILED'} ({self.seconds:.2f} s)"

    def _intro(self) -> Report:
        return Report(self.title, [Paragraph(
            f"Numeric check at {self.points} random points (seed {self.seed}), tolerance {TOLERANCE:g}.")], level=2)

    def _md_table(self, checks: Sequence[Any]) -> Table:
        rows = []
        for c in checks:
            node, n, sym, err, t, ok = self._row(c)
            rows.append([f"`{node}`", f"${c.formula}$", n, sym, err, t, ok])
        return Table(self._MD_HEAD, rows, "llrlrrl")

    def _verdict_md(self) -> Paragraph:
        return Paragraph(f"**{'All hold' if self.ok else 'FAILED'}** ({self.seconds:.2f} s)")

    def _latex_table(self, checks: Sequence[Any]) -> list[str]:
        lines = [r"\begin{tabular}{llrlrrl}", r"node & formula & entries & exact & max rel.\ error & time & \\ \hline"]
        for c in checks:
            _, n, sym, err, t, ok = self._row(c)
            sym = sym.replace("≠", r"$\neq$")
            lines.append(rf"\texttt{{{c.node}}} & ${c.formula}$ & {n} & {sym} & {err} & {t} & {ok} \\")
        return lines + [r"\end{tabular}"]

    def _verdict_latex(self) -> str:
        return rf"% {'all hold' if self.ok else 'FAILED'} ({self.seconds:.2f} s)"

    def to_markdown(self) -> str:
        return self.document().to_markdown().rstrip("\n")

    def render(self, fmt: str = "text") -> str:
        if fmt == "markdown":
            return self.to_markdown()
        if fmt == "latex":
            return self.to_latex()
        if fmt == "text":
            return self.to_text()
        raise UsageError(f"unknown format {fmt!r}; choose text, markdown or latex", arg="fmt")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


@dataclass
class Check:
    """One derivative node checked: its equation, entries, exact result, numeric error, time."""

    equation: str
    node: str
    formula: str
    entries: int
    symbolic: str
    max_error: float
    seconds: float

    @property
    def ok(self) -> bool:
        return self.symbolic == "0" and _within_tolerance(self.max_error)


@dataclass
class Verification(_CheckReport):
    """The result of `verify_bp`: one `Check` per derivative node; prints as a table."""

    sizes: tuple[int, ...]
    activation: str
    cost: str
    batch: int
    seed: int
    points: int
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    #: the output layer's activation (`None`: the same as `activation`)
    output: str | None = None
    #: how many derivative nodes there are to check (more than `len(checks)` when interrupted)
    total: int = 0
    #: set when Ctrl-C stopped the proofs: `checks` holds what was proven so far
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Every equation proved exactly and within tolerance numerically (an interrupted run is not ok)."""
        return bool(self.checks) and all(c.ok for c in self.checks) and not self.interrupted

    @property
    def title(self) -> str:
        return f"BP1–BP4 for the {describe(self.sizes, self.activation, self.cost, self.output)}, batch m = {self.batch}"

    def equation_latex(self, eq: str) -> str:
        """The book's equation `eq` (BP1–BP4) in LaTeX, BP1 as it reads for this network's output layer."""
        return SOFTMAX_BP1 if eq == "BP1" and self.output == "softmax" else EQUATIONS[eq]

    def equation_text(self, eq: str) -> str:
        """The same equation in plain text."""
        return SOFTMAX_BP1_TEXT if eq == "BP1" and self.output == "softmax" else EQUATIONS_TEXT[eq]

    def by_equation(self) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        for c in self.checks:
            out.setdefault(c.equation, []).append(c)
        return out

    def to_text(self) -> str:
        lines = self._text_head()
        for eq, checks in self.by_equation().items():
            lines.append(f"{eq}  {self.equation_text(eq)}")
            lines += self._text_table(checks)
            lines.append("")
        if self.interrupted:
            held = all(c.ok for c in self.checks)
            lines.append(f"INTERRUPTED after {len(self.checks)} of {self.total} checks"
                         f"{' (all of them hold)' if held and self.checks else ''} ({self.seconds:.2f} s)")
        else:
            lines.append(self._verdict_text())
        return "\n".join(lines)

    def document(self) -> Report:
        """The report as a document (one table per equation), for Markdown and HTML."""
        doc = self._intro()
        for eq, checks in self.by_equation().items():
            doc.sections.append(Section(f"{eq}: ${self.equation_latex(eq)}$", [self._md_table(checks)]))
        doc.sections.append(Section("", [self._verdict_md()]))
        return doc

    def to_latex(self) -> str:
        lines = [f"% {self.title}"]
        for eq, checks in self.by_equation().items():
            lines += [rf"\paragraph{{{eq}}} ${self.equation_latex(eq)}$", ""]
            lines += self._latex_table(checks) + [""]
        lines.append(self._verdict_latex())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The same rich display as an explain report: HTML tables with MathML (notebooks prefer it)."""
        return self.document().to_html(full=False)


# --------------------------------------------------------------- the checking
def central_difference(f: Callable[[np.ndarray], float], theta: np.ndarray, i: int, h: float = 1e-2) -> float:
    """∂f/∂θ_i by central differences, extrapolated to h → 0 (Ridders' method)."""
    con, ntab = 1.4, 10

    def d(step: float) -> float:
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        return (f(up) - f(down)) / (2 * step)

    a = np.full((ntab, ntab), np.nan)
    a[0, 0] = best = d(h)
    err = np.inf
    for k in range(1, ntab):
        h /= con
        a[0, k] = d(h)
        fac = con**2
        for j in range(1, k + 1):
            a[j, k] = (a[j - 1, k] * fac - a[j - 1, k - 1]) / (fac - 1)
            fac *= con**2
            errt = max(abs(a[j, k] - a[j - 1, k]), abs(a[j, k] - a[j - 1, k - 1]))
            if errt <= err:
                err, best = errt, a[j, k]
        if abs(a[k, k] - a[k - 1, k - 1]) >= 2 * err:
            break
    return float(best)


def _rel_error(g: float, ref: float) -> float:
    return abs(g - ref) / max(abs(g), abs(ref), TOLERANCE)


class NodeProgram:
    """The graph compiled node by node: each node's entries lambdified in its parents' entries."""

    def __init__(self, view: ExplicitView) -> None:
        self.view = view
        self.steps: list[tuple[str, list[sp.Symbol], list[sp.Symbol], Callable]] = []
        g = view.graph
        for node in g.nodes():
            if node.expr is None:
                continue
            rhs = view.local(node.name, "node")
            out = list(sp.Matrix(view.symbols(node.name))) if node.is_matrix else [node.symbol]
            rhs = list(sp.Matrix(rhs)) if isinstance(rhs, (sp.MatrixBase, sp.MatrixExpr)) else [rhs]
            args = sorted(set().union(*(sp.sympify(r).free_symbols for r in rhs)), key=str)
            self.steps.append((node.name, out, args, lambdify(args, rhs)))

    def run(self, values: dict[sp.Symbol, float], fixed: tuple[str, ...] = ()) -> dict[sp.Symbol, float]:
        """Values of every entry; nodes in `fixed` keep the values given for their entries."""
        vals = dict(values)
        with np.errstate(all="ignore"):
            for name, out, args, fn in self.steps:
                if name in fixed:
                    continue
                res = fn(*[vals[a] for a in args])
                for s, v in zip(out, res):
                    vals[s] = float(v)
        return vals


class _Checker:
    """Shared state for checking one network: the explicit view, its program, the points."""

    def __init__(self, net: Network, batch: int, seed: int, points: int) -> None:
        self.net = net
        self.view = ExplicitView(net, batch)
        self.rng = np.random.default_rng(seed)
        self.points = points
        g = net.graph
        self.cost_symbol = g.node(net.cost_node).symbol
        self.leaves = [n.name for n in g.nodes(("input", "parameter", "target"))]
        self.C = self.view.expanded(net.cost_node)
        self.program = NodeProgram(self.view)
        self._points = self._draw_points()

    def _draw_points(self) -> list[dict[sp.Symbol, float]]:
        g = self.net.graph
        out: list[dict[sp.Symbol, float]] = []
        for _ in range(self.points):
            for _attempt in range(1000):
                point: dict[sp.Symbol, float] = {}
                for n in self.leaves:
                    syms = list(sp.Matrix(self.view.symbols(n)))
                    if g.node(n).role == "target":
                        draws = self.rng.uniform(0.05, 0.95, len(syms))
                    else:
                        draws = self.rng.standard_normal(len(syms))
                    point.update(zip(syms, map(float, draws)))
                if np.isfinite(self.program.run(point)[self.cost_symbol]):
                    break
            else:
                raise UsageError("found no point where the cost is defined (in 1000 draws)")
            out.append(point)
        return out

    def check(self, deriv: str) -> Check:
        g = self.net.graph
        node = g.node(deriv)
        of = g.node(node.of)
        started = time.perf_counter()
        cut = [of.name] if of.role not in ("input", "parameter", "target") else []
        D = sp.Matrix(self.view.expanded(deriv, cut))
        wrt = sp.Matrix(self.view.symbols(of.name))
        C = self.view.expanded(self.net.cost_node, cut) if cut else self.C
        atomizer = _Atomizer()
        verdicts = [decide_zero(d - sp.diff(C, s), atomizer, self.rng) for d, s in zip(D, wrt)]
        symbolic = "0" if all(v == "0" for v in verdicts) else ("≠ 0" if "≠ 0" in verdicts else "?")
        max_err = self._numeric(deriv, of.name, tuple(cut))
        return Check(
            equation=bp_label(self.net, deriv),
            node=deriv,
            formula=equation(g, deriv, "factored"),
            entries=len(D),
            symbolic=symbolic,
            max_error=max_err,
            seconds=time.perf_counter() - started,
        )

    def _numeric(self, deriv: str, of: str, fixed: tuple[str, ...]) -> float:
        """Max error of the derivative node's entries against central differences of C."""
        grads = list(sp.Matrix(self.view.symbols(deriv)))
        wrt = list(sp.Matrix(self.view.symbols(of)))
        worst = 0.0
        for point in self._points:
            base = self.program.run(point)
            # for δ^l the cost is a function of z^l: hold z^l at its value and perturb it
            start = {s: base[s] for s in wrt} if fixed else {}
            start.update(point)
            names = list(start)
            theta = np.array([start[s] for s in names])

            def cost(v: np.ndarray, names: list = names) -> float:
                return self.program.run(dict(zip(names, v)), fixed)[self.cost_symbol]

            for s, gs in zip(wrt, grads):
                ref = central_difference(cost, theta, names.index(s))
                err = _rel_error(base[gs], ref)
                worst = max(worst, err) if np.isfinite(err) else float("inf")
        return worst


def verify_network(net: Network, *, batch: int = 1, seed: int = 0, points: int = 3,
                   progress: Callable[[Check, int, int], Any] | None = None) -> Verification:
    """Verify BP1–BP4 on a layer-level network (see the module docstring).

    `progress(check, i, n)` is called as each of the n checks completes (the i-th), so a long proof
    shows its results as they come. Ctrl-C (`KeyboardInterrupt`) during the proofs ends them: the
    report holds the checks completed so far and has `interrupted` set.
    """
    if net.level != "layer":
        raise UsageError("verify needs a layer-level network (mlp(..., level='layer'))")
    if points < 1:
        raise UsageError(f"points must be at least 1, got {points}", arg="points")
    started = time.perf_counter()
    if not net.graph.derivatives.get(net.cost_node):
        net.backprop()
    report = Verification(tuple(net.sizes), net.activation, net.cost, batch, seed, points, output=net.output)
    wanted = [n.name for n in net.graph.nodes("derivative") if bp_label(net, n.name)]
    report.total = len(wanted)
    try:
        checker = _Checker(net, batch, seed, points)
        for name in sorted(wanted, key=lambda n: (bp_label(net, n), -net.graph.node(n).meta.get("layer", 0))):
            report.checks.append(checker.check(name))
            if progress is not None:
                progress(report.checks[-1], len(report.checks), report.total)
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.perf_counter() - started
    return report


def verify_bp(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    cost: str = "quadratic",
    seed: int = 0,
    points: int = 3,
    *,
    batch: int = 1,
    weight_decay: Any = None,
    output: str | None = None,
    progress: Callable[[Check, int, int], Any] | None = None,
) -> Verification:
    """Prove BP1–BP4 exactly and check them numerically for the network `sizes`.

    Builds `mlp(sizes, activation, cost, level="layer", batch=batch, output=output)`
    (`output`: the output layer's activation, e.g. a sigmoid output for the
    cross-entropy after tanh hidden layers), runs backprop, and checks every
    δ^l, ∂C/∂b^l, ∂C/∂W^l (see the module docstring). `Verification.ok` is
    true when all hold.
    """
    net = mlp(sizes, activation, cost, level="layer", batch=batch, weight_decay=weight_decay, output=output)
    return verify_network(net, batch=batch, seed=seed, points=points, progress=progress)


# ------------------------------------------------------------ any graph
def explicit(expr: sp.Basic, entries: dict[sp.Basic, sp.ImmutableMatrix] | None = None) -> sp.Matrix:
    """Every entry of a matrix (or scalar) expression, in scalar symbols: built bottom-up.

    Each `MatrixSymbol` M becomes `entries[M]` (default: real symbols named `M[i,j]`); 1, I and 0
    become explicit matrices; every matrix subterm is then written out entry by entry. A
    scalar comes back as a 1×1 matrix.
    """
    entries = entries or {}
    memo: dict[sp.Basic, sp.Basic] = {}

    def go(e: sp.Basic) -> sp.Basic:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if isinstance(e, sp.MatrixSymbol):
            out = entries.get(e) or _entries_of(e)
        elif isinstance(e, (sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
            out = sp.ImmutableMatrix(e.as_explicit())
        elif e.is_Atom or isinstance(e, (sp.Lambda, sp.MatrixBase)):
            out = e
        else:
            args = [go(a) for a in e.args]
            fast = _explicit_op(e, args)
            if fast is not None:
                memo[e] = fast
                return fast
            rebuilt = e.func(*args)
            if isinstance(rebuilt, sp.MatrixExpr):
                out = sp.ImmutableMatrix(rebuilt.as_explicit())
            elif isinstance(rebuilt, sp.MatrixBase):
                out = sp.ImmutableMatrix(rebuilt)
            else:
                out = rebuilt.doit() if rebuilt.has(sp.Trace) else rebuilt
        memo[e] = out
        return out

    out = go(expr)
    return sp.Matrix(out) if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]])


def _explicit_op(e: sp.Basic, args: list) -> sp.ImmutableMatrix | None:
    """The common matrix heads on explicit arguments, by plain matrix arithmetic (SymPy's `as_explicit`
    of a product goes through symbolic sums, many times slower)."""
    if isinstance(e, sp.MatMul):
        scalar = sp.Mul(*[a for a in args if not isinstance(a, sp.MatrixBase)])
        mats = [a for a in args if isinstance(a, sp.MatrixBase)]
        out = mats[0]
        for m in mats[1:]:
            out = out * m
        return sp.ImmutableMatrix(out * scalar if scalar != 1 else out)
    if isinstance(e, sp.MatAdd):
        out = args[0]
        for m in args[1:]:
            out = out + m
        return sp.ImmutableMatrix(out)
    if isinstance(e, sp.Transpose):
        return sp.ImmutableMatrix(args[0].T)
    if isinstance(e, sp.HadamardProduct):
        out = args[0]
        for m in args[1:]:
            out = out.multiply_elementwise(m)
        return sp.ImmutableMatrix(out)
    if isinstance(e, HadamardPower) and isinstance(args[0], sp.MatrixBase):
        return sp.ImmutableMatrix(args[0].applyfunc(lambda v: v ** args[1]))
    if isinstance(e, ElementwiseApplyFunction):
        return sp.ImmutableMatrix(args[1].applyfunc(args[0]))
    return None


def expand_to(graph: Any, name: str, cut: Sequence[str] = ()) -> sp.Basic:
    """Node `name` in the leaves, and in the nodes `cut` (kept as symbols, as if they were leaves)."""
    closed: dict[sp.Basic, sp.Basic] = {}
    for n in graph.upstream([name], stop=cut):
        node = graph.node(n)
        if node.expr is None or n in cut:
            continue
        closed[node.symbol] = node.expr.xreplace(closed) if closed else node.expr
    target = graph.node(name)
    return closed.get(target.symbol, target.symbol)


def _entries_of(m: sp.MatrixSymbol) -> sp.ImmutableMatrix:
    """Real scalar symbols `M[i,j]` for the entries of M (plain symbols: lambdify and the proofs take them)."""
    r, c = m.shape
    return sp.ImmutableMatrix(int(r), int(c), lambda i, j: sp.Symbol(f"{m.name}[{i},{j}]", real=True))


__all__ = ["FORMATS", "Check", "GraphCheck", "GraphVerification", "NodeProgram", "Verification", "central_difference",
           "concrete_graph", "decide_zero", "expand_to", "explicit", "explicit_entries", "lambdify", "verify_bp",
           "verify_graph", "verify_network"]


# ------------------------------------------------------------- any graph
#: An exact proof is tried when the graph's leaves have at most this many entries in all (`exact="auto"`).
EXACT_ENTRIES = 40
#: Leaves that keep their stored value in every check (constants, not variables: masks, pooling matrices).
CONSTANT_KINDS = ("mask", "pool")


def concrete_graph(graph: Graph, dims: dict, cut: Sequence[str] = ()) -> Graph:
    """A copy of `graph` with every symbolic dimension replaced (`dims`: symbol → whole number), and each
    node named in `cut` made an input (its expression dropped): the cost as a function of that node."""
    g = Graph(graph.name)
    symbols: dict[sp.Basic, sp.Basic] = {}
    for node in graph.nodes():
        sym = node.symbol.xreplace(dims)
        symbols[node.symbol] = sym
        keep = dict(tex=node.tex, kind=node.kind, value=node.value, of=node.of, cost=node.cost, meta=dict(node.meta))
        if node.expr is None or node.name in cut:
            role = node.role if node.expr is None else "input"
            g._insert(Node(node.name, sym, role, **keep))
        else:
            g._insert(Node(node.name, sym, node.role, expr=node.expr.xreplace({**symbols, **dims}), **keep))
    g.derivatives = {k: dict(v) for k, v in graph.derivatives.items()}
    return g


def explicit_entries(graph: Graph, names: Sequence[str]) -> dict[str, sp.ImmutableMatrix]:
    """Every needed node's entries in the leaves' entries (real symbols `x_0_1`, `W2_1_0`, …), node by node.

    The graph must have concrete shapes (`concrete_graph`). A scalar node is a 1 × 1 matrix here.
    """
    subs: dict[sp.Basic, sp.Basic] = {}
    out: dict[str, sp.ImmutableMatrix] = {}

    def explicit(e: sp.Basic) -> bool:
        return isinstance(e, ColumnwiseMatrixFunction) and isinstance(e.arg, sp.MatrixBase)

    for name in graph.upstream(names):
        node = graph.node(name)
        if node.expr is None:
            if node.is_matrix:
                v: Any = sp.ImmutableMatrix(*node.shape, lambda i, j, n=name: sp.Symbol(f"{n}_{i}_{j}", real=True))
            else:
                v = node.symbol
        else:
            e = node.expr.replace(lambda e: isinstance(e, sp.OneMatrix), lambda e: sp.ImmutableMatrix.ones(*e.shape))
            v = e.xreplace(subs).replace(explicit, lambda e: sp.ImmutableMatrix(e.as_explicit())).doit()
            if node.is_matrix:
                v = sp.ImmutableMatrix(v.as_explicit())
            else:
                v = sp.sympify(v)
                if isinstance(v, sp.MatrixBase):
                    v = v[0, 0]
        subs[node.symbol] = v
        out[name] = v if node.is_matrix else sp.ImmutableMatrix([[v]])
    return out


@dataclass
class _NodeCheck:
    """The fields `GraphCheck` and the expression check share (in this order): derivative node ∂C/∂u,
    u, formula, entries, exact verdict, worst relative error, seconds."""

    node: str
    of: str
    formula: str
    entries: int
    symbolic: str
    max_error: float
    seconds: float


@dataclass
class GraphCheck(_NodeCheck):
    """One derivative node ∂C/∂u of a graph checked: exactly (`"0"`, `"≠ 0"`, `"?"`, or `"skipped"`)
    and by central differences (the worst relative error over the points)."""

    @property
    def ok(self) -> bool:
        return self.symbolic in ("0", "skipped") and _within_tolerance(self.max_error)


@dataclass
class GraphVerification:
    """The result of `verify_graph`: one `GraphCheck` per derivative node; prints as a table."""

    name: str
    cost: str
    dims: dict
    seed: int
    points: int
    checks: list[GraphCheck] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every derivative node within tolerance numerically, and proved exactly where tried."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def proved(self) -> list[str]:
        """The derivative nodes proved exactly (the rest were checked numerically only)."""
        return [c.node for c in self.checks if c.symbolic == "0"]

    @property
    def title(self) -> str:
        dims = ", ".join(f"{k} = {v}" for k, v in self.dims.items())
        return f"∂{self.cost}/∂u for every derivative node of graph {self.name!r}" + (f" ({dims})" if dims else "")

    def to_text(self) -> str:
        head = ("node", "of", "entries", "exact", "max rel. err", "time", "")
        rows = [head] + [(c.node, c.of, str(c.entries), c.symbolic, f"{c.max_error:.1e}", f"{c.seconds:.2f} s",
                          "ok" if c.ok else "FAIL") for c in self.checks]
        lines = [self.title, f"numeric check: {self.points} random points (seed {self.seed}), tolerance {TOLERANCE:g}",
                 ""]
        lines += _aligned(rows)
        lines += ["", f"{'ALL HOLD' if self.ok else 'FAILED'} ({self.seconds:.2f} s)"]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| node | formula | entries | exact | max rel. error | |", "|---|---|---|---|---|---|"]
        for c in self.checks:
            lines.append(f"| `{c.node}` | ${c.formula}$ | {c.entries} | {c.symbolic} | {c.max_error:.1e} | "
                         f"{'ok' if c.ok else 'FAIL'} |")
        lines += ["", f"**{'All hold' if self.ok else 'FAILED'}** ({self.seconds:.2f} s)"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


def _draw(graph: Graph, rng: np.random.Generator, given: Mapping[str, Any]) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for node in graph.nodes(("input", "parameter", "target")):
        shape = tuple(int(s) for s in node.shape) if node.is_matrix else ()
        if node.name in given:
            values[node.name] = np.asarray(given[node.name], dtype=float).reshape(shape)
        elif node.kind in CONSTANT_KINDS and node.value is not None:
            values[node.name] = np.asarray(node.value, dtype=float)
        elif node.role == "target":
            values[node.name] = rng.uniform(0.05, 0.95, shape)
        else:
            values[node.name] = rng.standard_normal(shape)
    return values


def verify_graph(
    graph: Any,
    cost: str = "C",
    *,
    batch: int = 2,
    seed: int = 0,
    points: int = 2,
    exact: bool | str = "auto",
    values: Mapping[str, Any] | None = None,
) -> GraphVerification:
    """Check every derivative node ∂C/∂u of any graph, exactly and numerically, as `verify_network` does BP1–BP4.

    Backprop is run first when the graph has no derivatives of `cost` (all parameters). Symbolic
    dimensions (the batch m) become `batch`. **Numerically**, at `points` random points (leaves
    ~ N(0, 1), targets ~ U(0.05, 0.95); masks and pooling matrices keep their values; `values`
    fixes any leaf), each entry of ∂C/∂u, compiled to NumPy, is compared with a central difference
    of C (Ridders' extrapolation) in u — for an intermediate u, C as a function of u, the graph cut
    at u; the relative error must be ≤ 10⁻⁶. **Exactly** (`exact=True`, or `"auto"`: when the
    leaves have at most `EXACT_ENTRIES` entries in all), every entry of the node written out in the
    leaves' entries minus `sympy.diff` of the written-out cost must simplify to 0 (`decide_zero`).
    """
    g0 = as_graph(graph)
    if points < 1:
        raise UsageError(f"points must be at least 1, got {points}", arg="points")
    if exact not in (True, False, "auto"):
        raise UsageError(f"exact must be True, False or 'auto', got {exact!r}", arg="exact")
    started = time.perf_counter()
    cost = g0.node(cost).name
    if not g0.derivatives.get(cost):
        backprop(g0, cost)
    dims: dict = {}
    for node in g0.nodes():
        if node.is_matrix:
            for d in node.shape:
                if isinstance(d, sp.Symbol):
                    dims[d] = sp.Integer(batch)
    g = concrete_graph(g0, dims)
    table = g.derivatives[cost]
    derivs = [table[u] for u in g.topological_order() if u in table]
    report = GraphVerification(g.name, cost, {str(k): int(v) for k, v in dims.items()}, seed, points)
    leaves = g.nodes(("input", "parameter", "target"))
    size = sum(int(np.prod([int(s) for s in n.shape])) if n.is_matrix else 1 for n in leaves)
    try_exact = exact is True or (exact == "auto" and size <= EXACT_ENTRIES)
    rng = np.random.default_rng(seed)
    given = dict(values or {})
    draws = [_draw(g, rng, given) for _ in range(points)]
    forward = compile_graph(g, outputs=[cost, *derivs, *[g.node(d).of for d in derivs]])
    at = [forward.evaluate(v) for v in draws]
    explicit = explicit_entries(g, [cost, *derivs]) if try_exact else {}
    for d in derivs:
        t0 = time.perf_counter()
        of = g.node(d).of
        leaf = g.node(of).expr is None
        cut = g if leaf else concrete_graph(g, {}, cut=[of])
        cost_fn = compile_graph(cut, outputs=[cost], name="cost")
        worst = 0.0
        for v, out in zip(draws, at):
            base = {n.name: v[n.name] for n in cut.nodes(("input", "parameter", "target")) if n.name in v}
            base[of] = np.asarray(out[of], dtype=float)
            flat = base[of].reshape(-1).copy()
            shape = base[of].shape

            def c(theta: np.ndarray, base: dict = base, shape: tuple = shape, fn: Any = cost_fn, u: str = of) -> float:
                return float(fn.evaluate({**base, u: theta.reshape(shape)})[cost])

            grad = np.asarray(out[d], dtype=float).reshape(-1)
            for i in range(flat.size):
                # a step below the entry's own size: a mean square s near 0 must not step to s + h < 0
                h = min(1e-2, 0.1 * max(abs(float(flat[i])), 1e-3))
                err = _rel_error(float(grad[i]), central_difference(c, flat, i, h))
                worst = max(worst, err) if np.isfinite(err) else float("inf")
        symbolic = "skipped"
        if try_exact:
            if leaf:
                C, U = explicit[cost][0, 0], explicit[of]
                D = explicit[d]
            else:
                ex = explicit_entries(cut, [cost, d])
                C, U, D = ex[cost][0, 0], ex[of], ex[d]
            atomizer = _Atomizer()
            verdicts = [decide_zero(D[i] - sp.diff(C, U[i]), atomizer, rng) for i in range(len(U))]
            symbolic = "0" if all(x == "0" for x in verdicts) else ("≠ 0" if "≠ 0" in verdicts else "?")
        report.checks.append(GraphCheck(d, of, equation(g0, d, "factored"), int(np.prod(shape)), symbolic, worst,
                                        time.perf_counter() - t0))
    report.seconds = time.perf_counter() - started
    return report
