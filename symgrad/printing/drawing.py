r"""Pictures of computational graphs: the forward graph, and below it the derivative nodes.

The picture follows the Deep Learning book's figure of symbol-to-symbol differentiation
(§6.5.5, Fig. 6.10). The forward graph runs left to right in the upper panel; the derivative
nodes that `symgrad.backprop` added sit in the lower panel, each ∂C/∂u directly below u. So
the backward pass is the forward graph's mirror image, read right to left —
∂C/∂a³ → δ³ → ∂C/∂a² → δ² → ∂C/∂w² — and its edges cross no more than the forward edges
they reverse.

Edges are symbol dependencies (u → v when v's expression uses u's symbol). The forward
values a derivative node also reads (a, σ′(z), y) are not drawn: those edges would cross
the whole picture. The legend says so, and every node's tooltip gives its formula and the
forward values it reads. Labels are Unicode (w²₁₁, δ³, ∂C/∂w²₁₁); colours are roles.

The layout and the SVG are made here (networkx gives the topological generations), so an
SVG needs nothing beyond the core; a PNG is painted by matplotlib (the optional extra
`symgrad[plot]`) from the same scene. `.dot` files are Graphviz text.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from ..core.graph import Graph, as_graph
from ..errors import UsageError, require
from ..networks import mlp
from ..store.files import atomic_write
from .latex import equation, latex
from .report import inline_svg
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

# The picture's measures, in pixels at its natural size.
FONT = "'DejaVu Sans', Verdana, 'Segoe UI', Helvetica, Arial, sans-serif"
LABEL_PX, SCRIPT_PX, TITLE_PX, HEAD_PX, LEGEND_PX = 14.0, 12.0, 16.0, 13.0, 12.5
BOX_H, PAD_X, ROW_PITCH, COL_GAP, MARGIN = 28.0, 8.0, 38.0, 44.0, 16.0
BOLD = 1.14  # bold DejaVu Sans is about an eighth wider
FORWARD_EDGE, DERIVATIVE_EDGE, PANEL_FILL, INK = "#555555", ROLE_EDGES["derivative"], "#f6f2fc", "#1d1d1f"


# ------------------------------------------------------------------ labels
_SUP = dict(zip("0123456789+-=()T", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵀ", strict=True))
_SUB = dict(zip("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎", strict=True))
_SCRIPT = re.compile(r"([\^_])(?:\{([^{}]*)\}|([0-9A-Za-z]))")
_UP, _DOWN, _END = "\ue001", "\ue002", "\ue003"  # private-use characters: to_text keeps them

#: A piece of a label: its text and its script level (+1 raised, -1 lowered, 0 on the line).
Run = tuple[str, int]


def runs(tex: str) -> list[Run]:
    r"""Our LaTeX as Unicode text in runs: `\frac{\partial C}{\partial w^{2}_{11}}` → ∂C/∂w²₁₁.

    A script of digits and signs becomes Unicode super/subscripts; any other script (the
    `a^{3}` of `\nabla_{a^{3}} C`) a raised or lowered run of its own.
    """

    def script(m: re.Match) -> str:
        up = m.group(1) == "^"
        body = (m.group(2) if m.group(2) is not None else m.group(3)).replace(" ", "")
        table = _SUP if up else _SUB
        if body and all(c in table for c in body):
            return "".join(table[c] for c in body)
        return (_UP if up else _DOWN) + body + _END

    s = tex.replace(r"\prime", "'")
    while (new := _SCRIPT.sub(script, s)) != s:
        s = new
    s = to_text(s).replace("'", "′")
    out: list[Run] = []
    level, buf, stack = 0, "", []
    for ch in s:
        if ch not in (_UP, _DOWN, _END):
            buf += ch
            continue
        if buf:
            out.append((buf, level))
            buf = ""
        if ch == _END:
            level = stack.pop() if stack else 0
        else:
            stack.append(level)
            level += 1 if ch == _UP else -1
    if buf:
        out.append((buf, level))
    return out


def plain(pieces: Sequence[Run]) -> str:
    """Runs as one line of text; a raised or lowered run is written `^x` / `_(ab)`."""
    out = []
    for t, lvl in pieces:
        if lvl == 0:
            out.append(t)
        else:
            out.append(("^" if lvl > 0 else "_") + (t if len(t) == 1 else f"({t})"))
    return "".join(out)


def label_runs(graph: Graph, name: str) -> list[Run]:
    """A node's label: its LaTeX in Unicode (δ³₁, ∂C/∂w²₁₁), or its name when it has none."""
    tex = graph.node(name).tex
    return runs(tex) if tex else [(name, 0)]


