"""Layer-level networks: shapes, BP1–BP4 in LaTeX, softmax, weight decay, the explicit view."""

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgrad import Graph, GraphError, backprop, expand, mlp, sigmoid
from symgrad.derivation.explicit import ExplicitError, ExplicitView, explicit
from symgrad.derivation.verify import NodeProgram, central_difference, decide_zero, verify_bp
from symgrad.printing import factored, latex


def test_layer_level_shapes_symbolic_batch():
    net = mlp([2, 3, 2], level="layer")
    net.backprop()
    g = net.graph
    m = net.batch
    assert g.node("W2").shape == (3, 2)
    assert g.node("b2").shape == (3, 1)
    assert g.node("z2").shape == (3, m)
    assert g.node("a3").shape == (2, m)
    assert g.node("dC/dW2").shape == (3, 2)
    assert g.node("dC/db3").shape == (2, 1)
    assert g.node("dC/dz2").shape == (3, m)


def test_shape_mismatch_names_both_nodes_and_shapes():
    g = Graph()
    g.input("a1", (3, 4))
    g.parameter("W2", (3, 2))
    with pytest.raises(GraphError, match=r"z2.*W2 \(3×2\).*a1 \(3×4\)"):
        g.matmul("z2", "W2", "a1")
    with pytest.raises(GraphError, match=r"z2.*W2 \(3×2\).*a1 \(3×4\)"):
        g.op("z2", lambda w, a: w * a, "W2", "a1")


def test_bp1_to_bp4_latex_in_the_books_form():
    net = mlp([2, 3, 2], level="layer")
    net.backprop()
    g = net.graph
    bp1 = latex(g, "dC/dz3")
    bp2 = latex(g, "dC/dz2")
    assert bp1 == r"\delta^{3} = \nabla_{a^{3}} C \odot \sigma'\left(z^{3}\right)"
    assert bp2 == r"\delta^{2} = \left(\left(W^{3}\right)^{T} \delta^{3}\right) \odot \sigma'\left(z^{2}\right)"
    assert latex(g, "dC/db2") == r"\frac{\partial C}{\partial b^{2}} = \delta^{2} \mathbf{1}"
    assert latex(g, "dC/dW3") == r"\frac{\partial C}{\partial W^{3}} = \delta^{3} \left(a^{2}\right)^{T}"
    assert latex(g, "dC/dW2") == r"\frac{\partial C}{\partial W^{2}} = \delta^{2} x^{T}"
    for tex in (bp1, bp2):
        assert r"\odot" in tex and r"\circ" not in tex and r"\sigma'" in tex and "exp" not in tex


def test_softmax_log_likelihood_delta_is_a_minus_y():
    net = mlp([2, 3, 3], "sigmoid", "log_likelihood", level="layer", batch=1)
    net.backprop()
    view = ExplicitView(net)
    delta = sp.Matrix(view.expanded("dC/dz3", cut=["z3"]))
    z = sp.Matrix(view.symbols("z3"))
    y = sp.Matrix(view.symbols("y"))
    softmax = [sp.exp(z[j]) / sum(sp.exp(zk) for zk in z) for j in range(3)]
    # the targets sum to 1 (one-hot) for δ^L = a^L − y
    ones = {y[2]: 1 - y[0] - y[1]}
    for j in range(3):
        assert decide_zero((delta[j] - (softmax[j] - y[j])).xreplace(ones)) == "0"
    assert verify_bp([2, 3, 3], "sigmoid", "log_likelihood").ok


