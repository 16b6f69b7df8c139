r"""Pictures of computational graphs: forward nodes and derivative nodes drawn apart.

As in the Deep Learning book's figure of symbol-to-symbol differentiation
(§6.5.5, Fig. 6.10), the forward graph runs left to right and the derivative
nodes added by :func:`symgrad.backprop` sit on the right, mirrored: the node
∂C/∂u stands in the column that mirrors u's column, so the backward pass reads
right to left as the forward pass reads left to right. Edges are symbol
dependencies (``u -> v`` when v's expression uses u's symbol); labels are the
nodes' LaTeX (w^{2}_{11}, δ^{3}, ∇_{a^{3}} C, ...) rendered by matplotlib's
mathtext; colours are roles.

The layout is computed here (topological generations by networkx, then a
barycentre sweep to reduce crossings), so no graphviz binary is needed.
``.dot`` files are written as text (for graphviz or dot2tex users).
matplotlib is the optional extra ``symgrad[plot]``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import networkx as nx

from ..core.graph import Graph, as_graph
from ..errors import UsageError, require
from ..networks import mlp
from ..store.files import atomic_write
from .text import to_text

#: Fill colours of the roles (and the legend's order).
ROLE_COLORS = {
    "input": "#cfe2ff",
    "parameter": "#ffe0a8",
    "target": "#d4efcc",
    "intermediate": "#ffffff",
    "cost": "#f7c1c1",
    "derivative": "#e4d4f7",
}
ROLE_EDGES = {
    "input": "#4a78c2",
    "parameter": "#c98a12",
    "target": "#4f9a3e",
    "intermediate": "#555555",
    "cost": "#c03a3a",
    "derivative": "#7a4fb5",
}
FORMATS = (".svg", ".png", ".dot")
#: Beyond this many nodes a picture is unreadable (use the layer level).
MAX_NODES = 400


# ------------------------------------------------------------------ layout
@dataclass
class Layout:
    """Where each node goes: ``pos[name] = (column, row)``; ``split`` is the column boundary
    between the forward graph and the derivative nodes (``None`` without derivatives)."""

    nodes: list[str]
    edges: list[tuple[str, str]]
    pos: dict[str, tuple[float, float]]
    columns: int
    rows: int
    split: float | None


def layout(graph: Graph, with_derivatives: bool = True) -> Layout:
    """Columns and rows for every node (derivative nodes only if ``with_derivatives``).

    Forward nodes: computed nodes sit in their topological generation; a leaf
    (input, parameter, target) sits just before its first consumer. Derivative
    nodes: ∂C/∂u sits in the column mirroring u's, pushed right if needed so
    that every derivative edge still points right.
    """
    order = graph.topological_order()
    forward = [n for n in order if graph.node(n).role != "derivative"]
    deriv = [n for n in order if graph.node(n).role == "derivative"] if with_derivatives else []
    col, last = _columns(graph, forward, deriv)
    nodes = forward + deriv
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(col[n], []).append(n)
    keep = set(nodes)
    edges = [(u, v) for u, v in graph.nx.edges if u in keep and v in keep]
    row = _rows(graph, col, columns, forward, deriv)
    ncols = max(col.values(), default=-1) + 1
    nrows = max((len(v) for v in columns.values()), default=0)
    pos = {n: (float(col[n]), row[n]) for n in nodes}
    split = last + 0.5 if deriv else None
    return Layout(nodes, edges, pos, ncols, nrows, split)


def _columns(graph: Graph, forward: list[str], deriv: list[str]) -> tuple[dict[str, int], int]:
    """The column of every node, and the last forward column."""
    fsub = graph.nx.subgraph(forward)
    col: dict[str, int] = {}
    for gen, names in enumerate(nx.topological_generations(fsub)):
        for n in names:
            col[n] = gen
    for n in forward:  # leaves as late as possible: next to what uses them
        if fsub.in_degree(n) == 0 and fsub.out_degree(n) > 0:
            col[n] = min(col[c] for c in fsub.successors(n)) - 1
    if forward:
        lowest = min(col[n] for n in forward)
        for n in forward:
            col[n] -= lowest
    last = max((col[n] for n in forward), default=-1)
    for n in deriv:
        node = graph.node(n)
        if node.of is not None and node.of in col and graph.node(node.of).role != "derivative":
            c = 2 * last - col[node.of]
        else:
            c = last + 1
        for p in graph.nx.predecessors(n):
            if p in col and graph.node(p).role == "derivative":
                c = max(c, col[p] + 1)
        col[n] = max(c, last + 1)
    return col, last


def _rows(graph: Graph, col: dict[str, int], columns: dict[int, list[str]], forward: list[str],
          deriv: list[str]) -> dict[str, float]:
    """The row of every node: barycentre sweeps for the forward columns, mirrored rows for the derivatives."""
    index = {n: i for i, n in enumerate(graph.topological_order())}
    fsub = graph.nx.subgraph(forward)
    row: dict[str, float] = {}

    def place(names: list[str]) -> None:
        k = len(names)
        for i, n in enumerate(names):
            row[n] = (k - 1) / 2 - i

    # Forward columns: barycentre sweeps (by parents, then by consumers) against crossings.
    fcols = sorted({col[n] for n in forward})
    for c in fcols:
        place(sorted((n for n in columns[c] if n in fsub), key=index.__getitem__))
    for sweep in range(4):
        seq = fcols if sweep % 2 == 0 else fcols[::-1]
        for c in seq:
            names = [n for n in columns[c] if n in fsub]

            def bary(n: str, down: bool = sweep % 2 == 0) -> float:
                nbrs = list(fsub.predecessors(n)) if down else list(fsub.successors(n))
                if not nbrs:
                    nbrs = list(fsub.successors(n)) or list(fsub.predecessors(n))
                return -sum(row[m] for m in nbrs) / len(nbrs) if nbrs else -row[n]

            place(sorted(names, key=lambda n: (bary(n), index[n])))

    # Derivative columns: mirror the rows of the nodes differentiated.
    for c in sorted({col[n] for n in deriv}):
        names = [n for n in columns[c] if n not in fsub]

        def mirror(n: str) -> tuple[float, int]:
            of = graph.node(n).of
            return (-row[of] if of in row else 0.0, index[n])

        place(sorted(names, key=mirror))
    return row


# ----------------------------------------------------------------- drawing
def _matplotlib():
    matplotlib = require("matplotlib", extra="plot", what="drawing")
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _label(graph: Graph, name: str) -> str:
    tex = graph.node(name).tex
    if not tex:
        return name.replace("_", r"\_").replace("$", r"\$")
    return f"${tex}$"


def _check_size(graph: Graph, n: int) -> None:
    if n > MAX_NODES:
        raise UsageError(
            f"graph {graph.name!r} has {n} nodes to draw, more than {MAX_NODES}; "
            "draw a layer-level network or a smaller one"
        )


def figure(graph: Any, with_derivatives: bool = True, title: str | None = None):
    """The picture as a matplotlib ``Figure`` (no pyplot state is touched)."""
    g = as_graph(graph)
    lay = layout(g, with_derivatives)
    _check_size(g, len(lay.nodes))
    matplotlib, Figure = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    width = max(4.0, 1.45 * lay.columns + 1.0)
    height = max(3.4, 0.62 * lay.rows + 2.0)
    fig = Figure(figsize=(width, height), dpi=100)
    # An Agg canvas of its own: no pyplot, no global backend switch (safe in notebooks).
    FigureCanvasAgg(fig)
    # Room in inches: the legend below (0.75 in), the title above (0.55 in).
    bottom, top_room = 0.75 / height, 0.55 / height
    ax = fig.add_axes((0.0, bottom, 1.0, 1.0 - bottom - top_room))
    ax.set_axis_off()
    half = max(lay.rows - 1, 0) / 2
    ax.set_xlim(-0.75, max(lay.columns - 1, 0) + 0.75)
    ax.set_ylim(-half - 0.6, half + 0.6)
    boxes = _draw_nodes(fig, ax, g, lay)
    _draw_edges(ax, g, lay, boxes)
    _draw_legend(fig, ax, g, lay, top=half + 0.45)
    fig.suptitle(title or g.name, fontsize=12, y=0.985)
    fig._symgrad_layout = lay  # type: ignore[attr-defined]
    return fig


def _draw_nodes(fig: Any, ax: Any, g: Graph, lay: Layout) -> dict[str, tuple[float, float, float, float]]:
    """Every node as its LaTeX label in a box of its role's colours; the boxes in data coordinates."""
    texts = {}
    for n in lay.nodes:
        node = g.node(n)
        x, y = lay.pos[n]
        delta = node.kind == "delta"
        t = ax.text(
            x, y, _label(g, n), ha="center", va="center", fontsize=11, zorder=3,
            bbox=dict(
                boxstyle="round,pad=0.35", fc=ROLE_COLORS.get(node.role, "#ffffff"),
                ec=ROLE_EDGES.get(node.role, "#555555"), lw=1.8 if delta or node.role == "cost" else 1.0,
            ),
        )
        t.set_gid(f"sg-{node.role}-{lay.nodes.index(n)}")
        texts[n] = t
    renderer = fig.canvas.get_renderer()
    inv = ax.transData.inverted()
    boxes = {}
    for n, t in texts.items():
        patch = t.get_bbox_patch()
        t.update_bbox_position_size(renderer)
        bb = patch.get_window_extent(renderer) if patch is not None else t.get_window_extent(renderer)
        (x0, y0), (x1, y1) = inv.transform([(bb.x0, bb.y0), (bb.x1, bb.y1)])
        boxes[n] = (x0, y0, x1, y1)
    return boxes