def label(graph: Graph, name: str) -> str:
    """A node's label as one line of Unicode text."""
    return plain(label_runs(graph, name))


# Advance widths of DejaVu Sans (the picture's first font, matplotlib's default) in 1/1000 em:
# the printable ASCII characters, then the others the labels use. Other fonts are narrower.
_ASCII = [318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636,
          636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775,
          752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390,
          337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
          635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838]
_OTHER = {"δ": 612, "σ": 634, "∂": 517, "∇": 669, "⊙": 838, "′": 227, "·": 318, "×": 838, "λ": 592, "η": 634,
          "Σ": 632, "ε": 541, "½": 969, "ᵀ": 385, "—": 1000, "→": 838, "−": 838, "⁽": 246, "⁾": 246, "₍": 246,
          "₎": 246, "⁺": 528, "⁻": 528, "⁼": 528, "₊": 528, "₋": 528, "₌": 528}
_OTHER.update(dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", 401))


def text_width(text: str, px: float) -> float:
    """The width of `text` at `px` pixels, measured in DejaVu Sans."""
    em = sum(_ASCII[ord(c) - 32] if 32 <= ord(c) < 127 else _OTHER.get(c, 640) for c in text)
    return em * px / 1000


def runs_width(pieces: Sequence[Run], px: float = LABEL_PX) -> float:
    return sum(text_width(t, px if lvl == 0 else SCRIPT_PX) for t, lvl in pieces)


def _wrap(text: str, px: float, width: float) -> list[str]:
    """`text` broken at spaces into lines at most `width` pixels wide."""
    lines, line = [], ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if line and text_width(trial, px) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


# ------------------------------------------------------------------ layout
@dataclass
class Layout:
    """Where each node goes.

    `pos[name] = (column, row)`: columns run left to right, rows downwards. Forward nodes
    fill rows `0 … split`; a derivative node ∂C/∂u sits below `split` in u's column, in u's
    row moved down by the forward panel's height. `edges` are drawn (forward → forward,
    derivative → derivative); `uses` are the forward values derivative nodes read (not
    drawn: they are named in the tooltips). `split` is `None` without derivative nodes.
    """

    nodes: list[str]
    edges: list[tuple[str, str]]
    pos: dict[str, tuple[float, float]]
    columns: int
    rows: float
    split: float | None
    uses: list[tuple[str, str]] = field(default_factory=list)

    def panel(self, name: str) -> str:
        """`"forward"` or `"derivative"`: the panel a node is drawn in."""
        return "derivative" if self.split is not None and self.pos[name][1] > self.split else "forward"


def layout(graph: Graph, with_derivatives: bool = True) -> Layout:
    """Columns and rows for every node (derivative nodes only if `with_derivatives`).

    Forward nodes: a computed node sits in its topological generation, a leaf (input,
    parameter, target) just before its first consumer, and each column is ordered by
    barycentre sweeps against crossings. Derivative nodes: ∂C/∂u in u's column and row, in the
    panel below; a derivative node that mirrors no forward node goes one column left of
    the derivative nodes it reads.
    """
    order = graph.topological_order()
    index = {n: i for i, n in enumerate(order)}
    forward = [n for n in order if graph.node(n).role != "derivative"]
    deriv = [n for n in order if graph.node(n).role == "derivative"] if with_derivatives else []
    col = _forward_columns(graph, forward)
    row = _forward_rows(graph, col, forward, index)
    dcol, drow = _derivative_places(graph, deriv, col, row, index)
    col.update(dcol)
    nodes = forward + deriv
    lowest = min((col[n] for n in nodes), default=0)
    top = min((row[n] for n in forward), default=0.0)
    fpos = {n: (float(col[n] - lowest), row[n] - top) for n in forward}
    bottom = max((r for _, r in fpos.values()), default=-1.0)
    pos = dict(fpos)
    split = None
    if deriv:
        # Translated, not reflected: ∂C/∂u keeps u's row, one forward-panel height lower.
        shift = bottom + 1.5 - top + max(0.0, top - min(drow.values()))
        pos.update({n: (float(col[n] - lowest), drow[n] + shift) for n in deriv})
        split = bottom + 0.75
    keep = set(nodes)
    drawn, uses = [], []
    for u, v in graph.nx.edges:
        if u in keep and v in keep:
            cross = graph.node(v).role == "derivative" and graph.node(u).role != "derivative"
            (uses if cross else drawn).append((u, v))
    ncols = max((int(c) for c, _ in pos.values()), default=-1) + 1
    nrows = max((r for _, r in pos.values()), default=-1.0) + 1
    return Layout(nodes, drawn, pos, ncols, nrows, split, uses)


def _forward_columns(graph: Graph, forward: list[str]) -> dict[str, int]:
    """The column of every forward node: its topological generation; leaves next to their consumers."""
    fsub = graph.nx.subgraph(forward)
    col: dict[str, int] = {}
    for gen, names in enumerate(nx.topological_generations(fsub)):
        for n in names:
            col[n] = gen
    for n in forward:  # leaves as late as possible: next to what uses them
        if fsub.in_degree(n) == 0 and fsub.out_degree(n) > 0:
            col[n] = min(col[c] for c in fsub.successors(n)) - 1
    return col


def _centre(names: list[str], row: dict[str, float]) -> None:
    k = len(names)
    for i, n in enumerate(names):
        row[n] = i - (k - 1) / 2


def _forward_rows(graph: Graph, col: dict[str, int], forward: list[str], index: dict[str, int]) -> dict[str, float]:
    """The row of every forward node: each column centred, ordered by barycentre sweeps."""
    fsub = graph.nx.subgraph(forward)
    columns: dict[int, list[str]] = {}
    for n in forward:
        columns.setdefault(col[n], []).append(n)
    row: dict[str, float] = {}
    fcols = sorted(columns)
    for c in fcols:
        _centre(sorted(columns[c], key=index.__getitem__), row)
    for sweep in range(4):
        down = sweep % 2 == 0
        for c in fcols if down else fcols[::-1]:

            def bary(n: str, down: bool = down) -> float:
                nbrs = list(fsub.predecessors(n)) if down else list(fsub.successors(n))
                if not nbrs:
                    nbrs = list(fsub.successors(n)) or list(fsub.predecessors(n))
                return sum(row[m] for m in nbrs) / len(nbrs) if nbrs else row[n]

            _centre(sorted(columns[c], key=lambda n: (bary(n), index[n])), row)
    return row


def _derivative_places(graph: Graph, deriv: list[str], col: dict[str, int], row: dict[str, float],
                       index: dict[str, int]) -> tuple[dict[str, int], dict[str, float]]:
    """Column and row of every derivative node: those of the node it differentiates, when drawn."""
    dcol: dict[str, int] = {}
    want: dict[str, float] = {}
    last = max(col.values(), default=0)
    for n in deriv:
        of = graph.node(n).of
        preds = [p for p in graph.nx.predecessors(n) if p in dcol]
        if of in col:
            dcol[n], want[n] = col[of], row[of]
        elif preds:
            dcol[n] = min(dcol[p] for p in preds) - 1
            want[n] = sum(want[p] for p in preds) / len(preds)
        else:
            dcol[n], want[n] = last, 0.0
    drow: dict[str, float] = {}
    for c in set(dcol.values()):
        prev = -math.inf
        for n in sorted((n for n in deriv if dcol[n] == c), key=lambda n: (want[n], index[n])):
            drow[n] = prev = max(want[n], prev + 1)
    return dcol, drow


# ------------------------------------------------------------------- scene
@dataclass
class _Box:
    name: str
    x: float  # centre
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    lw: float
    runs: list[Run]
    tooltip: str
    role: str


@dataclass
class _Text:
    x: float
    y: float  # baseline
    text: str
    px: float
    color: str = INK
    anchor: str = "middle"  # or "start"
    bold: bool = False


@dataclass
class _Curve:
    points: tuple[tuple[float, float], ...]  # a cubic Bézier: start, two controls, end
    head: tuple[tuple[float, float], ...]  # the arrowhead's triangle
    color: str
    lw: float
    dash: str | None = None


@dataclass
class _Scene:
    width: float
    height: float
    title: str
    rects: list[tuple[float, float, float, float, str, str]]  # x, y, w, h, fill, stroke (panels, swatches)
    texts: list[_Text]
    forward_edges: list[_Curve]
    derivative_edges: list[_Curve]
    boxes: list[_Box]
    legend: list[_Curve]
    desc: str


def _tooltip(g: Graph, name: str, lay: Layout, used: dict[str, list[str]]) -> str:
    node = g.node(name)
    head = plain(runs(equation(g, name, "node"))) if node.expr is not None else label(g, name)
    if len(head) > 300:
        head = head[:299] + "…"
    lines = [head, f"node {name} ({node.role})"]
    if used.get(name):
        lines.append("reads forward " + ", ".join(label(g, u) for u in used[name]))
    return "\n".join(lines)


def _arrow(a: tuple[float, float], b: tuple[float, float], horizontal: bool, color: str, lw: float,
           dash: str | None = None) -> _Curve:
    """A smooth edge from `a` to `b` (tangent horizontal, or vertical within a column) with its head at `b`."""
    head_len, half = 7.0 + lw, 3.2 + lw
    (ax_, ay), (bx, by) = a, b
    if horizontal:
        d = 1.0 if bx >= ax_ else -1.0
        k = max(abs(bx - ax_) * 0.5, 10.0)
        tip = (bx, by)
        base = (bx - d * head_len, by)
        pts = ((ax_, ay), (ax_ + d * k, ay), (base[0] - d * k * 0.6, by), base)
        head = (tip, (base[0], by - half), (base[0], by + half))
    else:
        d = 1.0 if by >= ay else -1.0
        k = max(abs(by - ay) * 0.5, 8.0)
        tip = (bx, by)
        base = (bx, by - d * head_len)
        pts = ((ax_, ay), (ax_, ay + d * k), (bx, base[1] - d * k * 0.6), base)
        head = (tip, (bx - half, base[1]), (bx + half, base[1]))
    return _Curve(pts, head, color, lw, dash)


def _edge(bu: _Box, bv: _Box, color: str, lw: float) -> _Curve:
    if abs(bv.x - bu.x) > 1:
        d = 1.0 if bv.x > bu.x else -1.0
        return _arrow((bu.x + d * bu.w / 2, bu.y), (bv.x - d * bv.w / 2, bv.y), True, color, lw)
    d = 1.0 if bv.y > bu.y else -1.0
    return _arrow((bu.x, bu.y + d * bu.h / 2), (bv.x, bv.y - d * bv.h / 2), False, color, lw)


def title_of(obj: Any, with_derivatives: bool = True) -> str:
    """The picture's title: network, activation, cost and level when `obj` is a network
    (`2-2-2 sigmoid network, quadratic cost — neuron level, with derivatives`), else the graph's name."""
    g = as_graph(obj)
    derivs = with_derivatives and bool(g.nodes("derivative"))
    tail = "with derivatives" if derivs else "forward graph"
    if hasattr(obj, "describe") and hasattr(obj, "level"):  # a Network says itself what it is
        return f"{obj.describe()} — {obj.level} level, {tail}"
    level, sizes = g.meta.get("level"), g.meta.get("sizes")
    if level and sizes:  # an mlp's graph without its network: sizes and level are all it knows
        return f"{'-'.join(map(str, sizes))} network — {level} level, {tail}"
    return f"graph {g.name} — {tail}"


def _scene(obj: Any, with_derivatives: bool, title: str | None, hover: bool = True) -> tuple[_Scene, Layout]:
    """Everything the picture shows, in pixels; `hover`: the picture has tooltips (SVG)."""
    g = as_graph(obj)
    lay = layout(g, with_derivatives)
    _check_size(g, len(lay.nodes))
    title = title or title_of(obj, with_derivatives)
    used: dict[str, list[str]] = {}
    for u, v in lay.uses:
        used.setdefault(v, []).append(u)

    # Box sizes; a column is as wide as its widest box (in either panel).
    pieces = {n: label_runs(g, n) for n in lay.nodes}
    bw = {n: max(runs_width(pieces[n]) + 2 * PAD_X, BOX_H + 8) for n in lay.nodes}
    colw = [0.0] * max(lay.columns, 1)
    for n in lay.nodes:
        c = int(lay.pos[n][0])
        colw[c] = max(colw[c], bw[n])
    graph_w = sum(colw) + COL_GAP * (len(colw) - 1)
    has_deriv = lay.split is not None
    head_f = "forward graph — computed left to right"
    head_d = "derivative nodes added by backprop — read right to left; ∂C/∂u sits below u"
    examples = " (a, σ′(z), y)" if g.meta.get("level") else ""
    note = (f"Derivative nodes also read forward values{examples}; those edges are not drawn."
            + (" Hover over a node for its formula." if hover else "")) if lay.uses else ""
    inner = max(graph_w, 420.0)
    title_lines = _wrap(title, TITLE_PX * BOLD, max(inner, 900.0))
    inner = max(inner, *(text_width(t, TITLE_PX * BOLD) for t in title_lines))
    if has_deriv:
        inner = max(inner, min(text_width(head_d, HEAD_PX) + 14, 640.0))
    width = inner + 2 * MARGIN
    x0 = MARGIN + (inner - graph_w) / 2
    cx, x = [], x0
    for w in colw:
        cx.append(x + w / 2)
        x += w + COL_GAP

    texts: list[_Text] = []
    rects: list[tuple[float, float, float, float, str, str]] = []
    y = MARGIN
    for t in title_lines:
        texts.append(_Text(width / 2, y + TITLE_PX * 0.8, t, TITLE_PX, bold=True))
        y += TITLE_PX * 1.3
    y += 8
    forward = [n for n in lay.nodes if lay.panel(n) == "forward"]
    deriv = [n for n in lay.nodes if lay.panel(n) == "derivative"]
    if has_deriv:
        texts.append(_Text(MARGIN, y + HEAD_PX * 0.8, head_f, HEAD_PX, "#444444", "start"))
        y += HEAD_PX + 10
    ypos: dict[str, float] = {}
    fmax = max((lay.pos[n][1] for n in forward), default=0.0)
    for n in forward:
        ypos[n] = y + BOX_H / 2 + lay.pos[n][1] * ROW_PITCH
    y += fmax * ROW_PITCH + BOX_H + 14
    if has_deriv:
        dmin = min(lay.pos[n][1] for n in deriv)
        dmax = max(lay.pos[n][1] for n in deriv)
        panel_top = y
        head_lines = _wrap(head_d, HEAD_PX, inner - 12)
        yy = panel_top + 6
        for t in head_lines:
            texts.append(_Text(MARGIN + 6, yy + HEAD_PX * 0.8, t, HEAD_PX, DERIVATIVE_EDGE, "start"))
            yy += HEAD_PX * 1.3
        ystart = yy + 8
        for n in deriv:
            ypos[n] = ystart + BOX_H / 2 + (lay.pos[n][1] - dmin) * ROW_PITCH
        y = ystart + (dmax - dmin) * ROW_PITCH + BOX_H + 10
        rects.append((MARGIN - 6, panel_top, inner + 12, y - panel_top, PANEL_FILL, "#d9cdee"))
        y += 12

    boxes = {}
    for n in lay.nodes:
        node = g.node(n)
        thick = node.kind == "delta" or node.role == "cost"
        boxes[n] = _Box(n, cx[int(lay.pos[n][0])], ypos[n], bw[n], BOX_H, ROLE_COLORS.get(node.role, "#ffffff"),
                        ROLE_EDGES.get(node.role, "#555555"), 2.2 if thick else 1.1, pieces[n],
                        _tooltip(g, n, lay, used), node.role)
    fwd_edges, der_edges = [], []
    for u, v in lay.edges:
        if g.node(u).role == "derivative":
            der_edges.append(_edge(boxes[u], boxes[v], DERIVATIVE_EDGE, 1.7))
        else:
            fwd_edges.append(_edge(boxes[u], boxes[v], FORWARD_EDGE, 1.1))

    # The legend: roles, the two kinds of edge, and what is not drawn.
    legend: list[_Curve] = []
    items: list[tuple[str, str, str]] = [
        ("role", r, r) for r in ROLE_COLORS if any(g.node(n).role == r for n in lay.nodes)]
    items.append(("edge", FORWARD_EDGE, "u → v: v is computed from u"))
    if der_edges:
        items.append(("edge", DERIVATIVE_EDGE, "derivative → derivative"))
    lx, ly = MARGIN, y + LEGEND_PX
    for kind, colour, text in items:
        w = (18 if kind == "role" else 26) + 6 + text_width(text, LEGEND_PX) + 18
        if lx + w - 18 > width - MARGIN and lx > MARGIN:
            lx, ly = MARGIN, ly + LEGEND_PX * 1.7
        if kind == "role":
            rects.append((lx, ly - 10, 18, 12, ROLE_COLORS[colour], ROLE_EDGES[colour]))
            texts.append(_Text(lx + 24, ly, text, LEGEND_PX, "#333333", "start"))
        else:
            legend.append(_arrow((lx, ly - 4), (lx + 26, ly - 4), True, colour, 1.7 if colour == DERIVATIVE_EDGE else 1.1))
            texts.append(_Text(lx + 32, ly, text, LEGEND_PX, "#333333", "start"))
        lx += w
    for t in _wrap(note, LEGEND_PX, inner) if note else []:
        ly += LEGEND_PX * 1.6
        texts.append(_Text(MARGIN, ly, t, LEGEND_PX, "#555555", "start"))
    height = ly + MARGIN
    desc = (f"{len(forward)} forward nodes" + (f" and {len(deriv)} derivative nodes below them" if deriv else "")
            + f"; {len(lay.edges)} edges drawn" + (f", {len(lay.uses)} forward values read by derivative nodes "
                                                   "not drawn" if lay.uses else "") + ".")
    scene = _Scene(round(width), round(height), title, rects, texts, fwd_edges, der_edges,
                   [boxes[n] for n in lay.nodes], legend, desc)
    return scene, lay


# -------------------------------------------------------------------- SVG
def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _rise(level: int) -> float:
    """How far a run of script `level` sits below the line, in pixels (raised runs: negative)."""
    return -0.42 * LABEL_PX * level if level > 0 else -0.3 * LABEL_PX * level


def _svg_runs(pieces: Sequence[Run]) -> str:
    """Runs as SVG text: raised and lowered runs are tspans, shifted and put back."""
    out, level = [], 0
    for t, lvl in pieces:
        if lvl == level == 0:
            out.append(escape(t))
            continue
        size = f' font-size="{_n(SCRIPT_PX)}"' if lvl else ""
        out.append(f'<tspan dy="{_n(_rise(lvl) - _rise(level))}"{size}>{escape(t)}</tspan>')
        level = lvl
    if level:
        out.append(f'<tspan dy="{_n(-_rise(level))}"></tspan>')
    return "".join(out)


def _svg_curve(c: _Curve) -> str:
    (a, b, d, e) = c.points
    path = f"M{_n(a[0])},{_n(a[1])} C{_n(b[0])},{_n(b[1])} {_n(d[0])},{_n(d[1])} {_n(e[0])},{_n(e[1])}"
    dash = f' stroke-dasharray="{c.dash}"' if c.dash else ""
    head = " ".join(f"{_n(x)},{_n(y)}" for x, y in c.head)
    return (f'<path d="{path}" fill="none" stroke="{c.color}" stroke-width="{_n(c.lw)}"{dash}/>'
            f'<polygon points="{head}" fill="{c.color}"/>')


def _svg_text(t: _Text) -> str:
    weight = ' font-weight="bold"' if t.bold else ""
    anchor = ' text-anchor="middle"' if t.anchor == "middle" else ""
    return (f'<text x="{_n(t.x)}" y="{_n(t.y)}" font-size="{_n(t.px)}" fill="{t.color}"{anchor}{weight}>'
            f"{escape(t.text)}</text>")


def _write_svg(s: _Scene) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{s.width}" height="{s.height}" '
        f'viewBox="0 0 {s.width} {s.height}" style="max-width:100%;height:auto" font-family={quoteattr(FONT)} '
        'role="img">',
        f"<title>{escape(s.title)}</title>",
        f"<desc>{escape(s.desc)}</desc>",
        f'<rect width="{s.width}" height="{s.height}" fill="#ffffff"/>',
    ]
    out += [f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="3" fill="{f}" stroke="{e}"/>'
            for x, y, w, h, f, e in s.rects]
    out += [_svg_text(t) for t in s.texts]
    out.append("<!-- forward graph -->")
    out.append('<g class="sg-edges sg-forward">' + "".join(map(_svg_curve, s.forward_edges)) + "</g>")
    if s.derivative_edges:
        out.append("<!-- derivative nodes (symbol-to-symbol backprop) -->")
        out.append('<g class="sg-edges sg-derivative">' + "".join(map(_svg_curve, s.derivative_edges)) + "</g>")
    for b in s.boxes:
        out.append(
            f'<g class="sg-node sg-{b.role}" data-name={quoteattr(b.name)}><title>{escape(b.tooltip)}</title>'
            f'<rect x="{_n(b.x - b.w / 2)}" y="{_n(b.y - b.h / 2)}" width="{_n(b.w)}" height="{_n(b.h)}" rx="6" '
            f'fill="{b.fill}" stroke="{b.stroke}" stroke-width="{_n(b.lw)}"/>'
            f'<text x="{_n(b.x)}" y="{_n(b.y + 0.36 * LABEL_PX)}" font-size="{_n(LABEL_PX)}" fill="{INK}" '
            f'text-anchor="middle">{_svg_runs(b.runs)}</text></g>'
        )
    out.append("<!-- legend -->")
    out += [_svg_curve(c) for c in s.legend]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _check_size(graph: Graph, n: int) -> None:
    if n > MAX_NODES:
        raise UsageError(
            f"graph {graph.name!r} has {n} nodes to draw, more than {MAX_NODES}; "
            "draw a layer-level network or a smaller one"
        )


