"""The typed-expression parser: what it builds, the gradients of what it builds, and what it refuses.

Gradients are checked against ``sympy.diff`` of the fully explicit cost (every entry), so a wrong
broadcast, a wrong reduction or a wrong rule shows up as a non-zero difference.
"""

from __future__ import annotations

import time

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad as sg
from symgrad.core.parse import MAX_DEPTH, MAX_LENGTH, name_tex, parse, shape_arg, tokenize
from symgrad.derivation.verify import decide_zero
from symgrad.errors import ParseError, UsageError


def explicit(expr: sp.Basic) -> sp.Matrix:
    """Every entry, in the leaves' entries: built bottom-up, each matrix subterm made explicit."""
    memo: dict = {}

    def go(e: sp.Basic) -> sp.Basic:
        if e in memo:
            return memo[e]
        if isinstance(e, (sp.MatrixSymbol, sp.OneMatrix, sp.Identity, sp.ZeroMatrix)):
            out = sp.ImmutableMatrix(e.as_explicit())
        elif e.is_Atom or isinstance(e, (sp.Lambda, sp.MatrixBase)):
            out = e
        else:
            rebuilt = e.func(*[go(a) for a in e.args])
            if isinstance(rebuilt, sp.MatrixExpr):
                out = sp.ImmutableMatrix(rebuilt.as_explicit())
            elif isinstance(rebuilt, sp.MatrixBase):
                out = sp.ImmutableMatrix(rebuilt)
            else:
                out = rebuilt.doit() if rebuilt.has(sp.Trace) else rebuilt
        memo[e] = out
        return out

    out = go(expr)
    return sp.Matrix(out) if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]])


def assert_gradients_exact(g: sg.Graph, wrt: list[str]) -> None:
    """Every entry of ∂C/∂u (backprop, expanded) minus sympy.diff of the explicit cost is 0."""
    table = sg.backprop(g, g.meta["cost"], wrt)
    C = explicit(sg.expand(g, g.meta["cost"]))[0, 0]
    for u in wrt:
        D = explicit(sg.expand(g, table[u]))
        leaf = explicit(g[u])
        assert D.shape == leaf.shape
        for d, s in zip(D, leaf):
            assert decide_zero(d - sp.diff(C, s)) == "0", (u, s)


# ------------------------------------------------------------------ building
def test_the_issue_example_builds_one_node_per_assignment():
    g = parse("z = W @ x + b\nC = sum((z - y)**2)/2", {"W": (3, 4), "x": (4, 2), "b": (3, 1), "y": (3, 2)})
    assert [n.name for n in g.nodes(("intermediate", "cost"))] == ["z", "C"]
    assert g.node("C").role == "cost" and g.meta["cost"] == "C"
    assert {n.name for n in g.parameters} == {"W", "x", "b", "y"}
    assert g.node("z").shape == (3, 2)  # b broadcast over the batch as b 1ᵀ
    assert g.node("z").expr == g["W"] * g["x"] + g["b"] * sp.OneMatrix(1, 2)


def test_parameters_choose_the_parameters_and_the_rest_are_inputs():
    g = parse("C = sum((X @ w - y)**2)", {"X": (5, 3), "w": (3, 1), "y": (5, 1)}, parameters=["w"])
    assert [n.name for n in g.parameters] == ["w"]
    assert {n.name for n in g.nodes("input")} == {"X", "y"}


def test_bare_last_expression_is_the_cost_C_and_an_assigned_C_wins():
    assert parse("x.T @ x", {"x": 3}).meta["cost"] == "C"
    g = parse("C = x.T @ x; J = C * 2", {"x": 3})
    assert g.meta["cost"] == "C" and g.node("J").role == "intermediate"
    assert parse("J = x.T @ x", {"x": 3}).meta["cost"] == "J"


@pytest.mark.parametrize(
    "text, shape",
    [
        ("sum(M)", (1, 1)),
        ("sum(M, axis=0)", (1, 4)),
        ("sum(M, axis=1)", (3, 1)),
        ("mean(M, axis=1)", (3, 1)),
        ("M.T", (4, 3)),
        ("M'", (4, 3)),
        ("softmax(M)", (3, 4)),
        ("M * M / 2 - 1", (3, 4)),
        ("M + r", (3, 4)),
        ("M + c", (3, 4)),
        ("M ** 2 + s", (3, 4)),
        ("sqrt(exp(M))", (3, 4)),
        ("norm(M)", (1, 1)),
        ("trace(M @ M.T)", None),
    ],
)
def test_types(text, shape):
    g = parse(f"t = {text}\nC = sum(t * t)", {"M": (3, 4), "r": (1, 4), "c": (3, 1), "s": ()})
    assert g.node("t").shape == shape


