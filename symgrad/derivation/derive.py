"""A network's derivative formulas, labelled with the book's equations (`symgrad derive`).

Each derivative node backprop adds is an instance of one of Nielsen's equations: BP1
(δ^L), BP2 (δ^l, l < L), BP3 (∂C/∂b^l) or BP4 (∂C/∂w^l); `derivation` lists them
and `render` writes them as terminal text, LaTeX or Markdown.
"""

from __future__ import annotations

from ..core.graph import Graph
from ..errors import UsageError
from ..networks import Network
from ..printing.latex import equation, passes_along
from ..printing.report import Report, Table
from ..printing.text import legend, to_text
from .names import DERIVE_FORMATS

FORMATS = DERIVE_FORMATS


def derivation(net: Network, params: list[str] | None = None, form: str = "factored") -> list[tuple[str, str, str]]:
    """`[(label, node name, LaTeX equation)]` for the network's derivative nodes.

    Labels name the book's equation each one instantiates: BP1 (δ^L), BP2 (δ^l,
    l < L), BP3 (∂C/∂b), BP4 (∂C/∂w); other derivative nodes (∇_a C) get `""`.
    `params` keeps only the derivatives of those parameters (backprop then adds
    only the nodes on their paths).
    """
    g = net.graph
    if params:
        unknown = [p for p in params if p not in g or g.node(p).role != "parameter"]
        if unknown:
            names = ", ".join(n.name for n in g.parameters[:8])
            raise UsageError(f"params {unknown[0]!r} is not a parameter of this network (parameters: {names}, ...)",
                             arg="params")
    if not g.derivatives:
        net.backprop(params or None)  # only the nodes on the asked parameters' paths
    table = g.derivatives[net.cost_node]
    wanted = {table[p] for p in params} if params else None
    rows = []
    for node in g.nodes("derivative"):
        if wanted is not None and node.name not in wanted:
            continue
        if wanted is None and form == "factored" and passes_along(g, node):
            continue
        rows.append((bp_label(net, node.name), node.name, equation(g, node.name, form)))
    return sorted(rows, key=lambda row: _reading_order(g, row[1]))


_RANK = {"a": 0, "z": 1, "b": 2, "W": 3, "w": 3}


def _reading_order(g: Graph, name: str) -> tuple:
    """Output layer first (backprop's order), and in a layer ∂C/∂a, then neuron by neuron, 1, 2, …:
    δ_j, ∂C/∂b_j, ∂C/∂w_j1, ∂C/∂w_j2, … (the layer level: ∇_a C, δ, ∂C/∂b, ∂C/∂W)."""
    of = g.node(g.node(name).of)
    layer, index = of.meta.get("layer", 0), tuple(of.meta.get("index", ()))
    rank = _RANK.get(of.kind, 4)
    if rank == 0:
        return (-layer, 0, index, 0)
    return (-layer, 1, index[:1], rank, index)


def bp_label(net: Network, name: str) -> str:
    """Which of BP1–BP4 the derivative node `name` is an instance of ("" for none)."""
    node = net.graph.node(name)
    of = net.graph.node(node.of) if node.of else None
    if of is None:
        return ""
    if of.kind == "z":
        return "BP1" if of.meta.get("layer") == net.L else "BP2"
    if of.kind == "b":
        return "BP3"
    if of.kind in ("W", "w"):
        return "BP4"
    return ""


def render(net: Network, fmt: str = "text", params: list[str] | None = None, form: str = "factored") -> str:
    """The derivation as `text` (for terminals), `latex` (an `aligned` block) or `markdown` (a table)."""
    rows = derivation(net, params, form)
    title = f"{net.describe()} ({net.level} level)"
    if fmt == "latex":
        body = " \\\\\n".join(tex.replace(" = ", " &= ", 1) + (f" && \\text{{{label}}}" if label else "")
                            for label, _, tex in rows)
        return f"% {title}\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    if fmt == "markdown":
        table = Table(["eq.", "node", "formula"], [[label, f"`{name}`", f"${tex}$"] for label, name, tex in rows], "lll")
        return Report(f"Derivatives: {title}", [table], level=2).to_markdown().rstrip("\n")
    width = max((len(label) for label, _, _ in rows), default=0)
    lines = [f"{label:<{width}}  {to_text(tex)}" for label, _, tex in rows]
    note = legend("\n".join(lines))
    return "\n".join([title, *lines, *([note] if note else [])])


__all__ = ["FORMATS", "bp_label", "derivation", "render"]
