r"""Derivatives of a typed expression (`symgrad derive --expr` and `symgrad verify --expr`).

`expression_graph("C = x.T @ A @ x", {"x": (3, 1), "A": (3, 3)}, ["x"])` parses the text
(`symgrad.core.parse.parse`), runs backprop for the names in `wrt` and returns the
graph; `derive_expression` writes the derivative formulas as terminal text, LaTeX or
Markdown, and `verify_expression` proves them (`verify_derivatives`, which does it for any graph).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..core.backprop import backprop
from ..core.graph import Graph
from ..core.parse import parse, shape_arg
from ..errors import UsageError
from ..printing.latex import equation
from ..printing.readable import readable_equation, readable_rhs
from ..printing.report import Report, Section, Table
from ..printing.text import legend, to_text
from .verify import (
    _Atomizer,
    _CheckReport,
    _entries_of,
    _NodeCheck,
    _rel_error,
    _within_tolerance,
    central_difference,
    decide_zero,
    expand_to,
    explicit,
    lambdify,
)

FORMATS = ("text", "latex", "markdown")


def shapes_from_flags(flags: Sequence[str] | None) -> dict[str, object]:
    """`["W=3x4", "x=4x1"]` (the `--shape` values) → `{"W": (3, 4), "x": (4, 1)}`; a name given twice is refused."""
    shapes: dict[str, object] = {}
    for text in flags or ():
        name, shape = shape_arg(text)
        if name in shapes:
            raise UsageError(f"--shape {name} is given twice", arg="shape")
        shapes[name] = () if shape is None else shape
    return shapes


def expression_graph(text: str, shapes: Mapping[str, object], wrt: Sequence[str] | None = None) -> Graph:
    """The graph of `text` with backprop run for `wrt` (default: every leaf).

    `wrt` may name leaves and assigned names alike (∂C/∂z of a pre-activation z).
    """
    g = parse(text, shapes)
    names = [n.name for n in g.nodes() if n.role != "cost"]
    if wrt:
        for w in wrt:
            if w not in names:
                raise UsageError(f"wrt {w!r} is not a name of the expression (names: {', '.join(names)})", arg="wrt")
        targets = list(dict.fromkeys(wrt))
    else:
        targets = [n.name for n in g.nodes(("input", "parameter", "target"))]
    backprop(g, g.meta["cost"], targets)
    g.meta["wrt"] = targets
    return g


def derivation_rows(g: Graph, form: str = "factored") -> list[tuple[str, str]]:
    """`[(node name, LaTeX equation)]`: the assignments, then ∂C/∂u for each `wrt` name and the δ nodes
    they are written with, all through the readable pass (`symgrad.printing.readable`)."""
    cost = g.meta["cost"]
    table = g.derivatives[cost]
    rows = [(n.name, readable_equation(g, n.name, "node")) for n in g.nodes(("intermediate", "cost"))]
    shown = [table[u] for u in g.meta["wrt"]]
    if form == "factored":  # the δ (and other derivative) nodes the printed formulas name, each once
        k = 0
        while k < len(shown):
            rhs = readable_rhs(g, shown[k], form)
            for sym in sorted(rhs.atoms(sp.Symbol, sp.MatrixSymbol), key=str):
                name = g.symbols.get(sym)
                if name is not None and g.node(name).role == "derivative" and name not in shown:
                    shown.append(name)
            k += 1
    rows += [(name, readable_equation(g, name, form)) for name in shown]
    return rows


def derive_expression(
    text: str,
    shapes: Mapping[str, object],
    wrt: Sequence[str] | None = None,
    fmt: str = "text",
    form: str = "factored",
) -> str:
    """The cost and its derivatives as `text` (terminals), `latex` (an `aligned` block) or `markdown`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", arg="fmt")
    g = expression_graph(text, shapes, wrt)
    rows = derivation_rows(g, form)
    leaves = ", ".join(
        f"{n.name} {'scalar' if n.shape is None else f'{n.shape[0]}×{n.shape[1]}'}"
        for n in g.nodes(("input", "parameter", "target"))
    )
    title = f"typed expression ({leaves})"
    if fmt == "latex":
        body = " \\\\\n".join(tex.replace(" = ", " &= ", 1) for _, tex in rows)
        return f"% {title}\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    if fmt == "markdown":
        table = Table(["node", "formula"], [[f"`{name}`", f"${tex}$"] for name, tex in rows], "ll")
        return Report(f"Derivatives of a {title}", [table], level=2).to_markdown().rstrip("\n")
    lines = [to_text(tex) for _, tex in rows]
    note = legend("\n".join(lines))
    return "\n".join([title, *lines, *([note] if note else [])])


@dataclass
class ExpressionCheck(_NodeCheck):
    """One derivative node of any graph checked: its formula, entries, exact verdict, numeric error, time."""

    @property
    def ok(self) -> bool:
        return self.symbolic == "0" and _within_tolerance(self.max_error)


@dataclass
class ExpressionVerification(_CheckReport):
    """The result of `verify_derivatives`: one `ExpressionCheck` per derivative node; prints as a table."""

    title: str
    cost: str
    seed: int
    points: int
    checks: list[ExpressionCheck] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every derivative proved exactly and within tolerance numerically."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_text(self) -> str:
        lines = self._text_head()
        lines += [to_text(c.formula) for c in self.checks] + [""]
        lines += self._text_table(self.checks)
        lines += ["", self._verdict_text()]
        return "\n".join(lines)

    def document(self) -> Report:
        """The report as a document (one table), for Markdown and HTML."""
        doc = self._intro()
        doc.sections.append(Section("", [self._md_table(self.checks), self._verdict_md()]))
        return doc

    def to_latex(self) -> str:
        lines = [f"% {self.title}", *self._latex_table(self.checks), self._verdict_latex()]
        return "\n".join(lines)