def test_precedence_and_associativity():
    g = parse("C = -s**2 + 2**3**2 * s / 4", {"s": ()})
    s = g["s"]
    assert sp.simplify(g.node("C").expr - (-(s**2) + 2**9 * s / 4)) == 0
    g = parse("C = 2**-1 * s", {"s": ()})
    assert g.node("C").expr == s / 2


def test_decimals_are_exact_rationals():
    g = parse("C = 0.1 * s + 1e-2 * s", {"s": ()})
    assert g.node("C").expr == sp.Rational(11, 100) * g["s"]


def test_names_print_upright_when_multi_letter():
    assert name_tex("up") == r"\mathrm{up}"
    assert name_tex("W1") == "W_{1}"
    assert name_tex("W_out") == r"W_{\mathrm{out}}"
    assert name_tex("alpha") == r"\alpha" and name_tex("lam") == r"\lambda"
    g = parse("up = W @ x; C = sum(up)", {"W": (2, 3), "x": 3})
    assert g.node("up").tex == r"\mathrm{up}"


def test_shape_arg():
    assert shape_arg("W=3x4") == ("W", (3, 4))
    assert shape_arg("x = 4") == ("x", (4, 1))
    assert shape_arg("lam=scalar") == ("lam", None)
    for bad in ("W", "W=3x", "W=0x3", "W=ax3", "3=3x3", "W=3x4x5", "W=99999999x1"):
        with pytest.raises(UsageError, match="shape"):
            shape_arg(bad)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize(
    "text, shapes, wrt",
    [
        ("C = x.T @ A @ x", {"x": 3, "A": (3, 3)}, ["x", "A"]),
        ("C = norm(X @ w - y)**2", {"X": (3, 2), "w": 2, "y": 3}, ["w"]),
        ("C = sum((W @ x + b - y)**2)/2", {"W": (2, 3), "x": (3, 2), "b": 2, "y": (2, 2)}, ["W", "b", "x"]),
        ("p = sigmoid(X @ w)\nC = -sum(y * log(p) + (1 - y) * log(1 - p))", {"X": (3, 2), "w": 2, "y": 3}, ["w"]),
        ("C = -sum(y * log_softmax(W @ x))", {"W": (2, 2), "x": (2, 1), "y": (2, 1)}, ["W", "x"]),
        ("C = mean(tanh(W @ x) / (1 + exp(W @ x)), axis=0) @ v", {"W": (2, 2), "x": (2, 2), "v": 2}, ["W", "v"]),
        ("r = mean(x**2, axis=0)\nC = sum(x / sqrt(r + 1) * g)", {"x": (2, 2), "g": 2}, ["x", "g"]),
        ("u = W1 @ x; h = u * sigmoid(u) * (W3 @ x); C = sum(W2 @ h)",
         {"W1": (2, 2), "W3": (2, 2), "W2": (1, 2), "x": 2}, ["W1", "W3", "x"]),
        ("C = s * sum(x) + s**2 / 3 - trace(x @ x.T)", {"s": (), "x": (2, 2)}, ["s", "x"]),
    ],
)
def test_backprop_of_parsed_graphs_equals_sympy_diff(text, shapes, wrt):
    assert_gradients_exact(parse(text, shapes), wrt)


# ------------------------------------------------------------------ refusals
SHAPES = {"x": (3, 1), "W": (2, 3), "y": (2, 1)}


