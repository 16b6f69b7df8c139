"""verify_graph: every derivative node of any graph proved exactly (small graphs) and checked by central
differences; a wrong derivative node is caught both ways."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad import Graph, backprop
from symgrad.derivation.verify import verify_graph
from symgrad.errors import UsageError
from symgrad.layers import layer, sequential


def test_rmsnorm_swiglu_every_derivative_node_proved_and_checked():
    model = sequential(2, layer.rms_norm(), layer.swiglu(2, 2), batch=1)
    report = verify_graph(model.graph)
    assert report.ok, report.to_text()
    assert set(report.proved) == {c.node for c in report.checks}  # small enough: every node proved exactly
    assert {c.of for c in report.checks} >= {"gamma2", "Wg3", "Wu3", "Wd3", "h2", "gate3"}
    assert "ALL HOLD" in report.to_text() and "| `dC/dWg3` |" in report.to_markdown()


def test_a_graph_with_attention_is_checked_numerically_with_respect_to_its_input():
    model = sequential(3, layer.residual(layer.attention(2, sequences=2)), layer.mean_pool(2), batch=4)
    model.backprop([*model.parameters, "x"])
    report = verify_graph(model.graph, points=1)
    assert report.ok, report.to_text()
    assert "x" in {c.of for c in report.checks}
    assert all(c.symbolic == "skipped" for c in report.checks)  # 12 + 3·6 + 4·4 entries: too many to prove


def test_a_wrong_derivative_node_is_caught_exactly_and_numerically():
    model = sequential(2, layer.dense(2), layer.activation("sigmoid"), cost="quadratic", batch=1)
    g = model.graph
    table = backprop(g, "C")
    node = g.node(table["W2"])
    node.expr = 2 * node.expr  # a factor 2 too many
    report = verify_graph(g)
    bad = {c.node: c for c in report.checks}[table["W2"]]
    assert not report.ok and not bad.ok
    assert bad.symbolic == "≠ 0" and bad.max_error > 0.1
    assert all(c.ok for c in report.checks if c.node != table["W2"])


def test_a_scalar_graph():
    g = Graph("scalar")
    w, x = g.parameter("w"), g.input("x")
    z = g.add("z", w * x + w**2)
    g.add("C", (z - 1) ** 2 / 2, role="cost")
    report = verify_graph(g, values={"x": 0.5})
    assert report.ok and set(report.proved) == {"dC/dz", "dC/dw"}


def test_bad_arguments():
    model = sequential(2, layer.dense(2), batch=1)
    with pytest.raises(UsageError, match="points must be at least 1"):
        verify_graph(model.graph, points=0)
    with pytest.raises(UsageError, match="exact must be"):
        verify_graph(model.graph, exact="yes")
    assert np.isfinite(verify_graph(model.graph, exact=False).checks[0].max_error)