def _entry_symbols(node: Any) -> sp.ImmutableMatrix:
    return _entries_of(node.symbol) if node.is_matrix else sp.ImmutableMatrix([[node.symbol]])


def verify_derivatives(
    graph: Any,
    cost: str | None = None,
    wrt: Sequence[str] | None = None,
    *,
    seed: int = 0,
    points: int = 3,
    formula: Callable[[Any, str], str] | None = None,
    max_entries: int = 400,
) -> ExpressionVerification:
    r"""Prove every derivative node ∂C/∂u of any graph exactly and check it numerically.

    Backprop is run for `wrt` (default: the derivative nodes already there, else the
    parameters). For each ∂C/∂u, every entry of the node expanded to the leaves (and to u, when
    u is computed: then C is taken as a function of u, as δ^l is of z^l) minus `sympy.diff` of
    the explicit cost must be proved 0 (`decide_zero`), and at `points` random points
    (leaves ~ N(0, 1); redrawn where C is undefined) it must match a central difference of C
    (Ridders' extrapolation) to a relative 10⁻⁶. `formula(graph, name)` gives the LaTeX shown
    for each node (default: the factored equation).
    """
    g = graph
    cost = cost or g.meta.get("cost") or next((n.name for n in g.nodes("cost")), None)
    if cost is None:
        raise UsageError("the graph has no cost node to verify derivatives of", arg="cost")
    if points < 1:
        raise UsageError(f"points must be at least 1, got {points}", arg="points")
    started = time.perf_counter()
    leaves = g.nodes(("input", "parameter", "target"))
    n_entries = sum(int(np.prod(n.shape)) if n.is_matrix else 1 for n in leaves)
    if n_entries > max_entries:
        raise UsageError(f"the graph's leaves have {n_entries} entries; an exact proof that large takes too long "
                         f"(limit max_entries {max_entries})", arg="max_entries")
    table = dict(g.derivatives.get(g.node(cost).name, {}))
    if wrt is not None or not table:
        table.update(backprop(g, cost, wrt))
    names = [table[u] for u in (wrt if wrt is not None else table)]
    formula = formula or (lambda graph, name: equation(graph, name, "factored"))
    rng = np.random.default_rng(seed)
    report = ExpressionVerification(f"∂{cost}/∂u for {g.name}", cost, seed, points)
    for name in names:
        dnode = g.node(name)
        of = g.node(dnode.of)
        t0 = time.perf_counter()
        cut = [] if of.expr is None else [of.name]
        syms = {n.symbol: _entry_symbols(n) for n in leaves}
        syms[of.symbol] = _entry_symbols(of)
        C = explicit(expand_to(g, cost, cut), syms)[0, 0]
        D = explicit(expand_to(g, name, cut), syms)
        wrt_entries = list(syms[of.symbol])
        atomizer = _Atomizer()
        verdicts = [decide_zero(d - sp.diff(C, s), atomizer, rng) for d, s in zip(D, wrt_entries)]
        symbolic = "0" if all(v == "0" for v in verdicts) else ("≠ 0" if "≠ 0" in verdicts else "?")
        args = sorted({s for m in syms.values() for s in m} & (C.free_symbols | D.free_symbols) | set(wrt_entries),
                      key=str)
        f_cost, f_grad = lambdify(args, C), lambdify(args, list(D))
        worst = 0.0
        for _ in range(points):
            for _attempt in range(1000):
                theta = rng.standard_normal(len(args))
                with np.errstate(all="ignore"):
                    if np.isfinite(f_cost(*theta)) and np.all(np.isfinite(np.asarray(f_grad(*theta), dtype=float))):
                        break
            else:
                raise UsageError(f"found no point where {cost} and {name} are defined (in 1000 draws)")
            grad = np.asarray(f_grad(*theta), dtype=float).ravel()
            for k, s in enumerate(wrt_entries):
                ref = central_difference(lambda v, f=f_cost: float(f(*v)), theta, args.index(s))
                err = _rel_error(float(grad[k]), ref)
                worst = max(worst, err) if np.isfinite(err) else float("inf")
        report.checks.append(ExpressionCheck(name, of.name, formula(g, name), len(D), symbolic, worst,
                                        time.perf_counter() - t0))
    report.seconds = time.perf_counter() - started
    return report



def verify_expression(
    text: str,
    shapes: Mapping[str, object],
    wrt: Sequence[str] | None = None,
    *,
    seed: int = 0,
    points: int = 3,
    max_entries: int = 400,
) -> ExpressionVerification:
    """Prove the derivatives of a typed expression exactly and check them numerically (`verify_derivatives`)."""
    g = parse(text, shapes)
    leaves = [n for n in g.nodes(("input", "parameter", "target"))]
    entries = sum((n.shape[0] * n.shape[1]) if n.shape else 1 for n in leaves)
    if entries > max_entries:
        raise UsageError(f"the leaves have {entries} entries; an exact proof that large takes too long "
                         f"(limit max_entries {max_entries}; give smaller shapes)", arg="max_entries")
    g = expression_graph(text, shapes, wrt)
    report = verify_derivatives(g, wrt=g.meta["wrt"], seed=seed, points=points, max_entries=max_entries,
                          formula=readable_equation)
    report.title = f"derivatives of {text.strip()!r}" if len(text) <= 80 else "derivatives of the typed expression"
    return report


__all__ = ["FORMATS", "ExpressionCheck", "ExpressionVerification", "derivation_rows", "derive_expression",
           "expression_graph", "shapes_from_flags", "verify_derivatives", "verify_expression"]