def test_weight_decay_adds_2_lambda_W():
    lam = sp.Rational(1, 10)
    net = mlp([2, 3, 2], level="layer", batch=1, weight_decay=lam)
    net.backprop()
    g = net.graph
    view = ExplicitView(net)
    got = sp.Matrix(view.explicit("dC/dW2", "node"))
    plain = sp.Matrix(view._convert(g["dC/dz2"] * g["x"].T, {}))
    W = sp.Matrix(view.symbols("W2"))
    assert (got - plain - 2 * lam * W).applyfunc(sp.expand).is_zero_matrix
    assert verify_bp([2, 3, 2], weight_decay=lam).ok


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_explicit_view_agrees_with_neuron_level(cost):
    layer = mlp([2, 3, 2], "sigmoid", cost, level="layer", batch=1)
    neuron = mlp([2, 3, 2], "sigmoid", cost, level="neuron")
    layer.backprop()
    neuron.backprop()
    view = ExplicitView(layer)
    gn = neuron.graph
    compared = 0
    for node in layer.graph.nodes(("intermediate", "derivative")):
        if node.role == "derivative" and factored(layer.graph, node.name) != node.expr:
            continue  # a pass-along node (∇_{a^l} C), substituted into δ^l
        lhs = sp.Matrix(view.symbols(node.name))
        rhs = sp.Matrix(view.explicit(node.name, "factored"))
        for s, e in zip(lhs, rhs):
            # the same symbol names as the neuron-level network's nodes
            other = gn.node(s.name)
            assert other.tex == view.tex[s]
            assert sp.expand(e - factored(gn, other.name)) == 0, (s, e, factored(gn, other.name))
            compared += 1
    assert compared == 3 + 3 + 2 + 2 + 2 + 2 + 3 + 3 + 6 + 2 + 6  # z, a, δ, ∇a, b, W entries
    # the componentwise formulas read as in the book
    eqs = view.equations("dC/dz2")
    assert eqs[0] == r"\delta^{2}_{1} = \left(\delta^{3}_{1} w^{3}_{11} + \delta^{3}_{2} w^{3}_{21}\right) \sigma'\left(z^{2}_{1}\right)"
    assert view.equations("dC/dW2")[1] == r"\frac{\partial C}{\partial w^{2}_{12}} = \delta^{2}_{1} x_{2}"


def test_explicit_needs_a_concrete_batch():
    net = mlp([2, 3, 2], level="layer")
    net.backprop()
    with pytest.raises(ExplicitError, match="'x'.*m.*batch=1"):
        explicit(net, "dC/dW2")
    b = explicit(net, "dC/db2", batch=2)
    assert b.shape == (3, 1)
    assert str(b[0, 0]) == "dC/dz2_1(1) + dC/dz2_1(2)"  # BP3 sums δ over the batch


def test_expanded_view_equals_explicit_of_expand():
    net = mlp([2, 3, 2], "tanh", "cross_entropy", level="layer", batch=1, output="sigmoid")
    net.backprop()
    view = ExplicitView(net)
    for name in ("dC/dW2", "dC/db3", "C"):
        a = view.expanded(name)
        b = view._convert(expand(net.graph, name), {})
        assert sp.Matrix([a]) == sp.Matrix([b]) if not isinstance(a, sp.MatrixBase) else a == b


def _ops():
    sig = lambda M: ElementwiseApplyFunction(sigmoid, M)  # noqa: E731
    tanh = lambda M: ElementwiseApplyFunction(sp.tanh, M)  # noqa: E731
    return {
        "trace of product": lambda A, B, c: sp.Trace(A * B * c),
        "quadratic form": lambda A, B, c: sp.Trace((A * B).T * (A * B)) + sp.Trace(c * A * B),
        "hadamard": lambda A, B, c: sp.Trace(sp.HadamardProduct(A * B, A * B) * c),
        "elementwise": lambda A, B, c: sp.Trace(sig(A * B).T * tanh(A * B + c.T)),
        "transpose and scalar": lambda A, B, c: sp.Trace(3 * (B.T * A.T) * A * B) + sp.Trace(c * c.T) / 2,
    }


@pytest.mark.parametrize("op", list(_ops()))
@pytest.mark.parametrize("seed", [0, 1])
def test_matrix_rules_match_central_differences(op, seed):
    rng = np.random.default_rng(seed)
    n, k, p = (int(v) for v in rng.integers(1, 4, 3))
    g = Graph()
    A = g.parameter("A", (n, k))
    B = g.parameter("B", (k, p))
    c = g.parameter("c", (p, n))
    g.add("C", _ops()[op](A, B, c), role="cost")
    grads = backprop(g, "C")
    view = ExplicitView(g)
    program = NodeProgram(view)
    point = {}
    for name in ("A", "B", "c"):
        for s in sp.Matrix(view.symbols(name)):
            point[s] = float(rng.standard_normal())
    values = program.run(point)
    names = list(point)
    theta = np.array([point[s] for s in names])

    def cost(v):
        return program.run(dict(zip(names, v)))[g["C"]]

    for p_name, d_name in grads.items():
        for s, ds in zip(sp.Matrix(view.symbols(p_name)), sp.Matrix(view.symbols(d_name))):
            ref = central_difference(cost, theta, names.index(s))
            assert abs(values[ds] - ref) <= 1e-7 * max(1.0, abs(ref)), (op, s)
