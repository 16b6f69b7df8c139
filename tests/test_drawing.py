"""Graph pictures: real .svg, .png and .dot files, checked for what a reader needs from them."""

import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import sympy as sp
from extras_hidden import needs

import symgrad as sg
from symgrad.cli import main as cli
from symgrad.core.hessian import hessian_nodes
from symgrad.errors import UsageError
from symgrad.printing.drawing import dot, draw, label, layout, runs, svg, title_of

SVG = "{http://www.w3.org/2000/svg}"


def net222(level="neuron", **kw):
    net = sg.mlp([2, 2, 2], level=level, **kw)
    net.backprop()
    return net


def parse(svg_text):
    return ET.fromstring(svg_text.encode())


def node_groups(root):
    return {g.get("data-name"): g for g in root.iter(f"{SVG}g") if "sg-node" in (g.get("class") or "")}


def box(group):
    r = group.find(f"{SVG}rect")
    x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, w, h


def text_of(element):
    return "".join(element.itertext())


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("tex, expected", [
    (r"w^{2}_{11}", [("w²₁₁", 0)]),
    (r"\frac{\partial C}{\partial w^{3}_{12}}", [("∂C/∂w³₁₂", 0)]),
    (r"\delta^{3}", [("δ³", 0)]),
    (r"\frac{\partial C}{\partial W^{2}}", [("∂C/∂W²", 0)]),
    (r"\nabla_{a^{3}} C", [("∇", 0), ("a³", -1), (" C", 0)]),  # a script Unicode cannot write: a lowered run
    (r"\left(W^{3}\right)^{T}", [("(W³)ᵀ", 0)]),
    (r"\sigma'\left(z^{2}_{1}\right)", [("σ′(z²₁)", 0)]),
    (r"x_{in}", [("x", 0), ("in", -1)]),
])
def test_labels_are_unicode(tex, expected):
    assert runs(tex) == expected


# -------------------------------------------------------------------- SVG
@pytest.mark.parametrize("level", ["neuron", "layer"])
def test_svg_has_every_node_with_role_label_and_readable_tooltip(tmp_path, level):
    net = net222(level)
    path = draw(net, tmp_path / "g.svg")
    root = parse(path.read_text(encoding="utf-8"))
    groups = node_groups(root)
    assert set(groups) == {n.name for n in net.graph}
    for node in net.graph:
        g = groups[node.name]
        assert f"sg-{node.role}" in g.get("class")
        shown = text_of(g.find(f"{SVG}text"))
        assert shown == "".join(t for t, _ in runs(node.tex))
        assert not re.search(r"[\\{}^_]", shown), shown  # Unicode, no TeX
        tip = g.find(f"{SVG}title").text
        assert f"node {node.name} ({node.role})" in tip and "\\" not in tip and "{" not in tip
    if level == "neuron":
        tip = groups["dC/dz3_1"].find(f"{SVG}title").text
        assert tip.startswith("δ³₁ = ∂C/∂a³₁ σ′(z³₁)") and "reads forward z³₁" in tip
        assert {text_of(groups[n].find(f"{SVG}text")) for n in ("dC/dz3_1", "dC/dw2_1_1", "w2_1_1")} == {
            "δ³₁", "∂C/∂w²₁₁", "w²₁₁"}
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temporary left


def test_svg_title_names_network_activation_cost_and_level():
    root = parse(svg(net222()))
    assert root.find(f"{SVG}title").text == "2-2-2 sigmoid network, quadratic cost — neuron level, with derivatives"
    softmax = net222("layer", activation="relu", cost="log_likelihood")
    assert title_of(softmax) == ("2-2-2 relu network with a softmax output, log_likelihood cost — layer level, "
                                 "with derivatives")  # the network's own describe(), as derive and verify say it
    assert title_of(sg.mlp([2, 3, 1], level="layer"), with_derivatives=False).endswith("layer level, forward graph")
    assert title_of(softmax.graph) == "2-2-2 network — layer level, with derivatives"  # a graph knows less
    assert title_of(_fff()) == "graph z — with derivatives"
    texts = [text_of(t) for t in root.iter(f"{SVG}text")]
    assert texts[0] == "2-2-2 sigmoid network, quadratic cost — neuron level, with derivatives"  # drawn, too