def svg(graph: Any, with_derivatives: bool = True, title: str | None = None) -> str:
    """The picture as SVG text (needs no extra); the title names the network when `graph` is one."""
    scene, _ = _scene(graph, with_derivatives, title)
    return _write_svg(scene)


# --------------------------------------------------------------- matplotlib
def figure(graph: Any, with_derivatives: bool = True, title: str | None = None):
    """The same picture as a matplotlib `Figure` (the `plot` extra; no pyplot state is touched)."""
    require("matplotlib", extra="plot", what="drawing a PNG")
    scene, lay = _scene(graph, with_derivatives, title, hover=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path as MPath

    pt = 72 / 100  # points per pixel at 100 dpi
    fig = Figure(figsize=(scene.width / 100, scene.height / 100), dpi=100)
    FigureCanvasAgg(fig)  # an Agg canvas of its own: no pyplot, no global backend switch
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    font = {"family": "DejaVu Sans"}

    def curve(c: _Curve, z: float) -> None:
        codes = [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4]
        ax.add_patch(PathPatch(MPath(c.points, codes), fill=False, ec=c.color, lw=c.lw * pt, zorder=z))
        ax.add_patch(Polygon(c.head, closed=True, fc=c.color, ec="none", zorder=z))

    for x, y, w, h, f, e in scene.rects:
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=3", fc=f, ec=e,
                                    lw=0.8 * pt, zorder=0))
    for t in scene.texts:
        ax.text(t.x, t.y, t.text, fontsize=t.px * pt, color=t.color, ha="center" if t.anchor == "middle" else "left",
                va="baseline", fontweight="bold" if t.bold else "normal", fontdict=font, zorder=1)
    for c in scene.forward_edges + scene.legend:
        curve(c, 2)
    for c in scene.derivative_edges:
        curve(c, 2.5)
    for b in scene.boxes:
        ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0,rounding_size=6",
                                    fc=b.fill, ec=b.stroke, lw=b.lw * pt, zorder=3))
        x = b.x - runs_width(b.runs) / 2
        for text, lvl in b.runs:
            px = LABEL_PX if lvl == 0 else SCRIPT_PX
            ax.text(x, b.y + 0.36 * LABEL_PX + _rise(lvl), text, fontsize=px * pt, color=INK, ha="left", va="baseline",
                    fontdict=font, zorder=4)
            x += text_width(text, px)
    fig._symgrad_layout = lay  # type: ignore[attr-defined]
    return fig


