"""The layer library (symgrad.layers): every layer's backprop equals central differences, and, at small
sizes, sympy.diff of the expanded cost; random stacks of layers (hypothesis); backprop with respect to
the input; the builder's errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgrad.core.functions import ColumnwiseMatrixFunction, gelu, gelu_prime, silu, silu_prime
from symgrad.derivation.verify import central_difference, decide_zero
from symgrad.errors import GraphError, UsageError
from symgrad.layers import ELEMENTWISE, block_mask, layer, mean_pool_matrix, sequential
from symgrad.numeric.compile import compile_graph


def _values(model, rng, m):
    g = model.graph
    vals = {p: np.array(g.node(p).value, dtype=float) for p in model.parameters}
    for p in model.parameters:  # gains away from 1 and biases away from 0: every term of the rule counts
        if g.node(p).meta.get("init") in ("ones", "zeros"):
            vals[p] = vals[p] + 0.3 * rng.standard_normal(vals[p].shape)
    vals.update(model.constants)
    d = int(g.node("x").shape[0])
    vals["x"] = rng.standard_normal((d, m))
    y_shape = tuple(int(s) for s in g.node("y").shape)
    Y = rng.uniform(0.05, 1.0, y_shape)
    vals["y"] = Y / Y.sum(axis=0, keepdims=True)
    for n in g.nodes("input"):  # dropout masks
        if n.kind == "mask" and n.name not in vals:
            vals[n.name] = rng.choice([0.0, 2.0], size=tuple(int(s) for s in n.shape))
    return vals


def gradient_error(model, m, wrt=None, seed=0):
    """The worst relative error of ∂C/∂u (compiled) against a central difference of the compiled cost
    (Ridders' extrapolation, as `verify_graph` uses)."""
    g = model.graph
    wrt = list(model.parameters) + ["x"] if wrt is None else wrt
    table = model.backprop(wrt)
    fn = compile_graph(g, outputs=[model.cost] + [table[w] for w in wrt])
    vals = _values(model, np.random.default_rng(seed), m)
    out = fn.evaluate(vals)

    def cost(name, arr):
        return float(fn.evaluate({**vals, name: arr})[model.cost])

    worst = 0.0
    for w in wrt:
        A, G = vals[w], out[table[w]]
        flat = A.reshape(-1).copy()
        num = np.array([central_difference(lambda v, w=w, shape=A.shape: cost(w, v.reshape(shape)), flat, i,
                                           min(1e-2, 0.1 * max(abs(float(flat[i])), 1e-3)))
                        for i in range(flat.size)]).reshape(A.shape)
        worst = max(worst, float(np.max(np.abs(num - G)) / max(1e-6, float(np.max(np.abs(num))))))
    return worst


B, T = 2, 3
ONE_LAYER = {
    "dense": lambda: sequential(3, layer.dense(4), batch=2),
    **{f"activation {f}": (lambda f=f: sequential(3, layer.dense(3), layer.activation(f), cost="quadratic",
                                                  batch=2)) for f in ELEMENTWISE},
    "softmax": lambda: sequential(3, layer.dense(3), layer.softmax(), cost="quadratic", batch=2),
    "layer norm": lambda: sequential(3, layer.layer_norm(), layer.dense(2), batch=2),
    "rms norm": lambda: sequential(3, layer.rms_norm(), layer.dense(2), batch=2),
    "rms norm with bias": lambda: sequential(3, layer.rms_norm(bias=True), layer.dense(2), batch=2),
    "residual": lambda: sequential(3, layer.residual(layer.dense(3), layer.activation("tanh")), batch=2),
    "swiglu": lambda: sequential(3, layer.swiglu(4, 2), batch=2),
    "dropout": lambda: sequential(3, layer.dense(3), layer.dropout(), batch=2),
    "attention": lambda: sequential(3, layer.attention(2), batch=3),
    "attention, 2 sequences": lambda: sequential(3, layer.attention(2, sequences=B), layer.mean_pool(B),
                                                 batch=B * T),
    "attention, causal": lambda: sequential(3, layer.attention(2, causal=True), batch=3),
}


@pytest.mark.parametrize("name", list(ONE_LAYER))
def test_each_layer_backprop_equals_central_differences(name):
    model = ONE_LAYER[name]()
    m = int(model.graph.node("x").shape[1])
    assert gradient_error(model, m) < 1e-6


def test_one_block_network_backprop_equals_central_differences():
    model = sequential(4, layer.residual(layer.rms_norm(), layer.attention(3, sequences=B)),
                       layer.swiglu(5, 3), layer.mean_pool(B), batch=B * T, seed=1)
    assert gradient_error(model, B * T) < 1e-6


# ------------------------------------------------------------------ exact
def explicit_values(g, names):
    """Every node's entries in the leaves' entries (symbols x_0_1, W2_1_0, ...), node by node."""
    subs = {}
    out = {}
    for name in g.upstream(names):
        node = g.node(name)
        if node.expr is None:
            v = (sp.ImmutableMatrix(*node.shape, lambda i, j, name=name: sp.Symbol(f"{name}_{i}_{j}", real=True))
                 if node.is_matrix else node.symbol)
        else:
            e = node.expr.replace(lambda e: isinstance(e, sp.OneMatrix), lambda e: sp.ImmutableMatrix.ones(*e.shape))
            v = e.xreplace(subs).replace(
                lambda e: isinstance(e, ColumnwiseMatrixFunction) and isinstance(e.arg, sp.MatrixBase),
                lambda e: sp.ImmutableMatrix(e.as_explicit())).doit()
            v = sp.ImmutableMatrix(v.as_explicit()) if node.is_matrix else sp.sympify(v)
            if isinstance(v, sp.MatrixBase) and not node.is_matrix:
                v = v[0, 0]
        subs[node.symbol] = v
        out[name] = v if node.is_matrix else sp.ImmutableMatrix([[v]])
    return out


EXACT = {
    "dense+sigmoid": lambda: sequential(2, layer.dense(2), layer.activation("sigmoid"), cost="quadratic", batch=2),
    "dense+silu": lambda: sequential(2, layer.dense(2), layer.activation("silu"), cost="quadratic", batch=1),
    "rms norm": lambda: sequential(2, layer.rms_norm(bias=True), cost="quadratic", batch=2),
    "layer norm": lambda: sequential(2, layer.layer_norm(), cost="quadratic", batch=1),
    "swiglu": lambda: sequential(2, layer.swiglu(2, 2), batch=1),
}
# softmax under a quadratic cost and the attention head are left to the numeric check: their exact
# proofs took 6 s and 6 min at the smallest sizes.


@pytest.mark.parametrize("name", list(EXACT))
def test_each_layer_backprop_equals_sympy_diff_of_the_expanded_cost(name):
    """Every entry of ∂C/∂u (the derivative graph expanded to the leaves) minus sympy.diff of the
    expanded cost simplifies to 0 (symgrad.derivation.verify.decide_zero)."""
    model = EXACT[name]()
    g = model.graph
    wrt = list(model.parameters) + ["x"]
    table = model.backprop(wrt)
    vals = explicit_values(g, [model.cost, *table.values()])
    C = vals[model.cost][0, 0]
    for w in wrt:
        D, X = vals[table[w]], vals[w]
        for i in range(X.shape[0]):
            for j in range(X.shape[1]):
                assert decide_zero(D[i, j] - sp.diff(C, X[i, j])) == "0", (w, i, j)


@pytest.mark.parametrize("f, fprime", [(silu, silu_prime), (gelu, gelu_prime)])
def test_the_new_heads_derivatives_are_the_derivatives_of_their_closed_forms(f, fprime):
    z = sp.Symbol("z", real=True)
    assert sp.simplify(sp.diff(f._formula(z), z) - fprime._formula(z)) == 0
    for v in (-2.5, -0.3, 0.0, 0.7, 3.1):  # the printed NumPy forms agree with the closed forms
        model = sequential(1, layer.activation({silu: "silu", gelu: "gelu"}[f]), cost="quadratic", batch=1, seed=None)
        fn = compile_graph(model.graph, outputs=["a2"])
        assert fn.evaluate({"x": [[v]]})["a2"][0, 0] == pytest.approx(float(f._formula(sp.Float(v))), rel=1e-12,
                                                                     abs=1e-15)


# ------------------------------------------------------------------ stacks
SHAPE_KEEPING = {
    "dense": lambda: layer.dense(3),
    "tanh": lambda: layer.activation("tanh"),
    "gelu": lambda: layer.activation("gelu"),
    "relu": lambda: layer.activation("relu"),
    "softplus": lambda: layer.activation("softplus"),
    "rms": lambda: layer.rms_norm(),
    "ln": lambda: layer.layer_norm(),
    "swiglu": lambda: layer.swiglu(2),
    "attention": lambda: layer.attention(2),
    "residual": lambda: layer.residual(layer.dense(3), layer.activation("sigmoid")),
}


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(SHAPE_KEEPING)), min_size=1, max_size=3), st.integers(0, 2**16))
def test_random_stacks_of_layers_backprop_equals_central_differences(names, seed):
    model = sequential(3, *[SHAPE_KEEPING[n]() for n in names], batch=2, seed=seed)
    assert gradient_error(model, 2, seed=seed) < 1e-6, names


