r"""Derivatives of a typed expression (`symgrad derive --expr` and `symgrad verify --expr`).

`expression_graph("C = x.T @ A @ x", {"x": (3, 1), "A": (3, 3)}, ["x"])` parses the text
(`symgrad.core.parse.parse`), runs backprop for the names in `wrt` and returns the
graph; `derive_expression` writes the derivative formulas as terminal text, LaTeX or
Markdown, and `verify_expression` proves them (`symgrad.derivation.verify.verify_graph`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from ..core.backprop import backprop
from ..core.graph import Graph
from ..core.parse import parse, shape_arg
from ..errors import UsageError
from ..printing.readable import readable_equation, readable_rhs
from ..printing.report import Report, Table
from ..printing.text import to_text
from .verify import GraphVerification, verify_graph

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
    return "\n".join([title] + [to_text(tex) for _, tex in rows])


def verify_expression(
    text: str,
    shapes: Mapping[str, object],
    wrt: Sequence[str] | None = None,
    *,
    seed: int = 0,
    points: int = 3,
    max_entries: int = 400,
) -> GraphVerification:
    """Prove the derivatives of a typed expression exactly and check them numerically (`verify_graph`)."""
    g = parse(text, shapes)
    leaves = [n for n in g.nodes(("input", "parameter", "target"))]
    entries = sum((n.shape[0] * n.shape[1]) if n.shape else 1 for n in leaves)
    if entries > max_entries:
        raise UsageError(f"the leaves have {entries} entries; an exact proof that large takes too long "
                         f"(limit max_entries {max_entries}; give smaller shapes)", arg="max_entries")
    g = expression_graph(text, shapes, wrt)
    report = verify_graph(g, wrt=g.meta["wrt"], seed=seed, points=points, max_entries=max_entries,
                          formula=readable_equation)
    report.title = f"derivatives of {text.strip()!r}" if len(text) <= 80 else "derivatives of the typed expression"
    return report


__all__ = ["FORMATS", "derivation_rows", "derive_expression", "expression_graph", "shapes_from_flags",
           "verify_expression"]
