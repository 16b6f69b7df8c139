"""The foundation: graphs, the rule table and the backprop pass."""

import pytest
import sympy as sp

from symgrad import Graph, GraphError, backprop, expand, mlp, sigmoid


def small_graph():
    g = Graph()
    x = g.input("x", value=1.5)
    w = g.parameter("w", value=0.5)
    y = g.add("y", sigmoid(w * x))
    g.add("C", (y - 1) ** 2 / 2, role="cost")
    return g


def test_edges_are_symbol_dependencies():
    g = small_graph()
    assert set(g.nx.edges) == {("x", "y"), ("w", "y"), ("y", "C")}


def test_backprop_adds_derivative_nodes_by_symbol():
    g = small_graph()
    grads = backprop(g, "C")
    assert grads == {"w": "dC/dw"}
    d = g.node("dC/dw")
    # refers to dC/dy by its symbol, not inlined
    assert g["dC/dy"] in d.expr.free_symbols
    assert ("dC/dy", "dC/dw") in g.nx.edges
    assert sp.simplify((expand(g, "dC/dw") - expand(g, "C").diff(g["w"])).rewrite(sp.exp)) == 0


def test_unknown_symbol_and_duplicate_are_named():
    g = Graph()
    g.input("x")
    with pytest.raises(GraphError, match="'x'"):
        g.input("x")
    with pytest.raises(GraphError, match="node 'z'.*q"):
        g.add("z", sp.Symbol("q") + g["x"])


def test_from_expr_shares_repeated_subexpression():
    w = sp.Symbol("w")
    f = sp.exp
    g = Graph.from_expr(f(f(f(w))), "z")
    assert len(g.nodes("intermediate")) == 2
    backprop(g, "z")
    assert len(g.nodes("derivative")) == 3


def test_unreachable_wrt_is_an_error():
    g = small_graph()
    g.parameter("unused")
    with pytest.raises(GraphError, match="unused"):
        backprop(g, "C", ["unused"])


def test_second_call_reuses_nodes():
    g = small_graph()
    first = backprop(g, "C")
    n = len(g)
    assert backprop(g, "C") == first
    assert len(g) == n


def test_layer_level_shapes_and_bp_equations():
    net = mlp([2, 3, 2], level="layer")
    net.backprop()
    g = net.graph
    assert g.node("dC/dW3").shape == (2, 3)
    assert g.node("dC/dz3").tex == r"\delta^{3}"
    assert g.node("dC/dW3").expr == g["dC/dz3"] * g["a2"].T
