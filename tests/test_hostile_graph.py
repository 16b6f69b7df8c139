"""Hostile input to the graph core (issue 6, part 2): every mistake is a GraphError
(a UsageError) whose message names the node, shape or edge at fault; no text is
ever parsed as code; a refused operation leaves the graph as it was."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from symgrad import Graph, GraphError, backprop
from symgrad.errors import UsageError


def chain() -> Graph:
    g = Graph("chain")
    x = g.input("x")
    w = g.parameter("w")
    y = g.add("y", w * x)
    g.add("C", (y - 1) ** 2, role="cost")
    return g


def snapshot(g: Graph) -> tuple:
    return (sorted(g.nx.nodes), sorted(g.nx.edges), dict(g.symbols))


def test_graph_error_is_a_usage_error():
    assert issubclass(GraphError, UsageError)


# ------------------------------------------------------------------- cycles
def test_check_finds_a_cycle_made_by_editing_networkx():
    g = chain()
    g.nx.add_edge("C", "y")  # behind the Graph's back
    with pytest.raises(GraphError, match=r"cycle through node '(y|C)'"):
        g.check()


def test_check_finds_edges_that_do_not_match_the_expression():
    g = chain()
    g.nx.remove_edge("w", "y")
    with pytest.raises(GraphError, match="node 'y': edges do not match"):
        g.check()
    g = chain()
    g.nx.add_edge("x", "C")
    with pytest.raises(GraphError, match="node 'C': edges do not match"):
        g.check()


def test_add_edge_checked_refuses_a_cycle_and_leaves_the_graph_alone():
    g = chain()
    before = snapshot(g)
    with pytest.raises(GraphError, match="'C' -> 'x' would make a cycle"):
        g.add_edge_checked("C", "x")
    with pytest.raises(GraphError, match="'y' -> 'y' would make a cycle"):
        g.add_edge_checked("y", "y")
    assert snapshot(g) == before
    g.check()


def test_add_edge_checked_names_an_unknown_node():
    g = chain()
    before = snapshot(g)
    with pytest.raises(GraphError, match="unknown node 'ghost'"):
        g.add_edge_checked("x", "ghost")
    with pytest.raises(GraphError, match="unknown node 'ghost'"):
        g.add_edge_checked("ghost", "x")
    assert snapshot(g) == before


def test_self_reference_is_refused():
    g = Graph()
    g.input("x")
    with pytest.raises(GraphError, match="'x'"):
        g.add("x", g["x"] + 1)  # duplicate name and self-dependency


# ------------------------------------------------------ unknown / duplicates
def test_unknown_node_names_the_node_and_the_graph():
    g = chain()
    with pytest.raises(GraphError, match="unknown node 'nope' in graph 'chain'"):
        g.node("nope")
    with pytest.raises(GraphError, match="unknown node 'nope'"):
        g.op("z", sp.exp, "nope")
    with pytest.raises(GraphError, match="unknown node 'nope'"):
        g.matmul("z", "nope", "x")
    with pytest.raises(GraphError, match="unknown node 'nope'"):
        g.parents("nope")
    with pytest.raises(GraphError, match="symbol q is not a node"):
        g.node(sp.Symbol("q"))


def test_expression_using_a_foreign_symbol_names_it():
    g = chain()
    before = snapshot(g)
    with pytest.raises(GraphError, match="node 'z': expression uses q"):
        g.add("z", sp.Symbol("q", real=True) * g["x"])
    with pytest.raises(GraphError, match="node 'Z': expression uses M"):
        g.add("Z", sp.MatrixSymbol("M", 2, 2) * 2)
    assert snapshot(g) == before


@pytest.mark.parametrize("maker", ["input", "parameter", "target", "add"])
def test_duplicate_names_are_refused(maker):
    g = chain()
    before = snapshot(g)
    with pytest.raises(GraphError, match="duplicate node name 'y' in graph 'chain'"):
        if maker == "add":
            g.add("y", g["x"] + 1)
        else:
            getattr(g, maker)("y")
    assert snapshot(g) == before


def test_a_symbol_cannot_stand_for_two_nodes():
    g = chain()
    with pytest.raises(GraphError, match="node 'y2': symbol y already stands for node 'y'"):
        g.add("y2", g["x"] + 2, symbol=g["y"])


@pytest.mark.parametrize("name", ["", 3, None, ("a",)])
def test_bad_node_names(name):
    g = Graph()
    with pytest.raises(GraphError, match="non-empty strings"):
        g.input(name)
    g.input("x")
    with pytest.raises(GraphError, match="non-empty strings"):
        g.add(name, g["x"] + 1)


def test_bad_roles():
    g = chain()
    with pytest.raises(GraphError, match="node 'z': a computed node cannot have role 'parameter'"):
        g.add("z", g["x"] + 1, role="parameter")
    with pytest.raises(GraphError, match="node 'z': unknown role 'bogus'"):
        g.add("z", g["x"] + 1, role="bogus")


@pytest.mark.parametrize("shape", [(2,), (2, 3, 4), (-1, 2), (0, 2), ("2", 2), "2x2", 5, (True, 2)])
def test_bad_shapes_name_the_node(shape):
    g = Graph()
    with pytest.raises(GraphError, match=r"node 'W': shape must be"):
        g.parameter("W", shape)
    assert "W" not in g


# ---------------------------------------------------------- shape mismatches
def test_matmul_mismatch_names_both_nodes_and_shapes():
    g = Graph()
    g.parameter("W2", (3, 2))
    g.input("a1", (3, 4))
    g.input("s")
    with pytest.raises(GraphError, match=r"node 'z2': cannot multiply W2 \(3×2\) by a1 \(3×4\)"):
        g.matmul("z2", "W2", "a1")
    with pytest.raises(GraphError, match=r"node 'z3': cannot multiply W2 \(3×2\) by s \(scalar\)"):
        g.matmul("z3", "W2", "s")
    assert "z2" not in g and "z3" not in g


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a * b,
        lambda a, b: a + b,
        lambda a, b: sp.HadamardProduct(a, b),
        lambda a, b: sp.Trace(a) + sp.Trace(b),
    ],
    ids=["matmul", "matadd", "hadamard", "trace"],
)
def test_op_shape_mismatch_names_both_nodes_and_shapes(fn):
    g = Graph()
    g.parameter("A", (2, 3))
    g.parameter("B", (2, 2))
    with pytest.raises(GraphError, match=r"node 'Z': shapes do not fit: A \(2×3\), B \(2×2\)"):
        g.op("Z", fn, "A", "B")
    assert "Z" not in g


def test_op_index_out_of_range_names_node_and_shape():
    g = Graph()
    g.parameter("A", (2, 3))
    with pytest.raises(GraphError, match=r"node 'e': shapes do not fit: A \(2×3\)"):
        g.op("e", lambda a: a[5, 0], "A")


def test_declared_symbol_of_the_wrong_shape():
    g = Graph()
    A = g.parameter("A", (2, 3))
    with pytest.raises(GraphError, match="node 'Z': its expression has shape 2×3 but the node was declared 3×3"):
        g.add("Z", 2 * A, symbol=sp.MatrixSymbol("Z", 3, 3))


# ------------------------------------------------------------------ backprop
def test_non_scalar_cost_is_refused():
    g = Graph()
    W = g.parameter("W", (2, 2))
    g.add("C", W * W.T, role="cost")
    with pytest.raises(GraphError, match=r"cost 'C' has shape \(2, 2\); backprop needs a scalar"):
        backprop(g, "C")
    assert not g.nodes("derivative")


def test_one_by_one_matrix_cost_is_accepted():
    g = Graph()
    w = g.parameter("w", (2, 1))
    g.add("C", w.T * w, role="cost")
    grads = backprop(g, "C")
    out = g.evaluate({"w": np.array([[1.0], [2.0]])}, names=[grads["w"]])
    np.testing.assert_allclose(out[grads["w"]], [[2.0], [4.0]])


def test_wrt_not_reaching_the_cost_names_both():
    g = chain()
    g.parameter("v")
    g.add("u", 2 * g["v"])
    with pytest.raises(GraphError, match="node 'v' does not reach cost 'C'"):
        backprop(g, "C", ["w", "v"])
    assert not g.nodes("derivative")  # nothing half-added


def test_backprop_unknown_cost_or_wrt():
    g = chain()
    with pytest.raises(GraphError, match="unknown node 'nope'"):
        backprop(g, "nope")
    with pytest.raises(GraphError, match="unknown node 'nope'"):
        backprop(g, "C", ["nope"])


class Frob(MatrixExpr):
    """A custom matrix head that the rule table does not know."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def shape(self):
        return self.args[0].shape


