"""An undefined function f (sympy.Function("f")) differentiates to f′ as Subs; a Piecewise cost evaluates,
differentiates branch by branch and compiles; what cannot be done is refused in one line naming the head."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symgrad import Graph, GraphError, backprop, expand
from symgrad.errors import CompileError
from symgrad.numeric import compile

f = sp.Function("f")
w, x = sp.symbols("w x", real=True)


def _define(graph: Graph, head, body) -> Graph:
    """A copy of ``graph`` with the undefined function ``head`` given the definition ``body``."""
    g = graph.copy()
    for n in g.nx.nodes:
        node = g.node(n)
        if node.expr is not None:
            node.expr = node.expr.replace(head, body)
    return g


@pytest.mark.parametrize("concrete", [sp.tanh, sp.Lambda(sp.Dummy("t"), sp.exp(sp.Dummy("s")))])
def test_undefined_function_derivative_is_right_once_f_is_defined(concrete):
    """The derivative graph, with f defined afterwards, gives the numbers f's definition gives."""
    if isinstance(concrete, sp.Lambda):
        t = sp.Dummy("t")
        concrete = sp.Lambda(t, sp.exp(t) * sp.sin(t))
    expr = f(f(w) * x) + f(w) ** 2
    g = Graph.from_expr(expr, parameters=[w])
    d = backprop(g, "C")["w"]
    assert not g.node(d).expr.has(sp.Derivative(g["t1"], w))  # not ∂u/∂w of the node u = f(w)
    concrete_expr = expr.replace(f, concrete)
    at = {"w": 0.3, "x": 1.7}
    want = float(sp.diff(concrete_expr, w).subs({w: 0.3, x: 1.7}))
    got = _define(g, f, concrete).evaluate(at, names=[d])[d]
    assert np.isclose(got, want, rtol=1e-12)
    h = 1e-6
    Cc = sp.lambdify((w, x), concrete_expr)
    assert np.isclose(got, (Cc(0.3 + h, 1.7) - Cc(0.3 - h, 1.7)) / (2 * h), rtol=1e-7)
    closed = expand(g, d).replace(f, concrete).doit()
    assert np.isclose(float(closed.subs({w: 0.3, x: 1.7})), want, rtol=1e-12)


def test_undefined_function_of_two_arguments():
    a, b = sp.Dummy("a"), sp.Dummy("b")
    g = Graph.from_expr(f(w, x) * w, parameters=[w, x])
    grads = backprop(g, "C")
    concrete = sp.Lambda((a, b), a * sp.sin(b) + b**2)
    defined = _define(g, f, concrete)
    out = defined.evaluate({"w": 0.4, "x": -1.1}, names=list(grads.values()))
    C = (f(w, x) * w).replace(f, concrete)
    for p, s in (("w", w), ("x", x)):
        assert np.isclose(out[grads[p]], float(sp.diff(C, s).subs({w: 0.4, x: -1.1})), rtol=1e-12)


def test_undefined_function_refused_in_one_line_where_it_cannot_go():
    g = Graph()
    p = g.parameter("w", value=0.5)
    g.add("u", f(p))
    g.add("C", g["u"] ** 2, role="cost")
    d = backprop(g, "C")["w"]
    with pytest.raises(GraphError) as e:
        g.evaluate(names=[d])
    assert "\n" not in str(e.value) and "undefined function f" in str(e.value)
    with pytest.raises(CompileError) as e:
        compile(g)
    msg = str(e.value)
    assert "\n" not in msg and "node 'u'" in msg and "f is an undefined function" in msg
    with pytest.raises(GraphError) as e:  # f″ is not taken
        backprop(g, d, ["w"])
    msg = str(e.value)
    assert "\n" not in msg and "Subs" in msg and "second derivative of an undefined function" in msg


def test_piecewise_cost_differentiates_branch_by_branch_and_compiles():
    C = sp.Piecewise((w**2 * x, w > 0), (sp.sin(w), x > 1), (-w, True))
    g = Graph.from_expr(C, parameters=[w, x])
    grads = backprop(g, "C")
    model = compile(g)
    for wv, xv in ((0.7, 2.0), (-0.4, 3.0), (-0.4, 0.5)):
        at = {"w": wv, "x": xv}
        want = {p: float(sp.diff(C, s).subs({w: wv, x: xv})) for p, s in (("w", w), ("x", x))}
        got = g.evaluate(at, names=list(grads.values()))
        cost, cg = model(at)
        assert np.isclose(cost, float(C.subs({w: wv, x: xv})))
        for p in want:
            assert np.isclose(got[grads[p]], want[p], rtol=1e-12)
            assert np.isclose(cg[p], want[p], rtol=1e-12)


def test_piecewise_second_derivative():
    g = Graph.from_expr(sp.Piecewise((w**3, w > 0), (w**2, True)), parameters=[w])
    d = backprop(g, "C")["w"]
    dd = backprop(g, d, ["w"])["w"]
    assert np.isclose(g.evaluate({"w": 2.0}, names=[dd])[dd], 12.0)
    assert np.isclose(g.evaluate({"w": -2.0}, names=[dd])[dd], 2.0)