def _clip(box: tuple, cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from the box centre along (dx, dy) leaves the box."""
    x0, y0, x1, y1 = box
    hx, hy = (x1 - x0) / 2 + 0.02, (y1 - y0) / 2 + 0.02
    s = min(hx / abs(dx) if dx else float("inf"), hy / abs(dy) if dy else float("inf"))
    return cx + dx * s, cy + dy * s


def _draw_edges(ax: Any, g: Graph, lay: Layout, boxes: dict) -> None:
    """Forward edges dark, forward → derivative dashed grey, derivative edges in the derivative colour."""
    from matplotlib.patches import FancyArrowPatch

    for u, v in lay.edges:
        (ux, uy), (vx, vy) = lay.pos[u], lay.pos[v]
        dx, dy = vx - ux, vy - uy
        if dx == 0 and dy == 0:
            continue
        a = _clip(boxes[u], ux, uy, dx, dy)
        b = _clip(boxes[v], vx, vy, -dx, -dy)
        ru, rv = g.node(u).role, g.node(v).role
        if rv != "derivative":
            color, style, alpha, lw = "#444444", "-", 0.9, 0.9
        elif ru == "derivative":
            color, style, alpha, lw = ROLE_EDGES["derivative"], "-", 0.95, 1.1
        else:
            color, style, alpha, lw = "#999999", (0, (3, 2)), 0.7, 0.8
        span = abs(dx)
        # A long edge bows by about half a row whatever its length (arc3's bulge is rad × length).
        rad = 0.0 if span <= 1 else (1 if dy >= 0 else -1) * min(0.15, 0.5 / (dx * dx + dy * dy) ** 0.5)
        ax.add_patch(FancyArrowPatch(
            a, b, arrowstyle="-|>", mutation_scale=9, color=color, lw=lw, alpha=alpha,
            linestyle=style, connectionstyle=f"arc3,rad={rad}", zorder=2 if span <= 1 else 1,
            shrinkA=0, shrinkB=0,
        ))


def _draw_legend(fig: Any, ax: Any, g: Graph, lay: Layout, top: float) -> None:
    """The line between the forward graph and the derivative nodes, and the legend of roles and edges."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if lay.split is not None:
        ax.axvline(lay.split, color="#b9a3d9", lw=1.0, ls=(0, (6, 4)), zorder=0)
        ax.text(lay.split - 0.1, top, "forward graph", ha="right", va="bottom", fontsize=10, color="#333333")
        ax.text(lay.split + 0.1, top, "derivative nodes (symbol-to-symbol backprop)", ha="left",
                va="bottom", fontsize=10, color=ROLE_EDGES["derivative"])
    present = [r for r in ROLE_COLORS if any(g.node(n).role == r for n in lay.nodes)]
    handles = [Patch(facecolor=ROLE_COLORS[r], edgecolor=ROLE_EDGES[r], label=r) for r in present]
    handles.append(Line2D([], [], color="#444444", lw=1, label="forward edge"))
    if lay.split is not None:
        handles.append(Line2D([], [], color="#999999", lw=1, ls=(0, (3, 2)), label="forward → derivative"))
        handles.append(Line2D([], [], color=ROLE_EDGES["derivative"], lw=1.1, label="derivative edge"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8.5, frameon=False)


def _add_titles(svg_text: str, graph: Graph, lay: Layout) -> str:
    """Hover titles (name, role, LaTeX, formula) on the node groups, for browsers and for tests."""

    def title(m: re.Match) -> str:
        name = lay.nodes[int(m.group(2))]
        node = graph.node(name)
        parts = [f"{name} ({node.role})"]
        if node.tex:
            parts.append(node.tex)
        if node.expr is not None:
            parts.append(f"= {node.expr}")
        return f'{m.group(0)}\n    <title>{escape(" · ".join(parts))}</title>'

    return re.sub(r'<g id="sg-([a-z]+)-(\d+)">', title, svg_text)


def svg(graph: Any, with_derivatives: bool = True, title: str | None = None) -> str:
    """The picture as SVG text (what ``_repr_svg_`` shows in a notebook)."""
    import matplotlib

    g = as_graph(graph)
    fig = figure(g, with_derivatives, title)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _add_titles(buf.getvalue().decode("utf-8"), g, fig._symgrad_layout)


def notebook_svg(graph: Graph) -> str | None:
    """SVG for ``_repr_svg_``, or ``None`` (the notebook then shows the text form) when
    matplotlib is missing or the graph is too big to read."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    if len(graph) > MAX_NODES:
        return None
    return svg(graph)


def png(graph: Any, with_derivatives: bool = True, title: str | None = None, dpi: int = 150) -> bytes:
    """The picture as PNG bytes."""
    fig = figure(graph, with_derivatives, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(graph: Any, with_derivatives: bool = True) -> str:
    """The graph in graphviz DOT: forward and derivative nodes in two clusters.

    Labels are plain text (``w^2_11``, ``δ^3``); each node also carries its
    LaTeX as ``texlbl`` (for dot2tex) and its formula as ``tooltip``.
    """
    g = as_graph(graph)
    lay = layout(g, with_derivatives)
    lines = [f"digraph {_dot_str(g.name)} {{", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']

    def node_line(n: str) -> str:
        node = g.node(n)
        label = to_text(node.tex) if node.tex else n
        attrs = [
            f"label={_dot_str(label)}",
            f"fillcolor={_dot_str(ROLE_COLORS.get(node.role, '#ffffff'))}",
            f"color={_dot_str(ROLE_EDGES.get(node.role, '#555555'))}",
            f"role={_dot_str(node.role)}",
        ]
        if node.tex:
            attrs.append(f"texlbl={_dot_str('$' + node.tex + '$')}")
        if node.expr is not None:
            attrs.append(f"tooltip={_dot_str(f'{n} = {node.expr}')}")
        return f"    {_dot_str(n)} [{', '.join(attrs)}];"

    forward = [n for n in lay.nodes if g.node(n).role != "derivative"]
    deriv = [n for n in lay.nodes if g.node(n).role == "derivative"]
    lines += ["  subgraph cluster_forward {", '    label="forward graph";', *map(node_line, forward), "  }"]
    if deriv:
        lines += ["  subgraph cluster_derivatives {", '    label="derivative nodes";', '    color="#7a4fb5";',
                  *map(node_line, deriv), "  }"]
    for u, v in lay.edges:
        style = ""
        if g.node(v).role == "derivative":
            style = ' [color="#7a4fb5"]' if g.node(u).role == "derivative" else ' [style=dashed, color="#999999"]'
        lines.append(f"  {_dot_str(u)} -> {_dot_str(v)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ files
def check_format(path: str | os.PathLike) -> str:
    """The picture format ``path`` asks for, by its suffix: ``.svg``, ``.png`` or ``.dot``."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"path {str(path)!r}: the file name must end in .svg, .png or .dot", arg="path")
    return suffix


def draw(
    graph: Any,
    path: str | os.PathLike,
    with_derivatives: bool = True,
    level: str = "neuron",
    *,
    activation: str = "sigmoid",
    cost: str = "quadratic",
    title: str | None = None,
) -> Path:
    """Draw a graph to ``path`` (``.svg``, ``.png`` or ``.dot``, by its suffix); returns the path.

    ``graph`` is a :class:`~symgrad.core.graph.Graph`, a :class:`~symgrad.networks.Network`
    or layer sizes such as ``(2, 2, 2)`` (then an :func:`~symgrad.networks.mlp`
    at ``level`` with ``activation`` and ``cost`` is built and, with
    ``with_derivatives``, differentiated). A graph is drawn as it is: its
    derivative nodes are shown when ``with_derivatives`` and hidden otherwise.
    """
    suffix = check_format(path)
    if isinstance(graph, (list, tuple)):
        graph = network_for(graph, level, activation, cost, with_derivatives)
    g = as_graph(graph)
    if suffix == ".dot":
        data: bytes | str = dot(g, with_derivatives)
    elif suffix == ".svg":
        data = svg(g, with_derivatives, title)
    else:
        data = png(g, with_derivatives, title)
    return atomic_write(path, data)


def _node_count(sizes: Sequence[int], level: str) -> int:
    if level == "layer":
        return 4 * (len(sizes) - 1) + 3
    n = sizes[0] + sizes[-1] + 1
    for a, b in zip(sizes, sizes[1:], strict=False):
        n += a * b + 3 * b
    return n


def network_for(sizes: Sequence[int], level: str, activation: str, cost: str, with_derivatives: bool,
                output: str | None = None) -> Any:
    """The :func:`~symgrad.networks.mlp` for the picture (refusing one too big to read)."""
    n = _node_count(sizes, level) * (2 if with_derivatives else 1)
    if n > MAX_NODES:
        raise UsageError(
            f"sizes {','.join(map(str, sizes))} at the {level} level gives about {n} nodes, too many "
            f"to draw (at most {MAX_NODES}); use `level` layer or a smaller network", arg="sizes"
        )
    net = mlp(sizes, activation, cost, level=level, output=output)
    if with_derivatives:
        net.backprop()
    return net


__all__ = ["FORMATS", "ROLE_COLORS", "Layout", "check_format", "dot", "draw", "figure", "layout", "network_for",
           "notebook_svg", "png", "svg"]