def test_head_without_a_rule_names_the_node_and_the_head():
    g = Graph()
    W = g.parameter("W", (2, 2))
    g.add("F", Frob(W))
    g.add("C", sp.Trace(g["F"]), role="cost")
    with pytest.raises(GraphError, match="node 'F': no differentiation rule for Frob"):
        backprop(g, "C")


def test_matpow_with_a_symbolic_exponent_is_named():
    g = Graph()
    W = g.parameter("W", (2, 2))
    k = g.parameter("k")
    g.add("P", sp.MatPow(W, k))
    g.add("C", sp.Trace(g["P"]), role="cost")
    with pytest.raises(GraphError, match="node 'P': MatPow: only whole-number powers"):
        backprop(g, "C", ["W"])


def test_second_backprop_after_a_failure_still_works():
    g = chain()
    g.parameter("v")
    with pytest.raises(GraphError):
        backprop(g, "C", ["v"])
    assert backprop(g, "C", ["w"]) == {"w": "dC/dw"}
    g.check()


# --------------------------------------------------------- text is not code
CANARY = "__import__('builtins').setattr(__import__('builtins'), 'SYMGRAD_PWNED', 1)"


@pytest.mark.parametrize(
    "payload",
    [
        "x + 1",
        CANARY,
        b"x + 1",
        np.str_(CANARY),
        np.array([CANARY]),
        (CANARY,),  # sympify(strict=True) parses strings inside a tuple ...
        [CANARY],
        {CANARY: 1},  # ... and inside a dict
        {"x"},
        None,
        True,
        object(),
    ],
    ids=lambda p: type(p).__name__,
)
def test_text_and_non_expressions_are_refused_unparsed(payload):
    import builtins

    g = Graph()
    g.input("x")
    before = snapshot(g)
    with pytest.raises(GraphError, match="node 'n': not a SymPy expression"):
        g.add("n", payload)
    assert not hasattr(builtins, "SYMGRAD_PWNED"), "user text was executed"
    assert snapshot(g) == before


