"""The terminal rendering of derivative formulas (``symgrad derive`` text output)."""

import pytest

from symgrad.cli import main as cli
from symgrad.printing.text import to_text


@pytest.mark.parametrize("tex, text", [
    (r"\frac{\partial C}{\partial b^{3}} = \delta^{3} \mathbf{1}", "∂C/∂b^3 = δ^3 𝟏"),
    (r"\left(\mathbf{1}\mathbf{1}^{T} y\right) \odot a^{3}", "(𝟏𝟏ᵀ y) ⊙ a^3"),
    (r"\delta^{3} = \nabla_{a^{3}} C \odot \sigma'\left(z^{3}\right)", "δ^3 = ∇_(a^3) C ⊙ σ'(z^3)"),
    (r"\left(W^{3}\right)^{T} \delta^{3}", "(W^3)ᵀ δ^3"),
    (r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}}", "∂E_total/∂w_5"),
    (r"\frac{\partial C}{\partial w^{3}_{12}} = a^{2}_{2} \delta^{3}_{1}", "∂C/∂w^3_12 = a^2_2 δ^3_1"),
    (r"\frac{1}{1 + e^{-z}}", "1/(1 + e^(-z))"),
    (r"x^{2}_{i+1}", "x^2_(i+1)"),
    (r"\delta^{l} \mathbf{1} \quad\text{(summed)}", "δ^l 𝟏 (summed)"),
])
def test_text(tex, text):
    assert to_text(tex) == text


def test_derive_prints_readable_text(capsys):
    assert cli(["derive", "--sizes", "2,3,2"]) == 0
    out = capsys.readouterr().out
    assert "BP1  δ^3 = ∇_(a^3) C ⊙ σ'(z^3)" in out
    assert "BP3  ∂C/∂b^3 = δ^3 𝟏" in out
    assert "BP4  ∂C/∂W^2 = δ^2 xᵀ" in out
    assert "(∂" not in out and "\\" not in out and "{" not in out
    assert out.rstrip().endswith("(𝟏 is a column of ones)")  # said once, at the end
    assert "11ᵀ" not in out


def test_cross_entropy_gradient_in_textbook_form(capsys):
    assert cli(["derive", "--sizes", "2,3,2", "--cost", "cross_entropy"]) == 0
    out = capsys.readouterr().out
    assert "     ∇_(a^3) C = (a^3 - y)/(a^3 ⊙ (𝟏𝟏ᵀ - a^3))\n" in out
    assert out.rstrip().endswith("(𝟏𝟏ᵀ is a matrix of ones; 𝟏 a column of ones; ⊙ and / act entry by entry)")
    assert cli(["derive", "--sizes", "2,3,2", "--cost", "cross_entropy", "--format", "latex"]) == 0
    assert (r"\nabla_{a^{3}} C &= \frac{a^{3} - y}{a^{3} \odot \left(\mathbf{1}\mathbf{1}^{T} - a^{3}\right)}"
            in capsys.readouterr().out)
    assert cli(["derive", "--sizes", "2,3,2", "--cost", "cross_entropy", "--level", "neuron"]) == 0
    assert "     ∂C/∂a^3_1 = (a^3_1 - y_1)/(a^3_1 (1 - a^3_1))\n" in capsys.readouterr().out


@pytest.mark.parametrize("sizes, batch", [((2, 2, 2), 1), ((3, 3, 2), 2), ((2, 3, 2), None)])
def test_textbook_form_is_the_graphs_node(sizes, batch):
    # The printed form is not the node's expression: prove them equal, entry by entry, exactly.
    import sympy as sp

    import symgrad as sg
    from symgrad.derivation.explicit import ExplicitView
    from symgrad.printing.latex import Textbook

    net = sg.mlp(sizes, "sigmoid", "cross_entropy", level="layer", batch=batch)
    net.backprop()
    g = net.graph
    node = g.node("dC/da3")
    form = Textbook.of(node.expr)
    assert form is not None and form.sign == 1
    view = ExplicitView(net, batch or 2)
    entries = view.local(node.name, "node")
    of_symbol = {n.symbol: n.name for n in g.nodes() if n.is_matrix}
    rows, cols = entries.shape
    assert (rows, cols) == (sizes[-1], batch or 2)
    for i in range(rows):
        for j in range(cols):
            at = {d: view.symbols(of_symbol[m])[i, j] for d, m in form.matrices.items()}
            assert sp.cancel(form.value().xreplace(at) - entries[i, j]) == 0
    # and the neuron level: the same form, proven against each neuron's node
    neurons = sg.mlp(sizes, "sigmoid", "cross_entropy", level="neuron")
    neurons.backprop()
    for j in range(1, sizes[-1] + 1):
        n = neurons.graph.node(f"dC/da3_{j}")
        form = Textbook.of(n.expr)
        assert sp.cancel(form.value() - n.expr) == 0 and form.value() != n.expr


def test_the_textbook_form_leaves_other_formulas_alone():
    import sympy as sp

    from symgrad.printing.latex import Textbook

    a, y = sp.MatrixSymbol("a", 2, 1), sp.MatrixSymbol("y", 2, 1)
    W = sp.MatrixSymbol("W", 2, 2)
    assert Textbook.of(a - y) is None  # no division: printed as it is
    assert Textbook.of(W * a) is None  # a matrix product is not entrywise
    x = sp.Symbol("x")
    assert Textbook.of(sp.exp(x) / (1 + sp.exp(x))) is None  # functions stay as the graph has them


def test_neuron_level_lists_neurons_in_order(capsys):
    assert cli(["derive", "--sizes", "2,3,2", "--level", "neuron"]) == 0
    lines = capsys.readouterr().out.splitlines()
    firsts = [ln.split(" = ")[0].split()[-1] for ln in lines[1:]]
    assert firsts[:2] == ["∂C/∂a^3_1", "∂C/∂a^3_2"]
    assert firsts[2:7] == ["δ^3_1", "∂C/∂b^3_1", "∂C/∂w^3_11", "∂C/∂w^3_12", "∂C/∂w^3_13"]
    deltas = [f for f in firsts if f.startswith("δ")]
    assert deltas == ["δ^3_1", "δ^3_2", "δ^2_1", "δ^2_2", "δ^2_3"]


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