def test_svg_scales_and_reads_at_its_natural_size():
    """The 2-2-2 neuron-level picture fits a docs page (~688 px) unscaled; every text is ≥ 12 px."""
    text = svg(net222())
    root = parse(text)
    width, height = float(root.get("width")), float(root.get("height"))
    assert width <= 700 and height <= 900
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert "max-width:100%" in root.get("style") and "height:auto" in root.get("style")
    sizes = [float(e.get("font-size")) for e in root.iter() if e.get("font-size")]
    assert sizes and min(sizes) >= 12
    for g in node_groups(root).values():  # boxes inside the picture, none overlapping the next
        x, y, w, h = box(g)
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    bigger = parse(svg(sg.mlp([2, 3, 3, 2], level="layer")))
    assert float(bigger.get("width")) <= 1100


def _pairs_overlap(boxes):
    for i, (x, y, w, h) in enumerate(boxes):
        for (x2, y2, w2, h2) in boxes[i + 1:]:
            if x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h:
                return True
    return False


def _hessian_graph():
    net = sg.mlp([1, 2, 1], "tanh", level="neuron")
    hessian_nodes(net.graph, "C", ["w2_1_1", "w3_1_1"])
    return net.graph


def _fff():
    w = sp.Symbol("w", real=True)
    g = sg.Graph.from_expr(sp.exp(sp.exp(sp.exp(w))), "z", role="cost")
    sg.backprop(g, "z")
    return g


@pytest.mark.parametrize("make", [net222, lambda: net222("layer"), lambda: sg.mlp([2, 3, 2], level="neuron"),
                                  _fff, _hessian_graph], ids=["neuron", "layer", "no-backprop", "fff", "hessian"])
def test_no_two_nodes_overlap(make):
    root = parse(svg(make()))
    assert not _pairs_overlap([box(g) for g in node_groups(root).values()])


def test_derivatives_mirror_the_forward_graph_below_it():
    """∂C/∂u sits in u's column, below the forward graph, in u's order; backprop reads right to left."""
    for level in ("neuron", "layer"):
        g = net222(level).graph
        lay = layout(g)
        fwd = [n for n in lay.nodes if g.node(n).role != "derivative"]
        der = [n for n in lay.nodes if g.node(n).role == "derivative"]
        assert max(lay.pos[n][1] for n in fwd) < lay.split < min(lay.pos[n][1] for n in der)
        assert {lay.panel(n) for n in fwd} == {"forward"} and {lay.panel(n) for n in der} == {"derivative"}
        rows = {}
        for d in der:
            of = g.node(d).of
            assert lay.pos[d][0] == lay.pos[of][0], d  # the same column
            rows.setdefault(lay.pos[d][0], []).append((lay.pos[of][1], lay.pos[d][1]))
        for pairs in rows.values():  # the same order within a column, one panel lower
            assert [b for _, b in sorted(pairs)] == sorted(b for _, b in pairs)
        for u, v in lay.edges:  # every derivative edge points left: the backward pass
            if g.node(u).role == "derivative":
                assert lay.pos[v][0] < lay.pos[u][0], (u, v)
    lay = layout(net222("layer").graph)
    col = {n: lay.pos[n][0] for n in lay.nodes}
    assert col["dC/da3"] > col["dC/dz3"] > col["dC/da2"] > col["dC/dz2"] > col["dC/dW2"]


def _crossings(lay, edges):
    """Edge crossings between neighbouring columns (straight segments between node centres)."""
    segs = [sorted((lay.pos[u], lay.pos[v])) for u, v in edges]  # (left end, right end)
    count = 0
    for i, (l1, r1) in enumerate(segs):
        for l2, r2 in segs[i + 1:]:
            if l1[0] == l2[0] and r1[0] == r2[0] == l1[0] + 1 and (l1[1] - l2[1]) * (r1[1] - r2[1]) < 0:
                count += 1
    return count