@pytest.mark.parametrize(
    "text, message",
    [
        ("C = __import__('os').system('true')", r"column 5: a name cannot start with '_'"),
        ("C = x.__class__", r"column 6: attribute access '\.__class__' is not allowed"),
        ("C = W.shape", r"attribute access '\.shape'"),
        ("lambda: x", r"column 7: unexpected character ':'"),
        ("C = eval('x')", r"unknown function 'eval'"),
        ("C = x[0]", r"unexpected character '\['"),
        ("C = 'x'", r"column 5: expected a name, a number or '\('"),
        ('C = "x"', r"unexpected character '\"'"),
        ("C = W @ y", r"column 7: cannot multiply W \(2×3\) by y \(2×1\): 3 columns but 2 rows"),
        ("C = sum(W + y.T)", r"cannot add W \(2×3\) and y\.T \(1×2\)"),
        ("C = (x", r"column 7: expected '\)', found the end of the text"),
        ("C = x +", r"expected a name, a number or '\('"),
        ("C = 1/0 + sum(x)", r"division by zero"),
        ("C = sum(x) ** 2**2**2**2**2", r"too large a number"),
        ("C = 1e-99999999999 * sum(x)", r"column 5: number 1e-99999999999 is out of range"),
        ("C = 1e99999999999 * sum(x)", r"out of range"),
        ("C = x x", r"expected an operator"),
        ("C = sum(x, axis=2)", r"axis=0 .* or axis=1"),
        ("C = softmax(sum(x) * 0 + 1)", r"softmax\(\) needs a matrix|uses no name"),
        ("C = q", r"unknown name 'q': give its shape"),
        ("exp = sum(x)", r"'exp' is a function"),
        ("C = sum(x); C = sum(x)", r"'C' is already defined"),
        ("C = x", r"the cost C = x \(3×1\) must be a scalar or 1×1"),
        ("sum(x)\nC = sum(x)", r"line 1, column 1: only the last statement may be a bare expression"),
        ("C = sum(x) +\n", r"column 13: expected a name, a number or .*, found the end of the line"),
        ("C = x ** x", r"the exponent must be a scalar"),
        ("", r"the expression is empty"),
        ("C = sum(x) \u00b7 2", r"unexpected character '·'"),
        ("C = sum(x)\x00", r"unexpected character U\+0000"),
    ],
)
def test_refusals_name_the_column_and_what_was_expected(text, message):
    with pytest.raises(ParseError, match=message) as info:
        parse(text, SHAPES if "W" in text or "y" in text else {"x": (3, 1)})
    assert "\n" not in str(info.value)


def test_long_and_deeply_nested_input_is_refused_quickly():
    started = time.perf_counter()
    with pytest.raises(ParseError, match=f"at most {MAX_LENGTH}"):
        parse("C = " + "+".join(["sum(x)"] * 2000), {"x": 3})
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH}"):
        parse("C = " + "(" * 200 + "sum(x)" + ")" * 200, {"x": 3})
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH}"):
        parse("C = " + "-" * 200 + "sum(x)", {"x": 3})
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH}"):
        parse("C = sum(x)" + "**1" * 100, {"x": 3})
    assert time.perf_counter() - started < 5


def test_a_long_flat_sum_within_the_limit_parses():
    g = parse("C = " + "+".join(["s"] * 1000), {"s": ()})
    assert g.node("C").expr == 1000 * g["s"]


def test_malformed_shapes_are_usage_errors():
    for shapes in ({"x": (0, 1)}, {"x": "3x1"}, {"x": (3, 1, 1)}, {"sum": 3}, {"_x": 3}, {"x": True}):
        with pytest.raises(UsageError, match="shapes"):
            parse("C = sum(x)", shapes)
    assert "z" not in parse("C = sum(x)", {"x": 3, "z": 3})
    with pytest.raises(ParseError, match="must be text"):
        parse(b"C = x", {"x": 3})  # type: ignore[arg-type]


ALPHABET = "xWy s01.2e+-*/@()=;'T,_\n #" + "abcdefghijklmnopqrstuvwxyz" + "[]{}:\"\\!$%^&|~`<>?"
FRAGMENTS = ["x", "W", "y", "s", "sum(", "exp(", "softmax(", "norm(", "axis=", ".T", "'", "**", "@", "(", ")",
             "__import__", "lambda", ".__class__", ";", "\n", "C =", "1", "-", "/", "0", "1e999", "1e-99999999", "T",
             "mean(", "9" * 29, "**9"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(alphabet=ALPHABET, max_size=60), st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)))
def test_random_text_gives_a_graph_or_a_one_line_usage_error(text):
    try:
        g = parse(text, {"x": (3, 1), "W": (2, 3), "y": (2, 1), "s": ()}.copy() | {})
    except UsageError as e:
        assert "\n" not in str(e) and str(e)
    else:
        assert g.node(g.meta["cost"]).role == "cost"


def test_tokenize_positions():
    toks = tokenize("a = b\n  c.T")
    assert [(t.kind, t.text, t.line, t.col) for t in toks] == [
        ("name", "a", 1, 1), ("op", "=", 1, 3), ("name", "b", 1, 5), ("end", "\n", 1, 6),
        ("name", "c", 2, 3), ("T", ".T", 2, 4), ("eof", "", 2, 6),
    ]
