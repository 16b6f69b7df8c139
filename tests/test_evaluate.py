"""Graph.evaluate: the batch size m bound from the values, every head a graph holds, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct

from symgrad import Graph, GraphError, backprop, log_softmax, mlp, sigmoid, softmax
from symgrad.numeric import compile


def _batch(n_in, n_out, m, seed=0, classes=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_in, m))
    y = np.eye(n_out)[:, rng.integers(0, n_out, m)] if classes else rng.uniform(0.1, 0.9, (n_out, m))
    return x, y


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "log_likelihood"])
def test_default_batch_symbol_is_bound_from_the_arrays(cost):
    """The issue's case: the symbol m (default batch) made evaluate raise TypeError."""
    net = mlp([2, 2, 2], "sigmoid", cost, level="layer", seed=0)
    net.backprop()
    x, y = _batch(2, 2, 3, classes=cost == "log_likelihood")
    names = ["C", "dC/dW2", "dC/db2", "dC/dW3", "dC/db3"]
    got = net.graph.evaluate({"x": x, "y": y}, names=names)
    C, grads = compile(net)(net.params(), x, y)
    assert np.isclose(got["C"], C, rtol=1e-12)
    for p, g in grads.items():
        assert got[f"dC/d{p}"].shape == g.shape
        np.testing.assert_allclose(got[f"dC/d{p}"], g, rtol=1e-10, atol=1e-14)
    fixed = mlp([2, 2, 2], "sigmoid", cost, level="layer", batch=3, seed=0)
    fixed.backprop()
    np.testing.assert_allclose(fixed.graph.evaluate({"x": x, "y": y}, names=["dC/dW2"])["dC/dW2"], got["dC/dW2"])


def test_the_leaves_keep_their_values_and_m_may_change_between_calls():
    net = mlp([2, 3, 1], level="layer", seed=1)
    net.backprop()
    for m in (1, 4):
        x, y = _batch(2, 1, m, seed=m)
        out = net.graph.evaluate({"x": x, "y": y})
        np.testing.assert_array_equal(out["x"], x)  # x still matches its MatrixSymbol(2, m)
        assert out["a3"].shape == (1, m) and out["dC/dz2"].shape == (3, m)


def test_values_that_disagree_about_m_are_named():
    net = mlp([2, 2, 2], level="layer", seed=0)
    with pytest.raises(GraphError) as e:
        net.graph.evaluate({"x": np.ones((2, 3)), "y": np.ones((2, 4))}, names=["C"])
    msg = str(e.value)
    assert "'y'" in msg and "'x'" in msg and "m = 3" in msg and "\n" not in msg


def test_softmax_network_cost_evaluates():
    """Trace(yᵀ log_softmax(z)) used to stay unevaluated (TypeError)."""
    net = mlp([2, 2, 2], "sigmoid", "log_likelihood", level="layer", batch=1, seed=0)
    x, y = np.array([[0.3], [-1.2]]), np.array([[0.0], [1.0]])
    out = net.graph.evaluate({"x": x, "y": y}, names=["C", "z3"])
    z = out["z3"][:, 0]
    want = -(z[1] - np.log(np.exp(z).sum()))
    assert np.isclose(out["C"], want, rtol=1e-12)


