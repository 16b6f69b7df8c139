"""``symgrad derive --expr`` on the textbook's matrix derivatives, and ``verify --expr``.

Each derivative backprop adds to the parsed graph is proved equal, entry by entry, to the
textbook's closed form written with the same symbols:

* C = xᵀ A x            → ∇ₓC = (A + Aᵀ) x
* C = ‖X w − y‖²        → ∇_w C = 2 Xᵀ (X w − y)
* C = −Σ y ln σ(Xw) + (1 − y) ln(1 − σ(Xw))  (the negative log-likelihood of logistic regression)
                         → ∇_w C = Xᵀ (σ(X w) − y)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import symgrad as sg
from symgrad.cli.main import main
from symgrad.core.functions import sigmoid
from symgrad.derivation.expression import (
    derive_expression,
    expression_graph,
    verify_derivatives,
    verify_expression,
)
from symgrad.derivation.verify import decide_zero, explicit

QUADRATIC_FORM = ("C = x.T @ A @ x", {"x": (3, 1), "A": (3, 3)}, "x")
LEAST_SQUARES = ("C = norm(X @ w - y)**2", {"X": (4, 3), "w": (3, 1), "y": (4, 1)}, "w")
LOGISTIC = ("C = -sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))",
            {"X": (4, 2), "w": (2, 1), "y": (4, 1)}, "w")


def textbook(g: sg.Graph, which: str) -> sp.Basic:
    s = {n.name: n.symbol for n in g.nodes(("input", "parameter", "target"))}
    if which == "quadratic form":
        return (s["A"] + s["A"].T) * s["x"]
    if which == "least squares":
        return 2 * s["X"].T * (s["X"] * s["w"] - s["y"])
    return s["X"].T * (ElementwiseApplyFunction(sigmoid, s["X"] * s["w"]) - s["y"])


def assert_same(a: sp.Basic, b: sp.Basic) -> None:
    A, B = explicit(a), explicit(b)
    assert A.shape == B.shape
    assert all(decide_zero(d) == "0" for d in A - B)


@pytest.mark.parametrize("which, case", [("quadratic form", QUADRATIC_FORM), ("least squares", LEAST_SQUARES),
                                         ("logistic", LOGISTIC)])
def test_derive_expr_gives_the_textbook_derivative_exactly(which, case):
    text, shapes, wrt = case
    g = expression_graph(text, shapes, [wrt])
    derivative = g.derivatives["C"][wrt]
    assert_same(sg.expand(g, derivative), textbook(g, which))


def test_a_wrong_textbook_formula_is_caught():
    text, shapes, wrt = LEAST_SQUARES
    g = expression_graph(text, shapes, [wrt])
    s = {n.name: n.symbol for n in g.nodes()}
    half = s["X"].T * (s["X"] * s["w"] - s["y"])  # the ½‖·‖² gradient: off by a factor 2
    with pytest.raises(AssertionError):
        assert_same(sg.expand(g, g.derivatives["C"]["w"]), half)


def test_the_log_likelihood_itself_has_the_opposite_gradient():
    g = expression_graph("L = sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))",
                         {"X": (3, 2), "w": (2, 1), "y": (3, 1)}, ["w"])
    assert_same(sg.expand(g, g.derivatives["L"]["w"]), -textbook(g, "logistic"))


def test_the_cli_derives_and_verifies_the_three(capsys):
    for text, shapes, wrt in (QUADRATIC_FORM, LEAST_SQUARES, LOGISTIC):
        flags = [f"--shape={k}={r}x{c}" for k, (r, c) in shapes.items()]
        assert main(["derive", "--expr", text, *flags, "--wrt", wrt]) == 0
        out = capsys.readouterr().out
        assert f"∂C/∂{wrt} = " in out
        assert main(["verify", "--expr", text, *flags, "--wrt", wrt, "--points", "2"]) == 0
        out = capsys.readouterr().out
        assert "ALL HOLD" in out and f"dC/d{wrt}" in out


def test_derive_expr_formats():
    text, shapes, wrt = QUADRATIC_FORM
    latex = derive_expression(text, shapes, [wrt], fmt="latex")
    assert latex.startswith("% typed expression (x 3×1, A 3×3)") and r"\begin{aligned}" in latex
    md = derive_expression(text, shapes, [wrt], fmt="markdown")
    assert "`dC/dx`" in md and "| node | formula |" in md


def test_wrt_an_intermediate_name_gives_a_delta():
    g = expression_graph("z = X @ w\nC = -sum(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))",
                         {"X": (3, 2), "w": (2, 1), "y": (3, 1)}, ["z", "w"])
    report = verify_expression("z = X @ w\nC = -sum(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))",
                               {"X": (3, 2), "w": (2, 1), "y": (3, 1)}, ["z", "w"], points=2)
    assert report.ok and [c.of for c in report.checks] == ["z", "w"]
    z = g["z"]
    y = g["y"]
    assert_same(sg.expand(g, g.derivatives["C"]["z"]).xreplace({sg.expand(g, "z"): z}),
                ElementwiseApplyFunction(sigmoid, z) - y)


def test_a_wrong_derivative_fails_verification():
    g = expression_graph("C = sum(exp(W @ x))", {"W": (2, 2), "x": (2, 1)}, ["W"])
    d = g.node(g.derivatives["C"]["W"])
    d.expr = 2 * d.expr  # sabotage the node: both checks must notice
    report = verify_derivatives(g, wrt=["W"], points=1)
    assert not report.ok
    assert report.checks[0].symbolic == "≠ 0" and report.checks[0].max_error > 0.1
    assert "FAILED" in report.render("text")


@pytest.mark.parametrize(
    "argv, culprit",
    [
        (["derive", "--expr", "C = x.T @ A @@ x", "--shape", "x=3", "--shape", "A=3x3"], "column 14: expected a name"),
        (["derive", "--expr", "C = x.T @ A @ x", "--shape", "x=3", "--shape", "A=2x2"], "cannot multiply"),
        (["derive", "--expr", "C = x.T @ x", "--shape", "x=3x"], "--shape x= needs ROWSxCOLS"),
        (["derive", "--expr", "C = x.T @ x", "--shape", "x=3", "--shape", "x=4"], "--shape x is given twice"),
        (["derive", "--expr", "C = x.T @ x", "--shape", "x=3", "--wrt", "q"], "--wrt 'q' is not a name"),
        (["derive", "--expr", "C = q.T @ x", "--shape", "x=3"], "unknown name 'q'"),
        (["derive", "--shape", "x=3"], "--shape and --wrt go with --expr"),
        (["derive", "--expr", "C = x.T @ x", "--shape", "x=3", "--param", "W2"], "with --expr use --wrt"),
        (["verify", "--expr", "C = sum(x)", "--shape", "x=40x40"], "1600 entries"),
        (["verify", "--expr", "C = __import__('os')"], "a name cannot start with '_'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, culprit, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert culprit in err and err.count("\n") == 1, err


def _doc_commands() -> list[tuple[str, list[str]]]:
    """``(command, printed lines)`` of every ``$ symgrad …`` in docs/expressions.md's console blocks."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "expressions.md").read_text(encoding="utf-8")
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", doc, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


DOC_COMMANDS = _doc_commands()


@pytest.mark.parametrize("command, shown", DOC_COMMANDS, ids=[c[:60] for c, _ in DOC_COMMANDS])
def test_the_typed_expressions_page_shows_what_the_commands_print(command, shown, capsys):
    assert len(DOC_COMMANDS) >= 5
    status = main(shlex.split(command)[1:])
    captured = capsys.readouterr()
    printed = (captured.out + captured.err).strip().splitlines()
    assert printed == shown, f"docs/expressions.md shows an old `{command}`; it prints:\n" + "\n".join(printed)
    assert status == (2 if "error:" in captured.err else 0)


def test_the_typed_expressions_page_python_runs():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "expressions.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/expressions.md", "exec"), {})
