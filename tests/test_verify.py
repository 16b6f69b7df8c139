"""BP1–BP4 verification: exact proofs, numeric checks, the report, the command's exit status."""

import pytest
import sympy as sp
from sympy import MatMul
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgrad import Graph, mlp
from symgrad.cli import main as cli_main
from symgrad.core import rules
from symgrad.core.functions import sigmoid, sigmoid_prime
from symgrad.core.hessian import hessian
from symgrad.derivation.verify import decide_zero, verify_bp
from symgrad.errors import UsageError


@pytest.mark.parametrize(
    "sizes, activation, cost, output",
    [
        ([2, 3, 2], "sigmoid", "quadratic", None),
        ([2, 3, 2], "tanh", "cross_entropy", "sigmoid"),
        ([3, 3, 3, 2], "sigmoid", "cross_entropy", None),
        ([3, 3, 3, 2], "tanh", "quadratic", None),
    ],
)
def test_verify_bp_holds(sizes, activation, cost, output):
    report = verify_bp(sizes, activation, cost, seed=0, points=2, output=output)
    assert report.ok
    labels = [c.equation for c in report.checks]
    L = len(sizes)
    assert labels.count("BP1") == 1 and labels.count("BP2") == L - 2
    assert labels.count("BP3") == L - 1 and labels.count("BP4") == L - 1
    assert all(c.symbolic == "0" and c.max_error <= 1e-6 for c in report.checks)
    n_params = sum(sizes[i] * sizes[i - 1] + sizes[i] for i in range(1, L))
    n_deltas = sum(sizes[1:])
    assert sum(c.entries for c in report.checks) == n_params + n_deltas


def test_batch_of_two_sums_over_examples():
    report = verify_bp([2, 2, 1], "sigmoid", "quadratic", batch=2, points=1)
    assert report.ok
    assert {c.node: c.entries for c in report.checks}["dC/dz3"] == 2  # 1 neuron × 2 examples


def test_report_formats():
    report = verify_bp([2, 2], "sigmoid", "quadratic", points=1)
    text, md, tex = report.to_text(), report.to_markdown(), report.to_latex()
    assert "BP1" in text and "ALL HOLD" in text and "dC/dW2" in text
    assert "| `dC/dz2` |" in md and r"\odot" in md
    assert r"\begin{tabular}" in tex and r"\paragraph{BP4}" in tex


def _forgets_sigma_prime(e, i, G):
    # BP1/BP2 without ⊙ σ′(z)
    return G


def _slightly_wrong_matmul(e, i, G):
    right = rules.MATRIX_RULES[MatMul](e, i, G)
    return sp.Rational(1001, 1000) * right


@pytest.mark.parametrize("head, wrong", [(ElementwiseApplyFunction, _forgets_sigma_prime), (MatMul, _slightly_wrong_matmul)])
def test_a_wrong_rule_fails_verification(monkeypatch, head, wrong):
    monkeypatch.setitem(rules.RULES, head, wrong)
    report = verify_bp([2, 3, 2], "sigmoid", "quadratic", points=1)
    assert not report.ok
    bad = [c for c in report.checks if not c.ok]
    assert bad and all(c.symbolic == "≠ 0" for c in bad)
    assert max(c.max_error for c in bad) > 1e-4
    assert "FAILED" in report.to_text()


def test_cli_exit_statuses(monkeypatch, capsys):
    assert cli_main(["verify", "--sizes", "2,3,2", "--activation", "sigmoid", "--cost", "quadratic", "--points", "1"]) == 0
    out = capsys.readouterr().out
    assert "ALL HOLD" in out and "BP2" in out
    assert cli_main(["verify", "--sizes", "2,2", "--format", "markdown", "--points", "1"]) == 0
    assert "| node |" in capsys.readouterr().out
    assert cli_main(["verify", "--sizes", "2,2", "--points", "0"]) == 2
    assert "--points" in capsys.readouterr().err
    monkeypatch.setitem(rules.RULES, ElementwiseApplyFunction, _forgets_sigma_prime)
    assert cli_main(["verify", "--sizes", "2,2", "--format", "latex", "--points", "1"]) == 1


def test_verify_rejects_neuron_level():
    from symgrad.derivation.verify import verify_network

    with pytest.raises(UsageError, match="layer-level"):
        verify_network(mlp([2, 2], level="neuron"))


def test_decide_zero():
    z = sp.Symbol("z", real=True)
    assert decide_zero(sigmoid_prime(z) - sigmoid(z) * (1 - sigmoid(z))) == "0"
    assert decide_zero(sp.diff(sp.tanh(z), z) - (1 - sp.tanh(z) ** 2)) == "0"
    assert decide_zero(sigmoid_prime(z) - sigmoid(z)) == "≠ 0"


def test_hessian_of_a_tiny_graph_equals_sympy_hessian():
    g = Graph()
    g.input("x", value=0.5)
    g.parameter("w")
    g.parameter("b")
    g.add("a", sigmoid(g["w"] * g["x"] + g["b"]))
    g.add("C", (g["a"] - 1) ** 2 / 2 + g["w"] ** 2 * g["b"], role="cost")
    H = hessian(g, "C", ["w", "b"])
    from symgrad import expand

    want = sp.hessian(expand(g, "C"), [g["w"], g["b"]])
    assert all(decide_zero(H[i, j] - want[i, j]) == "0" for i in range(2) for j in range(2))


def test_softmax_bp1_header_has_no_sigma_prime():
    rep = verify_bp((2, 2, 3), "sigmoid", "log_likelihood", points=1)
    text = rep.to_text()
    bp1 = next(line for line in text.splitlines() if line.startswith("BP1"))
    assert "σ′" not in bp1 and "softmax output" in bp1
    assert r"\sigma'" not in rep.to_markdown().split("BP2")[0] and r"\sigma'" not in rep.to_latex().split("BP2")[0]
    assert "σ′(z^L)" in verify_bp((2, 2, 2), points=1).to_text()  # a sigmoid output keeps the book's BP1


def test_the_softmax_bp1_header_is_the_chain_rule():
    # δ_j = Σ_k ∂C/∂a_k ∂a_k/∂z_j for a = softmax(z), against the header's a ⊙ g − a (aᵀ g), g = ∇_a C
    from symgrad.derivation.verify import SOFTMAX_BP1_TEXT

    assert SOFTMAX_BP1_TEXT.startswith("δ^L = a^L ⊙ ∇_a C − a^L ((a^L)ᵀ ∇_a C)")
    z = sp.symbols("z1:4")
    a = [sp.exp(zj) / sum(sp.exp(zk) for zk in z) for zj in z]
    u = sp.symbols("u1:4")
    C = sp.Function("C")(*u)
    g = [sp.diff(C, uk).subs(dict(zip(u, a))) for uk in u]
    chain = [sp.diff(C.subs(dict(zip(u, a))), zj) for zj in z]
    header = [a[j] * g[j] - a[j] * sum(ak * gk for ak, gk in zip(a, g)) for j in range(3)]
    assert all(sp.simplify(c - h) == 0 for c, h in zip(chain, header))
