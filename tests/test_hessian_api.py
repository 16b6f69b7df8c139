"""sg.hessian: a numeric Hessian in one call, its order stated; compile finds the one cost; orientation; params copied."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgrad as sg
from symgrad.errors import CompileError, GraphError, UsageError
from symgrad.numeric import compile


def _data(m=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, m)), np.eye(2)[:, rng.integers(0, 2, m)]


def _theta(H, params):
    """The parameter vector in H's order, read off layer arrays."""
    out = []
    for name in H.names:
        kind, *idx = name[0], *name[1:].split("_")
        l, j = int(idx[0]), int(idx[1]) - 1
        out.append(params[f"W{l}"][j, int(idx[2]) - 1] if kind == "w" else params[f"b{l}"][j, 0])
    return np.array(out)


def _with(params, H, theta):
    q = {k: v.copy() for k, v in params.items()}
    for name, v in zip(H.names, theta):
        kind, *idx = name[0], *name[1:].split("_")
        l, j = int(idx[0]), int(idx[1]) - 1
        if kind == "w":
            q[f"W{l}"][j, int(idx[2]) - 1] = v
        else:
            q[f"b{l}"][j, 0] = v
    return q


@pytest.mark.parametrize("level", ["neuron", "layer"])
def test_hessian_equals_central_differences_of_the_gradient(level):
    net = sg.mlp([2, 2, 2], "tanh", "log_likelihood", level=level, seed=0)
    x, y = _data()
    H = sg.hessian(net, at={"x": x, "y": y})
    assert isinstance(H, np.ndarray) and H.shape == (12, 12)
    assert H.names[:3] == ("w2_1_1", "w2_1_2", "b2_1") and H.index("b3_2") == 11
    p = net.params()
    model = compile(sg.mlp([2, 2, 2], "tanh", "log_likelihood", level="layer", params=p))
    theta = _theta(H, p)

    def grad(t):
        _, g = model(_with(p, H, t), x, y)
        return _theta(H, g)

    h = 1e-6
    fd = np.array([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    np.testing.assert_allclose(H, fd, atol=1e-7)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_weight_decay_adds_2_lambda_once_per_batch():
    p = sg.mlp([2, 2, 2], level="layer", seed=1).params()
    x, y = _data(m=5, seed=1)
    plain = sg.hessian(sg.mlp([2, 2, 2], level="neuron", params=p), at={"x": x, "y": y})
    decayed = sg.hessian(sg.mlp([2, 2, 2], level="neuron", params=p, weight_decay=0.1), at={"x": x, "y": y})
    want = np.diag([0.2 if n.startswith("w") else 0.0 for n in plain.names])
    np.testing.assert_allclose(decayed - plain, want, atol=1e-12)


def test_rows_are_taken_when_unambiguous_and_parameters_from_at():
    net = sg.mlp([2, 3, 2], level="neuron", seed=2)
    x, y = _data(m=5, seed=2)
    H = sg.hessian(net, at={"x": x, "y": y})
    np.testing.assert_array_equal(sg.hessian(net, at={"x": x.T, "y": y.T}), H)
    other = sg.mlp([2, 3, 2], level="layer", seed=3).params()
    moved = sg.hessian(net, at={"x": x, "y": y, **other})
    want = sg.hessian(sg.mlp([2, 3, 2], level="neuron", params=other), at={"x": x, "y": y})
    np.testing.assert_allclose(moved, want, rtol=1e-12)
    with pytest.raises(UsageError) as e:
        sg.hessian(net, at={"x": np.ones((3, 5)), "y": y})
    assert "one example per column" in str(e.value)
    with pytest.raises(UsageError) as e:
        sg.hessian(net, at={"y": y})
    assert "x1" in str(e.value) and "give x and y" in str(e.value)


def test_hessian_of_a_graph_and_its_cost_found_whatever_its_name():
    u, v = sp.symbols("u v", real=True)
    g = sg.Graph.from_expr(sp.sin(u) * v**2, name="loss")
    H = sg.hessian(g, at={"u": 0.3, "v": 2.0})
    want = sp.hessian(sp.sin(u) * v**2, (u, v)).subs({u: 0.3, v: 2.0})
    np.testing.assert_allclose(H, np.array(want, dtype=float), rtol=1e-12)
    assert H.names == ("u", "v")
    C, grads = compile(g)({"u": 0.3, "v": 2.0})  # compile(g) finds the cost 'loss'
    assert np.isclose(C, np.sin(0.3) * 4) and np.isclose(grads["v"], np.sin(0.3) * 4)


def test_several_or_no_cost_nodes_are_refused_by_name():
    g = sg.Graph()
    w = g.parameter("w")
    g.add("C1", w**2, role="cost")
    g.add("C2", w**3, role="cost")
    with pytest.raises(CompileError) as e:
        compile(g)
    assert "'C1', 'C2'" in str(e.value) and "cost=" in str(e.value)
    assert compile(g, cost="C2")({"w": 2.0})[0] == 8.0
    with pytest.raises(GraphError):
        sg.hessian(g, at={"w": 1.0})
    h = sg.Graph()
    h.add("u", h.parameter("w") * 2)
    with pytest.raises(CompileError) as e:
        compile(h)
    assert "no cost node" in str(e.value)


def test_a_matrix_parameter_is_refused_saying_how():
    g = sg.Graph()
    W = g.parameter("W", (2, 2))
    g.add("C", sp.Trace(W.T * W), role="cost")
    with pytest.raises(GraphError) as e:
        sg.hessian(g, at={"W": np.eye(2)})
    assert "'W' is a 2×2 matrix" in str(e.value) and "level='layer'" in str(e.value)


def test_compiled_calls_take_columns_and_rows_when_unambiguous():
    p = sg.mlp([3, 2, 2], level="layer", seed=0).params()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 5)), rng.uniform(size=(2, 5))
    for level in ("layer", "neuron"):
        model = compile(sg.mlp([3, 2, 2], level=level, params=p))
        C, g = model(p, x, y)
        C2, g2 = model(p, x.T, y.T)
        assert C == C2 and all(np.array_equal(g[k], g2[k]) for k in g)
        with pytest.raises(UsageError) as e:
            model(p, np.ones((4, 5)), y)
        assert "one example per column" in str(e.value)


def test_mlp_copies_the_callers_arrays():
    p = sg.mlp([2, 2], level="layer", seed=0).params()
    keep = {k: v.copy() for k, v in p.items()}
    for level in ("layer", "neuron"):
        net = sg.mlp([2, 2], level=level, params=p)
        p["W2"][0, 0] += 1.0
        np.testing.assert_array_equal(net.params()["W2"], keep["W2"])
        net.params()["W2"][0, 0] = 99.0  # a copy as well
        np.testing.assert_array_equal(net.params()["W2"], keep["W2"])
        p["W2"][0, 0] = keep["W2"][0, 0]


def test_top_level_exports():
    assert sg.hessian is sg.numeric.hessian.hessian
    assert sg.hessian_nodes is sg.core.hessian_nodes


def test_train_given_columns_says_to_pass_rows():
    from symgrad.numeric import train

    net = sg.mlp([2, 3, 2], level="layer", seed=0)
    X = np.random.default_rng(0).standard_normal((2, 20))  # 20 examples as columns
    with pytest.raises(UsageError) as e:
        train(net, X, np.zeros(20, dtype=int), epochs=1, progress=False)
    assert "one example per row" in str(e.value) and "X.T" in str(e.value)