def test_every_matrix_head_evaluates():
    """Trace, 1, I, 0, ⊙, ∘k, ᵀ, f elementwise (a head and a Lambda), softmax, ln softmax, powers, inverse, entries."""
    g = Graph("heads")
    A = g.input("A", (2, 2))
    X = g.input("X", (2, sp.Symbol("n", integer=True, positive=True)))
    n = X.shape[1]
    t = sp.Dummy("t")
    g.add("H", HadamardProduct(A, A.T) + HadamardPower(A, 2) + sp.Identity(2) + sp.ZeroMatrix(2, 2))
    g.add("S", softmax(X) + log_softmax(X) * sp.OneMatrix(n, n))
    g.add("E", ElementwiseApplyFunction(sigmoid, X) + ElementwiseApplyFunction(sp.Lambda(t, t**3), X))
    g.add("P", A**2 + sp.Inverse(A))
    g.add("T", sp.Trace(A * A.T) + A[0, 1])
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    x = np.array([[0.1, -2.0, 0.7], [1.5, 0.2, -0.3]])
    out = g.evaluate({"A": a, "X": x})
    np.testing.assert_allclose(out["H"], a * a.T + a**2 + np.eye(2), rtol=1e-14)
    sm = np.exp(x) / np.exp(x).sum(axis=0)
    np.testing.assert_allclose(out["S"], sm + np.log(sm) @ np.ones((3, 3)), rtol=1e-12)
    np.testing.assert_allclose(out["E"], 1 / (1 + np.exp(-x)) + x**3, rtol=1e-12)
    np.testing.assert_allclose(out["P"], a @ a + np.linalg.inv(a), rtol=1e-12)
    assert np.isclose(out["T"], np.trace(a @ a.T) + a[0, 1], rtol=1e-14)


def test_second_derivatives_of_a_softmax_network_evaluate():
    net = mlp([2, 2, 2], "tanh", "log_likelihood", level="layer", seed=3)
    net.backprop()
    x, y = _batch(2, 2, 2, seed=3, classes=True)
    grads = net.graph.evaluate({"x": x, "y": y}, names=["dC/dW3"])["dC/dW3"]
    _, want = compile(net)(net.params(), x, y)
    np.testing.assert_allclose(grads, want["W3"], rtol=1e-10)


def _one_line(e):
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_an_undefined_function_is_named_with_what_to_do():
    f = sp.Function("f")
    g = Graph()
    w = g.parameter("w", value=0.5)
    g.add("u", f(w))
    g.add("C", g["u"] ** 2, role="cost")
    with pytest.raises(GraphError) as e:
        g.evaluate(names=["C"])
    msg = _one_line(e)
    assert "node 'u'" in msg and "undefined function f" in msg and "define f" in msg


def test_a_free_symbol_is_named_with_what_to_do():
    t, k = sp.Dummy("t"), sp.Symbol("k")
    g = Graph()
    X = g.input("X", (2, 1), value=np.ones((2, 1)))
    g.add("Y", ElementwiseApplyFunction(sp.Lambda(t, k * t), X))  # k is in the function's body, not a node
    with pytest.raises(GraphError) as e:
        g.evaluate()
    msg = _one_line(e)
    assert "node 'Y'" in msg and "ElementwiseApplyFunction" in msg and "symbol k" in msg and "give k a number" in msg


def test_a_bad_value_is_named():
    net = mlp([2, 2], level="layer", seed=0)
    with pytest.raises(GraphError) as e:
        net.graph.evaluate({"x": np.ones((3, 2)), "y": np.ones((2, 2))}, names=["C"])
    assert "node 'x'" in _one_line(e) and "2×m" in str(e.value)
    g = Graph()
    w = g.parameter("w", value=-1.0)
    g.add("C", sp.log(w), role="cost")
    with pytest.raises(GraphError) as e:
        g.evaluate()
    msg = _one_line(e)
    assert "node 'C'" in msg and "log" in msg and "not a real number" in msg


def test_a_piecewise_cost_evaluates():
    g = Graph()
    w = g.parameter("w")
    g.add("C", sp.Piecewise((w**2, w > 0), (-w, True)), role="cost")
    assert g.evaluate({"w": 3.0})["C"] == 9.0
    assert g.evaluate({"w": -2.0})["C"] == 2.0


def test_backprop_second_pass_graph_evaluates():
    w, x = sp.symbols("w x", real=True)
    g = Graph.from_expr(sp.exp(w * x) * sp.sin(w), parameters=[w])
    d = backprop(g, "C")["w"]
    dd = backprop(g, d, ["w"])["w"]
    out = g.evaluate({"w": 0.4, "x": 1.7}, names=[dd])
    want = sp.diff(sp.exp(w * x) * sp.sin(w), w, 2).subs({w: 0.4, x: 1.7})
    assert np.isclose(out[dd], float(want), rtol=1e-12)
