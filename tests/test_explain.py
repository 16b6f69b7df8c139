"""``symgrad explain``: one training step written out, text 003's figures reproduced."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symgrad as sg
from symgrad.cli import main as cli
from symgrad.derivation.explain import explain, fmt
from symgrad.errors import UsageError
from symgrad.printing.mathml import tex_to_mathml
from symgrad.printing.report import Equation


@pytest.fixture(scope="module")
def report():
    return explain(figure=False)


def test_text003_figures(report):
    # Forward pass and error: the figures text 003 prints.
    assert fmt(report.values["out_o1"]) == "0.75136507"
    assert fmt(report.values["net_h1"]) == "0.3775"
    assert fmt(report.values["out_h1"]) == "0.593269992"
    assert fmt(report.error) == "0.298371109"
    # ∂E/∂w5 = 0.74136507 × 0.186815602 × 0.593269992 = 0.082167041, and the updates.
    assert fmt(report.gradients["w5"]) == "0.082167041"
    assert fmt(report.gradients["w1"]) == "0.000438568"
    want = {"w1": "0.149780716", "w2": "0.199561432", "w3": "0.249751144", "w4": "0.299502287",
            "w5": "0.35891648", "w6": "0.408666186", "w7": "0.51130127", "w8": "0.561370121"}
    assert {k: fmt(v) for k, v in report.updated.items()} == want
    assert set(report.updated) == set(want)  # the biases are not updated
    # Exact arithmetic after one step (the text's 0.291027924 uses updated w5..w8 for w1..w4).
    assert fmt(report.error_after) == "0.291027774"
    assert report.backprop_gap < 1e-12


def test_markdown_shows_the_chain_rule_with_numbers(report, tmp_path):
    md = report.save(tmp_path / "step.md").read_text()
    assert md == report.to_markdown() == report._repr_markdown_()
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial \mathrm{out}_{o1}} \frac{\partial \mathrm{out}_{o1}}" \
           r"{\partial \mathrm{net}_{o1}} \frac{\partial \mathrm{net}_{o1}}{\partial w_{5}}" in md
    assert r"0.74136507 \times 0.186815602 \times 0.593269992" in md
    assert r"0.4 - 0.5 \times 0.082167041" in md and "0.35891648" in md
    assert "E_{\\mathrm{total}} &= " in md and "0.298371109" in md
    for w in range(1, 9):
        assert rf"\partial w_{{{w}}}}} &=" in md
    assert md.count("$$") % 2 == 0


def test_html_is_self_contained_mathml(tmp_path):
    rep = explain()  # with the picture
    html = rep.save(tmp_path / "step.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<math") > 100
    assert "0.75136507" in html and "0.35891648" in html and "0.298371109" in html
    lowered = html.lower()
    for bad in ("<script", "<link", "src=", "http://", "https://", "@import"):
        assert bad not in lowered, bad
    assert not re.search(r"url\((?!#)", lowered)  # only references inside the page
    assert "<svg" in html and "node E_total (cost)" in html  # the network's picture, inline, with tooltips
    # every <math> element is well-formed XML
    for m in re.findall(r"<math.*?</math>", html, flags=re.S):
        ET.fromstring(m)
    assert "<mtext>\\" not in html  # no LaTeX command left unconverted
    assert rep._repr_html_().startswith("<style>")


def test_every_formula_converts_strictly(report):
    n = 0
    for sec in report.sections:
        for b in sec.blocks:
            if isinstance(b, Equation):
                for r in [b.lhs, *b.rows]:
                    ET.fromstring(tex_to_mathml(r, strict=True))
                    n += 1
    assert n > 100


def test_tex_to_mathml_basics():
    m = tex_to_mathml(r"\frac{\partial C}{\partial w^{3}_{12}} = \left(-0.5\right)^{2}", strict=True)
    assert "<mfrac>" in m and "<msubsup><mi>w</mi>" in m and "<mn>−0.5</mn>" in m
    assert "<msup><mrow><mo>(</mo>" in m  # the script applies to the whole bracket
    with pytest.raises(ValueError, match="nosuchcommand"):
        tex_to_mathml(r"\nosuchcommand x", strict=True)
    assert "<mtext>" in tex_to_mathml(r"\nosuchcommand x")


def test_tex_to_mathml_never_drops_a_script():
    # TeX refuses a double superscript; strict conversion refuses it too, the lenient one keeps both.
    for tex, what in ((r"w^{2}_{11}^{+}", "superscript"), (r"x^{2}'", "superscript"), (r"a_{1}_{2}", "subscript")):
        with pytest.raises(ValueError, match=f"double {what}"):
            tex_to_mathml(tex, strict=True)
    lenient = tex_to_mathml(r"w^{2}_{11}^{+}")
    assert "<mn>2</mn>" in lenient and "<mn>11</mn>" in lenient and "<mo>+</mo>" in lenient
    # a prime joins the superscript, as in TeX: σ′² is one superscript
    assert "<msup><mi>σ</mi><mrow><mo>′</mo><mrow><mn>2</mn>" in tex_to_mathml(r"\sigma'^{2}", strict=True)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (3, 3, 2)])
def test_update_lines_have_one_superscript(sizes):
    # p⁺ of w^{2}_{11} is (w^{2}_{11})⁺: the layer and the update stay apart, in every renderer
    rep = explain(sizes, "tanh", figure=False)
    lhs = [b.lhs for b in next(s for s in rep.sections if s.title == "The update").blocks if isinstance(b, Equation)]
    assert r"\left(w^{2}_{11}\right)^{+}" in lhs and r"\left(w^{3}_{11}\right)^{+}" in lhs
    assert len(lhs) == len(rep.updated)
    for tex in lhs:
        ET.fromstring(tex_to_mathml(tex, strict=True))
    assert "}^{+}" not in rep.to_markdown().replace(r"\right)^{+}", "")


def test_general_network_matches_backprop():
    rep = explain((2, 3, 1), "tanh", x=[0.5, -1.0], y=[0.3], lr=0.1, figure=False)
    assert rep.backprop_gap < 1e-12
    assert len(rep.gradients) == 2 * 3 + 3 + 3 + 1  # every weight and bias
    net = sg.mlp([2, 3, 1], "tanh", level="layer", seed=0)
    p = net.params()
    assert rep.values["w2_1_2"] == pytest.approx(p["W2"][0, 1])
    # the update is p - lr * grad, and the error falls for a small step
    assert rep.updated["b3_1"] == pytest.approx(rep.values["b3_1"] - 0.1 * rep.gradients["b3_1"])
    assert rep.error_after < rep.error


def test_given_weights_and_sigmoid_chain_form():
    W = {"W2": np.array([[0.1, 0.2]]), "b2": np.array([[0.0]])}
    rep = explain((2, 1), weights=W, x=[1.0, 2.0], y=[1.0], figure=False)
    z = 0.1 * 1 + 0.2 * 2
    a = 1 / (1 + np.exp(-z))
    assert rep.values["a2_1"] == pytest.approx(a)
    assert rep.gradients["w2_1_2"] == pytest.approx((a - 1) * a * (1 - a) * 2.0)
    md = rep.to_markdown()
    assert r"a^{2}_{1}\left(1 - a^{2}_{1}\right)" in md


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=[1.0]), "^x needs 2 values"),
    (dict(y=[1.0, 2.0, 3.0]), "^y needs 2 values"),
    (dict(sizes=(784, 30, 10)), "small networks"),
    (dict(activation="swish"), "unknown activation 'swish'"),
    (dict(lr=-1.0), "^lr must be a positive number"),
    (dict(sizes=(2, 3, 1), weights={"W2": np.zeros((3, 2))}), "'b2'"),
])
def test_bad_input_is_a_usage_error(kwargs, match):
    with pytest.raises(UsageError, match=match):
        explain(figure=False, **kwargs)


def test_cli_explain(tmp_path, capsys):
    out = tmp_path / "step.md"
    assert cli(["explain", "--out", str(out)]) == 0
    assert "0.75136507" in out.read_text()
    assert "0.298371109" in capsys.readouterr().out
    out = tmp_path / "other.md"
    assert cli(["explain", "--sizes", "2,2,1", "--input", "1,0", "--target", "1", "--lr", "1", "--out", str(out)]) == 0
    assert "2-2-1 sigmoid network" in out.read_text()


def test_cli_explain_with_saved_weights(tmp_path):
    from symgrad.store.model_file import save_model

    net = sg.mlp([2, 2, 1], seed=3)
    model = tmp_path / "m.npz"
    save_model(model, net.spec(), net.params())
    out = tmp_path / "step.md"
    assert cli(["explain", "--weights", str(model), "--out", str(out)]) == 0
    text = out.read_text()
    assert "loaded from m.npz" in text
    assert fmt(net.params()["W2"][0, 0]) in text


@pytest.mark.parametrize("argv, culprit", [
    (["explain", "--out", "step.pdf"], "step.pdf"),
    (["explain", "--input", "0.1,zero", "--out", "s.md"], "--input"),
    (["explain", "--weights", "missing.npz", "--out", "s.md"], "missing.npz"),
    (["explain", "--out", "no/such/dir/s.md"], "no/such/dir"),
])
def test_cli_explain_user_errors(tmp_path, capsys, monkeypatch, argv, culprit):
    monkeypatch.chdir(tmp_path)
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and culprit in err


# ------------------------------------------------ issue 9: the network a model file holds, softmax, decay
def _compiled_gradients(spec: dict, params: dict, x, y) -> dict[str, float]:
    """∂C/∂p of the compiled layer-level network (one example), by neuron-level name (w2_1_2, b2_1)."""
    from symgrad.numeric import compile as compile_net

    net = sg.mlp(spec["sizes"], spec["activation"], spec["cost"], level="layer", output=spec["output"],
                 weight_decay=spec.get("weight_decay"), params=params)
    _, grads = compile_net(net)(net.params(), np.reshape(x, (-1, 1)), np.reshape(y, (-1, 1)))
    out = {}
    for key, g in grads.items():
        g = np.asarray(g).reshape(np.shape(net.params()[key]))
        for (j, k), v in np.ndenumerate(g):
            out[f"w{key[1:]}_{j + 1}_{k + 1}" if key[0] == "W" else f"b{key[1:]}_{j + 1}"] = float(v)
    return out


def _saved(tmp_path, argv):
    path = tmp_path / "m.npz"
    assert cli(["train", "--dataset", "xor", *argv, "--epochs", "3", "--lr", "1", "--quiet", "--save", str(path)]) == 0
    return path


def test_explain_weights_explains_the_network_the_file_holds(tmp_path, capsys):
    from symgrad.store.model_file import load_model

    model = _saved(tmp_path, ["--sizes", "2,3,2", "--cost", "log-likelihood"])
    out = tmp_path / "step.md"
    assert cli(["explain", "--weights", str(model), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert "2-3-2 sigmoid network with a softmax output, log_likelihood cost" in printed
    md = out.read_text()
    assert "the softmax $a^{3}_{j} = e^{z^{3}_{j}} / \\sum_k e^{z^{3}_{k}}$ in the output layer" in md
    assert "quadratic" not in md and "E_{o1}" not in md
    spec, params = load_model(model)
    rep = explain(weights=model, figure=False)
    assert rep.title == "One training step of a 2-3-2 sigmoid network with a softmax output, log_likelihood cost, " \
                        "explained"
    x, y = [rep.values[f"x{k}"] for k in (1, 2)], [rep.values[f"y{j}"] for j in (1, 2)]
    assert y == [0.0, 1.0]  # the log-likelihood's default target is one-hot
    compiled = _compiled_gradients(spec, params, x, y)
    assert set(compiled) == set(rep.gradients)
    for name, g in compiled.items():
        assert rep.gradients[name] == pytest.approx(g, rel=1e-12, abs=1e-15), name
    assert rep.backprop_gap < 1e-12 and rep.error_after < rep.error
    # δ of a softmax output is out minus target (one-hot y): in the numbers and in the report
    for j in (1, 2):
        delta = rep.gradients[f"b3_{j}"]
        assert delta == pytest.approx(rep.values[f"a3_{j}"] - y[j - 1], rel=1e-12)
        assert f"= {fmt(delta)}$: the output minus its target" in md


@pytest.mark.parametrize("flag, value, culprit", [
    ("--activation", "tanh", "--activation tanh contradicts --weights"),
    ("--cost", "quadratic", "--cost quadratic contradicts --weights"),
    ("--output", "sigmoid", "--output sigmoid contradicts --weights"),
    ("--sizes", "2,2,2", "--sizes 2,2,2 contradicts --weights"),
])
def test_explain_refuses_a_flag_that_contradicts_the_model_file(flag, value, culprit, tmp_path, capsys):
    model = _saved(tmp_path, ["--sizes", "2,3,2", "--cost", "log_likelihood"])
    capsys.readouterr()
    out = tmp_path / "step.md"
    assert cli(["explain", "--weights", str(model), flag, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"symgrad explain: error: {culprit} '{model}', a saved 2-3-2 "
                                               "sigmoid network with a softmax output, log_likelihood cost"), err
    assert f"leave {flag} out to use the file's" in err[0] and not out.exists()
    # the file's own values may be given
    same = {"--activation": "sigmoid", "--cost": "log-likelihood", "--output": "softmax", "--sizes": "2-3-2"}[flag]
    assert cli(["explain", "--weights", str(model), flag, same, "--out", str(out)]) == 0


def test_explain_api_takes_the_file_spec_and_refuses_a_contradiction(tmp_path):
    model = _saved(tmp_path, ["--sizes", "2,3,1", "--activation", "tanh", "--output", "sigmoid",
                              "--cost", "cross_entropy"])
    rep = explain(weights=model, figure=False)
    assert "2-3-1 tanh network with a sigmoid output, cross_entropy cost" in rep.title
    with pytest.raises(UsageError, match=r"^activation sigmoid contradicts `weights` .*leave `activation` out") as e:
        explain(weights=model, activation="sigmoid", figure=False)
    assert e.value.arg == "activation"


@pytest.mark.parametrize("sizes, activation, cost, output", [
    ((2, 3, 3), "relu", "log_likelihood", None),
    ((2, 2, 2), "sigmoid", "log_likelihood", None),   # text 003's network and weights, with a softmax output
    ((3, 2, 2), "tanh", "cross_entropy", "sigmoid"),
    ((2, 3, 1), "identity", "quadratic", "tanh"),
    ((2, 2), "sigmoid", "log_likelihood", None),
])
def test_explain_matches_the_compiled_gradients(sizes, activation, cost, output):
    params = sg.init_params(sizes, seed=4)
    x = [0.3 * (k + 1) for k in range(sizes[0])]
    y = [1.0 if j == 0 else 0.0 for j in range(sizes[-1])]
    text003 = sizes == (2, 2, 2)
    rep = explain(sizes, activation, None if text003 else params, x, y, lr=0.1, cost=cost, output=output,
                  figure=False)
    assert rep.backprop_gap < 1e-12
    if text003:  # its own names and shared biases: check δ = out − y and the update of w5 instead
        assert "softmax output, log_likelihood cost" in rep.title
        d_o1 = rep.values["out_o1"] - y[0]
        assert rep.gradients["w5"] == pytest.approx(d_o1 * rep.values["out_h1"], rel=1e-12)
        return
    spec = {"sizes": sizes, "activation": activation, "cost": cost,
            "output": output or ("softmax" if cost == "log_likelihood" else activation)}
    compiled = _compiled_gradients(spec, params, x, y)
    assert set(compiled) == set(rep.gradients)
    for name, g in compiled.items():
        assert rep.gradients[name] == pytest.approx(g, rel=1e-12, abs=1e-15), name
    for sec in rep.sections:
        for b in sec.blocks:
            if isinstance(b, Equation):
                for r in [b.lhs, *b.rows]:
                    ET.fromstring(tex_to_mathml(r, strict=True))


def test_explain_a_model_with_weight_decay(tmp_path):
    from symgrad.store.model_file import load_model

    model = _saved(tmp_path, ["--sizes", "2,2,2", "--cost", "log_likelihood", "--weight-decay", "0.05"])
    spec, params = load_model(model)
    assert spec["weight_decay"] == 0.05
    rep = explain(weights=model, figure=False)
    x, y = [rep.values["x1"], rep.values["x2"]], [rep.values["y1"], rep.values["y2"]]
    compiled = _compiled_gradients(spec, params, x, y)
    for name, g in compiled.items():
        assert rep.gradients[name] == pytest.approx(g, rel=1e-12, abs=1e-15), name
    w = rep.values["w2_1_2"]
    assert rep.gradients["w2_1_2"] - rep.gradients["b2_1"] * rep.values["x2"] == pytest.approx(2 * 0.05 * w)
    md = rep.to_markdown()
    shown = fmt(w) if w >= 0 else rf"\left({fmt(w)}\right)"
    assert r"\lambda = 0.05" in md and r"+ 2 \lambda w^{2}_{12}" in md and rf"+ 2 \times 0.05 \times {shown}" in md


def test_explain_plain_weights_give_the_sizes(tmp_path, capsys):
    W = {"W2": np.full((3, 2), 0.1), "b2": np.zeros((3, 1)), "W3": np.full((1, 3), -0.2), "b3": np.zeros((1, 1))}
    np.savez(tmp_path / "plain.npz", **W)
    out = tmp_path / "s.md"
    assert cli(["explain", "--weights", str(tmp_path / "plain.npz"), "--activation", "tanh", "--output", "sigmoid",
                "--cost", "cross-entropy", "--out", str(out)]) == 0
    assert "2-3-1 tanh network with a sigmoid output, cross_entropy cost" in capsys.readouterr().out
    assert explain(weights=W, figure=False).title == "One training step of a 2-3-1 sigmoid network, quadratic cost, " \
                                                      "explained"
