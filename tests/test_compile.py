"""symgrad.numeric.compile: generated NumPy code equals the graph's own evaluation, stays finite, exports."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import sympy as sp

from symgrad import Graph, backprop, mlp
from symgrad.errors import CompileError, UsageError
from symgrad.numeric import compile

CASES = [
    ("sigmoid", "quadratic", None),
    ("sigmoid", "cross_entropy", None),
    ("sigmoid", "log_likelihood", None),
    ("tanh", "quadratic", 0.05),
    ("relu", "log_likelihood", 0.1),
    ("sigmoid", "quadratic", 0.1),
]


def _batch(sizes, m, seed, classes=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((sizes[0], m))
    if classes:
        y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    else:
        y = rng.uniform(0.05, 0.95, (sizes[-1], m))
    return x, y


@pytest.mark.parametrize("act,cost,wd", CASES)
def test_layer_level_matches_graph_evaluate(act, cost, wd):
    sizes = [3, 4, 2]
    net = mlp(sizes, act, cost, level="layer", batch=5, weight_decay=wd, seed=1)
    net.backprop()
    x, y = _batch(sizes, 5, 2, classes=(cost == "log_likelihood"))
    model = compile(net)
    C, grads = model(net.params(), x, y)
    grad_nodes = [f"dC/d{p}" for p in ("W2", "b2", "W3", "b3")]
    ref = net.graph.evaluate({"x": x, "y": y}, names=[*grad_nodes, "a3", "z3", "C"])
    a, z = ref["a3"], ref["z3"]
    if cost == "quadratic":
        want = 0.5 * np.sum((a - y) ** 2)
    elif cost == "cross_entropy":
        want = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    else:
        want = -np.sum(y * (z - np.log(np.exp(z).sum(axis=0))))
    if wd:
        want += wd * sum(np.sum(v**2) for k, v in net.params().items() if k.startswith("W"))
    assert np.isclose(C, want, rtol=1e-10)
    assert np.isclose(C, ref["C"], rtol=1e-10)
    assert set(grads) == {"W2", "b2", "W3", "b3"}
    for p, g in grads.items():
        np.testing.assert_allclose(g, ref[f"dC/d{p}"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("act,cost", [("sigmoid", "cross_entropy"), ("tanh", "quadratic"), ("sigmoid", "log_likelihood")])
def test_neuron_level_matches_layer_level(act, cost):
    sizes = [3, 3, 2]
    params = mlp(sizes, act, cost, level="layer", seed=4).params()
    neuron = mlp(sizes, act, cost, level="neuron", params=params)
    layer = mlp(sizes, act, cost, level="layer", params=params)
    x, y = _batch(sizes, 4, 5, classes=(cost == "log_likelihood"))
    Cn, gn = compile(neuron)(params, x, y)
    Cl, gl = compile(layer)(params, x, y)
    assert np.isclose(Cn, Cl, rtol=1e-10)
    for p in gl:
        np.testing.assert_allclose(gn[p], gl[p], rtol=1e-9, atol=1e-12)
    # and one example against SymPy's own evaluation of the neuron graph
    ref = neuron.graph.evaluate({**{f"x{k + 1}": x[k, 0] for k in range(3)}, **{f"y{j + 1}": y[j, 0] for j in range(2)}})
    C1, g1 = compile(neuron)(params, x[:, :1], y[:, :1])
    assert np.isclose(C1, ref["C"], rtol=1e-10)
    assert np.isclose(g1["W2"][1, 2], ref["dC/dw2_2_3"], rtol=1e-9)


def test_scalar_graph_and_sympy():
    w, x = sp.symbols("w x", real=True)
    expr = sp.sin(w * x) * sp.exp(w) + sp.log(1 + w**2)
    g = Graph.from_expr(expr, parameters=[w])
    backprop(g, "C")
    model = compile(g)
    C, grads = model({"w": 0.7, "x": 1.3})
    want = float(sp.diff(expr, w).subs({w: 0.7, x: 1.3}))
    assert np.isclose(grads["w"], want)
    assert np.isclose(C, float(expr.subs({w: 0.7, x: 1.3})))
    assert model.evaluate({"w": 0.7, "x": 1.3})["dC/dw"] == grads["w"]


def test_source_is_one_statement_per_node_and_expert_like():
    net = mlp([784, 30, 10], "sigmoid", "quadratic", level="layer")
    model = compile(net, outputs=[f"dC/d{p}" for p in ("W2", "b2", "W3", "b3")])
    src = model.source
    assert "C =" not in src  # the cost is dead code for a gradient-only function
    assert "z2 = (W2 @ x) + b2" in src or "z2 = W2 @ x + b2" in src  # b 1ᵀ is a broadcast
    assert "dC_dz3.sum(axis=1, keepdims=True)" in src  # δ 1 is the batch sum
    assert "(1 - a3)*a3" in src and "sigmoid_prime" not in src.split("def compiled")[1]  # σ′(z) = a(1 − a)
    body = src.split("def compiled")[1].splitlines()[2:-1]
    assert "\n".join(body).count("_sigmoid(") == 2  # one per layer: shared nodes computed once
    assert len(body) == 12  # 4 forward + 8 derivative nodes


def test_cross_entropy_delta_is_a_minus_y_and_finite_for_huge_z():
    sizes = [2, 3, 2]
    net = mlp(sizes, "sigmoid", "cross_entropy", level="layer", seed=0)
    model = compile(net)
    assert "dC_dz3 = a3 - y" in model.source
    x = np.array([[1000.0, -1000.0, 500.0], [-1000.0, 1000.0, 3.0]])
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])  # confidently wrong
    params = {"W2": np.eye(3, 2), "b2": np.zeros((3, 1)), "W3": np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]]),
              "b3": np.zeros((2, 1))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            C, grads = model(params, x, y)
    assert np.isfinite(C) and C > 100  # some examples are confidently wrong: a large but finite cost
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("cost", ["quadratic", "log_likelihood", "cross_entropy"])
def test_large_z_no_warnings(cost):
    sizes = [2, 3, 2]
    net = mlp(sizes, "sigmoid", cost, level="layer", seed=0)
    model = compile(net)
    rng = np.random.default_rng(0)
    x = rng.choice([-1e3, 1e3], size=(2, 6))
    y = np.eye(2)[:, rng.integers(0, 2, 6)]
    params = {k: v * 10 for k, v in net.params().items()}
    with np.errstate(all="raise", under="ignore"):
        C, grads = model(params, x, y)
    assert np.isfinite(C) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_float32():
    net = mlp([4, 5, 3], "sigmoid", "log_likelihood", level="layer", seed=3)
    x, y = _batch([4, 5, 3], 7, 1, classes=True)
    m64 = compile(net)
    m32 = compile(net, dtype="float32")
    C64, g64 = m64(net.params(), x, y)
    C32, g32 = m32(net.params(), x, y)
    assert np.asarray(C32).dtype == np.float32
    assert all(g.dtype == np.float32 for g in g32.values())
    assert np.isclose(C32, C64, rtol=1e-5)
    for p in g64:
        np.testing.assert_allclose(g32[p], g64[p], rtol=1e-4, atol=1e-5)


def test_fast_path_positional_and_outputs():
    net = mlp([3, 4, 2], "sigmoid", "quadratic", level="layer", seed=0)
    net.backprop()
    fwd = compile(net, outputs=["a3"])
    assert fwd.args == ("W2", "b2", "W3", "b3", "x")  # no y: dead code removed
    p = net.params()
    x, _ = _batch([3, 4, 2], 3, 0)
    (a3,) = fwd.fn(p["W2"], p["b2"], p["W3"], p["b3"], x)
    assert a3.shape == (2, 3) and np.all((a3 > 0) & (a3 < 1))


def test_export_runs_with_numpy_only(tmp_path):
    net = mlp([3, 4, 2], "tanh", "quadratic", level="layer", seed=0)
    model = compile(net)
    path = tmp_path / "mlp_grad.py"
    model.export(path)
    x, y = _batch([3, 4, 2], 4, 0)
    p = net.params()
    np.savez(tmp_path / "in.npz", x=x, y=y, **p)
    script = (
        "import sys, numpy as np\n"
        "sys.modules['sympy'] = None; sys.modules['symgrad'] = None  # prove they are not needed\n"
        "import mlp_grad\n"
        "d = np.load('in.npz')\n"
        "out = mlp_grad.compiled(*[d[a] for a in mlp_grad.ARGS])\n"
        "print(repr(float(out[0])))\n"
    )
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    C, _ = model(p, x, y)
    assert np.isclose(float(res.stdout.strip()), C, rtol=1e-12)


def test_neuron_level_compiles_one_statement_per_node():
    # 784-30-10 (48,675 nodes) compiles in about 5 s; the benchmark reports it. A smaller one here.
    sizes = [100, 30, 10]
    net = mlp(sizes, "sigmoid", "quadratic", level="neuron")
    t = time.perf_counter()
    model = compile(net)
    seconds = time.perf_counter() - t
    assert len(model.outputs) == 1 + 100 * 30 + 30 + 30 * 10 + 10
    body = model.source.split("def compiled")[1]
    assert body.count("\n    ") - 2 == len(net.graph) - len(model.args)  # one statement per computed node
    assert seconds < 20  # generous (shared CI cores)
    params = mlp(sizes, level="layer", seed=0).params()
    x, y = _batch(sizes, 2, 0)
    C, grads = model(params, x, y)
    Cl, gl = compile(mlp(sizes, level="layer", params=params))(params, x, y)
    assert np.isclose(C, Cl)
    np.testing.assert_allclose(grads["W3"], gl["W3"], rtol=1e-9)


def test_errors_name_the_problem():
    with pytest.raises(CompileError, match="Graph or a Network"):
        compile(42)
    net = mlp([2, 2, 1], level="layer", seed=0)
    with pytest.raises(CompileError, match="dtype"):
        compile(net, dtype="float16")
    model = compile(net)
    with pytest.raises(UsageError, match="x"):
        model({"W2": np.zeros((2, 2))})
    with pytest.raises(UsageError, match="W2"):
        model({**net.params(), "W2": np.zeros((3, 3))}, np.zeros((2, 1)), np.zeros((1, 1)))


def test_sgd_update_variant_updates_in_place():
    net = mlp([3, 4, 2], "sigmoid", "cross_entropy", level="layer", seed=0)
    table = net.backprop()
    grads_model = compile(net, outputs=list(table.values()))
    step = compile(net, outputs=list(table.values()), update="sgd")
    assert step.args[-1] == "eta" and "W2 -= eta*dC_dW2" in step.source
    p = {k: v.copy() for k, v in net.params().items()}
    x, y = _batch([3, 4, 2], 6, 1)
    grads = grads_model.fn(*[p[a] for a in grads_model.args[:4]], x, y)
    want = {a: p[a] - 0.25 * g for a, g in zip(grads_model.args[:4], grads)}
    assert step.fn(*[p[a] for a in step.args[:4]], x, y, 0.25) is None
    for k in want:
        np.testing.assert_allclose(p[k], want[k], rtol=1e-13)
    with pytest.raises(CompileError, match="update"):
        compile(net, update="adam")


@pytest.mark.parametrize("act,cost,m", [("sigmoid", "quadratic", 4), ("tanh", "log_likelihood", 4),
                                         ("sigmoid", "cross_entropy", 1), ("relu", "quadratic", 7)])
def test_neuron_level_weight_decay_counts_once_per_mini_batch(act, cost, m):
    """λΣw² and 2λw belong to the mini-batch once, as at the layer level (they came in once per example)."""
    sizes = [2, 2, 2]
    p = mlp(sizes, level="layer", seed=0).params()
    x, y = _batch(sizes, m, 1, classes=(cost == "log_likelihood"))
    Cn, gn = compile(mlp(sizes, act, cost, level="neuron", weight_decay=0.1, params=p))(p, x, y)
    Cl, gl = compile(mlp(sizes, act, cost, level="layer", weight_decay=0.1, params=p))(p, x, y)
    decay = 0.1 * sum(np.sum(v**2) for k, v in p.items() if k.startswith("W"))
    Cplain, _ = compile(mlp(sizes, act, cost, level="layer", params=p))(p, x, y)
    assert np.isclose(Cl, Cplain + decay, rtol=1e-12)  # the layer level: once
    assert np.isclose(Cn, Cl, rtol=1e-12)
    for k in gl:
        np.testing.assert_allclose(gn[k], gl[k], rtol=1e-10, atol=1e-13)