# ------------------------------------------------------------------ backprop wrt anything
def test_backprop_with_respect_to_the_input_only():
    model = sequential(3, layer.dense(4), layer.activation("tanh"), layer.dense(2), batch=2)
    table = model.backprop(["x"])
    assert set(table) == {"x"}
    g = model.graph
    assert not any(g.node(d).of.startswith("W") for d in g.derivatives["C"].values())  # no parameter gradient
    assert gradient_error(model, 2, wrt=["x"]) < 1e-6
    # the default is unchanged: every parameter
    assert set(model.backprop()) == set(model.parameters)


# ------------------------------------------------------------------ helpers and errors
def test_masks_and_pooling():
    M = block_mask(2, 2)
    assert M.shape == (4, 4) and M[0, 1] == 0 and M[0, 2] < -1e8
    C = block_mask(1, 3, causal=True)
    assert C[0, 2] == 0 and C[2, 0] < 0  # key 0 is seen by query 2, key 2 not by query 0
    P = mean_pool_matrix(2, 2)
    assert np.allclose(np.arange(8.0).reshape(2, 4) @ P, [[0.5, 2.5], [4.5, 6.5]])


@pytest.mark.parametrize("build, message", [
    (lambda: sequential(3, layer.activation("swish")), "unknown activation 'swish'"),
    (lambda: sequential(3, layer.dense(0)), "n_out must be a whole number"),
    (lambda: sequential(3, layer.residual(layer.dense(2))), "residual needs F(x) of x's shape"),
    (lambda: sequential(3, layer.attention(2, sequences=2), batch=3), "do not split into 2 sequences"),
    (lambda: sequential(3, "dense"), "is not a layer"),
    (lambda: sequential(3, cost="hinge"), "unknown cost 'hinge'"),
])
def test_bad_layers_get_one_line_errors(build, message):
    with pytest.raises((UsageError, GraphError)) as err:
        build()
    assert message in str(err.value) and "\n" not in str(err.value)