def test_from_expr_refuses_text():
    import builtins

    with pytest.raises(GraphError, match="text is never parsed"):
        Graph.from_expr(CANARY)
    assert not hasattr(builtins, "SYMGRAD_PWNED")


@pytest.mark.parametrize("make", [lambda x: sp.Eq(x, 1), lambda x: x > 1, lambda x: sp.Tuple(x, x)], ids=["Eq", "Gt", "Tuple"])
def test_non_expressions_are_refused(make):
    g = Graph()
    x = g.input("x")
    with pytest.raises(GraphError, match="node 'n': .* is not a scalar or matrix expression"):
        g.add("n", make(x))


@pytest.mark.parametrize("make", [lambda x: x / 0, lambda x: x * sp.oo, lambda x: sp.nan + x, lambda x: float("inf")])
def test_nan_and_infinity_are_refused(make):
    g = Graph()
    x = g.input("x")
    with pytest.raises(GraphError, match="node 'n': the expression contains NaN or an infinity"):
        g.add("n", make(x))


def test_numbers_and_sympy_expressions_are_accepted():
    g = Graph()
    x = g.input("x")
    for i, value in enumerate([2, 2.5, np.float64(0.5), np.int64(3), sp.Rational(1, 3)]):
        g.add(f"c{i}", value)
    g.add("y", sp.exp(x) + 1)
    g.add("M", sp.Matrix([[x, 1]]))
    assert g.node("M").shape == (1, 2)
    g.check()