def png(graph: Any, with_derivatives: bool = True, title: str | None = None, dpi: int = 200) -> bytes:
    """The picture as PNG bytes (the `plot` extra), at `dpi / 100` times its natural size."""
    fig = figure(graph, with_derivatives, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------- notebooks
def notebook_svg(graph: Any) -> str | None:
    """SVG for `_repr_svg_`, or `None` (the notebook then shows the text form) when the
    graph is too big to read."""
    if len(as_graph(graph)) > MAX_NODES:
        return None
    return svg(graph)


def notebook_html(obj: Any) -> str:
    """A network's notebook display: its picture (inline SVG, as wide as the output at most)
    above its formulas (`$$…$$`, typeset by the notebook's MathJax)."""
    parts = ['<div class="symgrad-network">']
    picture = notebook_svg(obj)
    if picture is not None:
        parts.append(f'<div style="max-width:100%;overflow-x:auto">{inline_svg(picture)}</div>')
    else:
        parts.append(f"<p>{html.escape(repr(obj))}: too many nodes to draw (at most {MAX_NODES}).</p>")
    parts.append(f'<div class="symgrad-formulas">$${html.escape(latex(obj))}$$</div>')
    parts.append("</div>")
    return "\n".join(parts)


# --------------------------------------------------------------------- DOT
def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(graph: Any, with_derivatives: bool = True) -> str:
    """The graph in Graphviz DOT: forward and derivative nodes in two clusters.

    Labels are Unicode text (`w²₁₁`, `δ³`); each node also carries its LaTeX as
    `texlbl` (for dot2tex) and its formula as `tooltip`. The forward values derivative
    nodes read are dashed grey edges that do not constrain Graphviz's layout.
    """
    g = as_graph(graph)
    lay = layout(g, with_derivatives)
    lines = [f"digraph {_dot_str(g.name)} {{", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans"];']

    def node_line(n: str) -> str:
        node = g.node(n)
        attrs = [
            f"label={_dot_str(label(g, n))}",
            f"fillcolor={_dot_str(ROLE_COLORS.get(node.role, '#ffffff'))}",
            f"color={_dot_str(ROLE_EDGES.get(node.role, '#555555'))}",
            f"role={_dot_str(node.role)}",
        ]
        if node.tex:
            attrs.append(f"texlbl={_dot_str('$' + node.tex + '$')}")
        if node.expr is not None:
            attrs.append(f"tooltip={_dot_str(plain(runs(equation(g, n, 'node'))))}")
        return f"    {_dot_str(n)} [{', '.join(attrs)}];"

    forward = [n for n in lay.nodes if lay.panel(n) == "forward"]
    deriv = [n for n in lay.nodes if lay.panel(n) == "derivative"]
    lines += ["  subgraph cluster_forward {", '    label="forward graph";', *map(node_line, forward), "  }"]
    if deriv:
        lines += ["  subgraph cluster_derivatives {", '    label="derivative nodes";', '    color="#7a4fb5";',
                  *map(node_line, deriv), "  }"]
    for u, v in lay.edges:
        style = f' [color="{DERIVATIVE_EDGE}"]' if g.node(u).role == "derivative" else ""
        lines.append(f"  {_dot_str(u)} -> {_dot_str(v)}{style};")
    for u, v in lay.uses:
        lines.append(f'  {_dot_str(u)} -> {_dot_str(v)} [style=dashed, color="#bbbbbb", constraint=false];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ files
def check_format(path: str | os.PathLike) -> str:
    """The picture format `path` asks for, by its suffix: `.svg`, `.png` or `.dot`."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"path {str(path)!r}: the file name must end in .svg, .png or .dot", arg="path")
    return suffix


def check_extra(path: str | os.PathLike) -> None:
    """Fail now, before any work, if drawing `path` needs an extra that is missing (a PNG needs matplotlib)."""
    if check_format(path) == ".png":
        require("matplotlib", extra="plot", what="a .png picture")


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
    """Draw a graph to `path` (`.svg`, `.png` or `.dot`, by its suffix); returns the path.

    `graph` is a `Graph`, a `Network` or layer sizes such as `(2, 2, 2)` (then an `mlp`
    at `level` with `activation` and `cost` is built and, with `with_derivatives`,
    differentiated). A graph is drawn as it is: its derivative nodes are shown when
    `with_derivatives` and hidden otherwise. SVG and DOT need no extra; PNG needs
    matplotlib (`symgrad[plot]`).
    """
    check_extra(path)
    suffix = check_format(path)
    if isinstance(graph, (list, tuple)):
        graph = network_for(graph, level, activation, cost, with_derivatives)
    if suffix == ".dot":
        data: bytes | str = dot(graph, with_derivatives)
    elif suffix == ".svg":
        data = svg(graph, with_derivatives, title)
    else:
        data = png(graph, with_derivatives, title)
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
    """The `mlp` for the picture (refusing one too big to read)."""
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


__all__ = ["FORMATS", "ROLE_COLORS", "Layout", "check_extra", "check_format", "dot", "draw", "figure", "label",
           "layout", "network_for", "notebook_html", "notebook_svg", "png", "runs", "svg", "title_of"]
