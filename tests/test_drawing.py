"""Graph pictures: real .svg, .png and .dot files, checked."""

import struct
import sys
import xml.etree.ElementTree as ET

import pytest

import symgrad as sg
from symgrad.cli import main as cli
from symgrad.errors import UsageError
from symgrad.printing.drawing import dot, draw, layout, svg

SVG = "{http://www.w3.org/2000/svg}"


def net222(level="neuron"):
    net = sg.mlp([2, 2, 2], level=level)
    net.backprop()
    return net


def titles(svg_text):
    root = ET.fromstring(svg_text.encode())
    return [t.text for t in root.iter(f"{SVG}title")]


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("level", ["neuron", "layer"])
def test_svg_has_every_node_with_role_and_label(tmp_path, level):
    net = net222(level)
    path = draw(net, tmp_path / "g.svg")
    text = path.read_text()
    found = titles(text)
    assert len(found) == len(net.graph)
    for node in net.graph:
        entry = next(t for t in found if t.startswith(f"{node.name} ("))
        assert f"({node.role})" in entry
        assert node.tex in entry
    roles = {t.split("(")[1].split(")")[0] for t in found}
    assert roles == {"input", "parameter", "target", "intermediate", "cost", "derivative"}
    assert "<!-- derivative nodes (symbol-to-symbol backprop) -->" in text  # the right-hand half's heading
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temporary left


def test_derivative_nodes_are_drawn_apart_and_mirrored():
    net = net222("neuron")
    lay = layout(net.graph)
    g = net.graph
    fwd = [n for n in lay.nodes if g.node(n).role != "derivative"]
    der = [n for n in lay.nodes if g.node(n).role == "derivative"]
    assert max(lay.pos[n][0] for n in fwd) < lay.split < min(lay.pos[n][0] for n in der)
    # ∂C/∂u mirrors u: a later forward node has an earlier derivative column.
    assert lay.pos["dC/da3_1"][0] < lay.pos["dC/dz3_1"][0] < lay.pos["dC/dz2_1"][0] < lay.pos["dC/dw2_1_1"][0]
    # every edge between derivative nodes points right
    for u, v in lay.edges:
        if g.node(u).role == g.node(v).role == "derivative":
            assert lay.pos[u][0] < lay.pos[v][0]
    # without derivatives only the forward graph is laid out
    assert set(layout(g, with_derivatives=False).nodes) == set(fwd)


@pytest.mark.parametrize("level", ["neuron", "layer"])
def test_png_is_a_real_picture(tmp_path, level):
    path = draw(net222(level), tmp_path / "g.png")
    w, h = png_size(path.read_bytes())
    assert 600 <= w <= 6000 and 300 <= h <= 4000
    assert w > h  # forward and derivative halves side by side


def test_dot_mentions_every_node_and_edge(tmp_path):
    net = net222("neuron")
    text = draw(net, tmp_path / "g.dot").read_text()
    assert text.startswith('digraph "mlp 2-2-2"') and text.rstrip().endswith("}")
    for node in net.graph:
        assert f'"{node.name}" [label=' in text
    for u, v in net.graph.nx.edges:
        assert f'"{u}" -> "{v}"' in text
    assert "cluster_derivatives" in text and 'texlbl="$\\\\delta^{3}_{1}$"' in text
    assert text.count("->") == net.graph.nx.number_of_edges()


def test_repr_svg_hooks():
    net = net222("layer")
    s = net._repr_svg_()
    assert s.lstrip().startswith("<?xml") and "<svg" in s
    assert net.graph._repr_svg_() == s  # deterministic output
    assert len(titles(svg(net.graph, with_derivatives=False))) == len(net.graph.nodes(
        ("input", "parameter", "target", "intermediate", "cost")))


def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"install symgrad\[plot\]"):
        draw(net222("layer"), tmp_path / "g.png")
    assert net222("layer")._repr_svg_() is None  # a notebook falls back to the text form
    assert "digraph" in dot(net222("layer"))  # .dot needs no matplotlib


def test_cli_graph(tmp_path, capsys):
    for ext in ("svg", "png", "dot"):
        out = tmp_path / f"g.{ext}"
        assert cli(["graph", "--sizes", "2,2,2", "--with-derivatives", "--out", str(out)]) == 0
        assert out.stat().st_size > 200
    assert cli(["graph", "--sizes", "2,3,2", "--level", "layer", "--out", str(tmp_path / "l.svg")]) == 0
    assert "wrote" in capsys.readouterr().out


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