def test_only_derivative_edges_are_drawn_below_and_they_cross_no_more_than_forward_ones():
    net = net222()
    g = net.graph
    lay = layout(g)
    fwd_edges = [(u, v) for u, v in lay.edges if g.node(u).role != "derivative"]
    der_edges = [(u, v) for u, v in lay.edges if g.node(u).role == "derivative"]
    assert len(lay.edges) + len(lay.uses) == g.nx.number_of_edges()
    assert all(g.node(u).role != "derivative" and g.node(v).role == "derivative" for u, v in lay.uses)
    assert _crossings(lay, der_edges) <= _crossings(lay, fwd_edges)
    text = svg(net)
    root = parse(text)
    forward = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "sg-edges sg-forward")
    backward = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "sg-edges sg-derivative")
    assert len(forward.findall(f"{SVG}path")) == len(fwd_edges)
    assert len(backward.findall(f"{SVG}path")) == len(der_edges)
    assert "stroke-dasharray" not in text  # no dashed forward → derivative lines across the picture
    assert "<!-- derivative nodes (symbol-to-symbol backprop) -->" in text
    legend = " ".join(text_of(t) for t in root.iter(f"{SVG}text"))
    assert "those edges are not drawn" in legend and "Hover over a node for its formula" in legend


@needs("matplotlib")
def test_png_is_the_same_picture(tmp_path):
    for level in ("neuron", "layer"):
        net = net222(level)
        root = parse(svg(net))
        w, h = png_size(draw(net, tmp_path / f"{level}.png").read_bytes())
        assert w == 2 * int(root.get("width"))  # 200 dpi: twice the natural size
        assert 0 <= 2 * int(root.get("height")) - h <= 2 * 40  # less the SVG's line about hovering


def test_dot_mentions_every_node_and_edge_and_is_valid(tmp_path):
    net = net222("neuron")
    text = draw(net, tmp_path / "g.dot").read_text(encoding="utf-8")
    assert text.startswith('digraph "mlp 2-2-2"') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    for node in net.graph:
        assert f'"{node.name}" [label="{label(net.graph, node.name)}"' in text
    for u, v in net.graph.nx.edges:
        assert f'"{u}" -> "{v}"' in text
    assert "cluster_derivatives" in text and 'texlbl="$\\\\delta^{3}_{1}$"' in text
    assert text.count("->") == net.graph.nx.number_of_edges()
    assert text.count("constraint=false") == len(layout(net.graph).uses)
    if shutil.which("dot"):  # Graphviz, where installed, reads it
        subprocess.run(["dot", "-Tsvg", "-o", str(tmp_path / "g-dot.svg"), str(tmp_path / "g.dot")], check=True)


def test_repr_svg_and_the_network_display():
    net = net222("layer")
    s = net.graph._repr_svg_()
    assert s.startswith("<?xml") and parse(s).tag == f"{SVG}svg"
    assert net.graph._repr_svg_() == s  # deterministic output
    only_forward = parse(svg(net.graph, with_derivatives=False))
    assert set(node_groups(only_forward)) == {n.name for n in net.graph.nodes(
        ("input", "parameter", "target", "intermediate", "cost"))}


def test_svg_needs_no_matplotlib_and_png_says_which_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert draw(net222("layer"), tmp_path / "g.svg").stat().st_size > 2000
    with pytest.raises(UsageError, match=r"needs matplotlib: install symgrad\[plot\]"):
        draw(net222("layer"), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    assert net222("layer").graph._repr_svg_().startswith("<?xml")
    assert "digraph" in dot(net222("layer"))


@needs("matplotlib")
def test_cli_graph_png(tmp_path):
    out = tmp_path / "g.png"
    assert cli(["graph", "--sizes", "2,2,2", "--with-derivatives", "--out", str(out)]) == 0
    assert png_size(out.read_bytes())[0] > 1000


def test_cli_graph(tmp_path, capsys):
    for ext in ("svg", "dot"):
        out = tmp_path / f"g.{ext}"
        assert cli(["graph", "--sizes", "2,2,2", "--with-derivatives", "--out", str(out)]) == 0
        assert out.stat().st_size > 200
    assert cli(["graph", "--sizes", "2,3,2", "--level", "layer", "--out", str(tmp_path / "l.svg")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "2-2-2 sigmoid network, quadratic cost — neuron level, with derivatives" in out


@pytest.mark.parametrize("argv, culprit", [
    (["graph", "--out", "g.jpg"], "g.jpg"),
    (["graph", "--sizes", "784,30,10", "--out", "g.svg"], "--level layer"),
    (["graph", "--out", "no/such/folder/g.svg"], "no/such/folder"),
])
def test_cli_graph_user_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, culprit):
    monkeypatch.chdir(tmp_path)
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and culprit in err and "Traceback" not in err
