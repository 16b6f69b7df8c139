"""The terminal rendering of derivative formulas (``symgrad derive`` text output)."""

import pytest

from symgrad.cli import main as cli
from symgrad.printing.text import to_text


@pytest.mark.parametrize("tex, text", [
    (r"\frac{\partial C}{\partial b^{3}} = \delta^{3} \mathbf{1}", "∂C/∂b^3 = δ^3 1"),
    (r"\delta^{3} = \nabla_{a^{3}} C \odot \sigma'\left(z^{3}\right)", "δ^3 = ∇_{a^3} C ⊙ σ'(z^3)"),
    (r"\left(W^{3}\right)^{T} \delta^{3}", "(W^3)ᵀ δ^3"),
    (r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}}", "∂E_total/∂w_5"),
    (r"\frac{\partial C}{\partial w^{3}_{12}} = a^{2}_{2} \delta^{3}_{1}", "∂C/∂w^3_12 = a^2_2 δ^3_1"),
    (r"\frac{1}{1 + e^{-z}}", "1/(1 + e^{-z})"),
    (r"x^{2}_{i+1}", "x^2_{i+1}"),
    (r"\delta^{l} \mathbf{1} \quad\text{(summed)}", "δ^l 1 (summed)"),
])
def test_text(tex, text):
    assert to_text(tex) == text


def test_derive_prints_readable_text(capsys):
    assert cli(["derive", "--sizes", "2,3,2"]) == 0
    out = capsys.readouterr().out
    assert "BP1  δ^3 = ∇_{a^3} C ⊙ σ'(z^3)" in out
    assert "BP3  ∂C/∂b^3 = δ^3 1" in out
    assert "BP4  ∂C/∂W^2 = δ^2 xᵀ" in out
    assert "(∂" not in out and "\\" not in out


def test_derive_latex_labels_only_the_book_equations(capsys):
    # ∇_a C is no BP equation: its row has no label column at all (no empty `&& \text{}`)
    assert cli(["derive", "--sizes", "2,3,2", "--cost", "cross_entropy", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\text{}" not in out
    rows = out.split("\\begin{aligned}\n")[1].split("\n\\end{aligned}")[0].split(" \\\\\n")
    assert rows[0].startswith(r"\nabla_{a^{3}} C &= ") and "&&" not in rows[0]
    assert all(r.endswith((r"\text{BP1}", r"\text{BP2}", r"\text{BP3}", r"\text{BP4}")) for r in rows[1:])


@pytest.mark.parametrize("cost, output", [("quadratic", []), ("cross_entropy", ["--output", "sigmoid"]),
                                          ("log_likelihood", [])])
def test_relu_names_are_plain_roman(cost, output, capsys):
    # \operatorname is a macro KaTeX counts against its expansion limit; \mathrm is a font switch
    assert cli(["derive", "--sizes", "2,3,2", "--activation", "relu", "--level", "neuron", "--format", "latex",
                "--form", "expanded", "--cost", cost, *output]) == 0
    out = capsys.readouterr().out
    assert r"\mathrm{ReLU}" in out and r"\operatorname" not in out
