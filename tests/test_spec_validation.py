"""Issue 9: one validator of a network's specification, used by ``mlp``, the model file and the command line;
the output activation and the cost must agree; ``Network.params()`` without values says how to give them."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad as sg
from symgrad.cli.main import main, spelled
from symgrad.errors import GraphError, UsageError
from symgrad.networks import OUTPUTS, RANGES, check_spec
from symgrad.store.model_file import save_model


def _one_line_error(capsys, argv: list[str]) -> str:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- mlp's arguments
@pytest.mark.parametrize("sizes", [[2.5, 2], [True, 2], "232", [2, np.float64(3.0)], [2], [2, 0], 7, None])
def test_mlp_refuses_sizes_that_are_not_whole_numbers(sizes):
    with pytest.raises(UsageError, match=r"^sizes ") as e:
        sg.mlp(sizes)
    assert e.value.arg == "sizes" and "\n" not in str(e.value)


def test_mlp_refuses_a_softmax_of_one_neuron_as_the_command_line_does(capsys):
    with pytest.raises(UsageError) as e:
        sg.mlp([2, 1], cost="log_likelihood")
    assert e.value.arg == "cost" and "at least two neurons" in str(e.value)
    line = _one_line_error(capsys, ["train", "--dataset", "xor", "--sizes", "2,1", "--cost", "log_likelihood"])
    assert line == f"symgrad train: error: {spelled('train', e.value)}"
    assert line.startswith("symgrad train: error: --cost log_likelihood needs a softmax output of at least two")
    assert "the last of --sizes is 1" in line and "--output sigmoid" in line


def test_mlp_refuses_a_negative_weight_decay_as_the_command_line_does(capsys):
    with pytest.raises(UsageError, match=r"^weight_decay \(λ\) must be a finite number ≥ 0, got -1$") as e:
        sg.mlp([2, 2], weight_decay=-1)
    assert e.value.arg == "weight_decay"
    line = _one_line_error(capsys, ["train", "--dataset", "xor", "--sizes", "2,2", "--weight-decay", "-1"])
    assert line == "symgrad train: error: --weight-decay (λ) must be a finite number ≥ 0, got -1.0"


def test_mlp_refuses_an_unknown_init_even_without_a_seed():
    with pytest.raises(UsageError, match=r"^unknown init 'foo'; choose one of normal, glorot, he$"):
        sg.mlp([2, 2], init="foo")
    with pytest.raises(UsageError, match=r"^unknown init 'foo'"):
        sg.mlp([2, 2], init="foo", seed=0)


@pytest.mark.parametrize("batch", [0, -1, 2.5, True, "3"])
def test_mlp_refuses_a_bad_batch_by_name(batch):
    with pytest.raises(UsageError, match=r"^batch must be a whole number ≥ 1 or a SymPy symbol") as e:
        sg.mlp([2, 2], level="layer", batch=batch)
    assert e.value.arg == "batch"


def test_mlp_refuses_params_and_seed_together_and_a_bad_seed():
    p = sg.mlp([2, 2], seed=0).params()
    with pytest.raises(UsageError, match=r"^give params or seed, not both"):
        sg.mlp([2, 2], params=p, seed=1)
    for seed in (1.5, -1, True):
        with pytest.raises(UsageError, match=rf"^seed must be None or a whole number ≥ 0, got {seed}"):
            sg.mlp([2, 2], seed=seed)
    with pytest.raises(UsageError, match=r"^seed must be None or a whole number ≥ 0, got -2"):
        sg.init_params([2, 2], seed=-2)


def test_set_params_names_the_parameter_that_is_not_numbers():
    net = sg.mlp([2, 2], level="layer", seed=0)
    with pytest.raises(GraphError, match=r"^params must be a dictionary"):
        net.set_params([1, 2])
    with pytest.raises(GraphError, match=r"^parameter 'W2' must be an array of numbers, got 'ab'"):
        net.set_params({"W2": "ab", "b2": [0, 0]})


@pytest.mark.parametrize("level", ["layer", "neuron"])
def test_params_without_values_say_how_to_give_them(level):
    net = sg.mlp([2, 3, 1], level=level)
    with pytest.raises(GraphError) as e:
        net.params()
    message = str(e.value)
    assert message.startswith("the 2-3-1 network's parameters have no values: ")
    assert "seed=" in message and "params=" in message and "set_params" in message
    net.set_params(sg.init_params([2, 3, 1], seed=0))
    assert net.params()["W2"].shape == (3, 2) and np.isfinite(net.params()["W3"]).all()


def test_params_with_some_values_missing_name_one():
    net = sg.mlp([2, 2], level="neuron", seed=0)
    net.graph.node("w2_2_1").value = None
    net.graph.node("b2_2").value = None
    with pytest.raises(GraphError, match=r"parameter 'w2_2_1' \(and 1 more\) has no value: build it with"):
        net.params()


# ---------------------------------------------------------- output and cost agree
@pytest.mark.parametrize("output", ["tanh", "relu", "identity"])
def test_cross_entropy_needs_a_sigmoid_output(output):
    for kwargs in ({"activation": output}, {"activation": "sigmoid", "output": output}):
        with pytest.raises(UsageError) as e:
            sg.mlp([2, 3, 2], cost="cross_entropy", level="layer", **kwargs)
        m = str(e.value)
        assert m.startswith("cost cross_entropy needs outputs in (0, 1), as it takes ln a and ln(1 − a)"), m
        assert f"the output is {output}" in m and RANGES[output] in m
        assert "`output='sigmoid'`" in m and "`cost='log_likelihood'`" in m  # what works
        assert e.value.arg == "cost"
    net = sg.mlp([2, 3, 2], output, "cross_entropy", level="layer", output="sigmoid")
    assert (net.activation, net.output) == (output, "sigmoid")
    assert net.describe() == f"2-3-2 {output} network with a sigmoid output, cross_entropy cost"


def test_softmax_goes_with_the_log_likelihood_only_and_back():
    with pytest.raises(UsageError, match=r"^cost log_likelihood goes with a softmax output only .* "
                                         r"`output='tanh'`; leave `output` out or give `output='softmax'`$"):
        sg.mlp([2, 2], "sigmoid", "log_likelihood", output="tanh")
    for cost in ("quadratic", "cross_entropy"):
        with pytest.raises(UsageError, match=rf"^output softmax goes with cost log_likelihood only, got cost {cost}"):
            sg.mlp([2, 2], "sigmoid", cost, output="softmax")
    assert sg.mlp([2, 2], "relu", "log_likelihood").output == "softmax"


def test_every_output_is_in_the_table_of_ranges():
    assert set(RANGES) == set(OUTPUTS) and OUTPUTS[-1] == "softmax"
    good = {out: check_spec({"sizes": [2, 2], "activation": "tanh", "cost": cost, "output": out})["output"]
            for out, cost in (("sigmoid", "cross_entropy"), ("softmax", "log_likelihood"), ("relu", "quadratic"))}
    assert good == {"sigmoid": "sigmoid", "softmax": "softmax", "relu": "relu"}


def test_a_model_file_with_a_disagreeing_spec_is_refused(tmp_path):
    params = sg.init_params([2, 2], seed=0)
    with pytest.raises(UsageError, match=r"cannot save .*: cost cross_entropy needs outputs in \(0, 1\)"):
        save_model(tmp_path / "m.npz", {"sizes": [2, 2], "activation": "tanh", "cost": "cross_entropy"}, params)
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("command", ["derive", "verify", "train", "graph", "explain"])
def test_the_command_line_refuses_tanh_with_cross_entropy_saying_what_works(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    extra = {"train": ["--dataset", "xor", "--sizes", "2,3,1"], "graph": ["--out", "g.svg"],
             "explain": ["--out", "s.md"]}.get(command, [])
    line = _one_line_error(capsys, [command, "--activation", "tanh", "--cost", "cross-entropy", *extra])
    assert line.startswith(f"symgrad {command}: error: --cost cross_entropy needs outputs in (0, 1), as it takes "
                           "ln a and ln(1 − a)"), line
    assert "(--activation tanh, as --output is not given)" in line
    assert "use a sigmoid output (--output sigmoid), or cost log_likelihood with a softmax output " \
           "(--cost log_likelihood)" in line
    assert "`" not in line and not list(tmp_path.iterdir())
    line = _one_line_error(capsys, [command, "--output", "relu", "--cost", "cross_entropy", *extra])
    assert "the output is relu (--output relu), with values in [0, ∞)" in line


def test_tanh_hidden_sigmoid_output_cross_entropy_works_in_derive_verify_and_train(capsys):
    net = ["--activation", "tanh", "--output", "sigmoid", "--cost", "cross_entropy"]
    assert main(["derive", "--sizes", "2,3,2", *net]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2-3-2 tanh network with a sigmoid output, cross_entropy cost (layer level)")
    assert "BP1  δ^3 = ∇_(a^3) C ⊙ σ'(z^3)" in out and "BP2  δ^2 = ((W^3)ᵀ δ^3) ⊙ tanh'(z^2)" in out
    assert main(["verify", "--sizes", "2,3,2", *net, "--points", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BP1–BP4 for the 2-3-2 tanh network with a sigmoid output, cross_entropy cost")
    assert out.rstrip().splitlines()[-1].startswith("ALL HOLD")
    assert main(["train", "--dataset", "xor", "--sizes", "2,4,1", *net, "--epochs", "300", "--batch-size", "1",
                 "--lr", "0.5", "--quiet"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("epoch 300/300: ") and "train accuracy 1.0000" in last


def test_graph_draws_the_output_the_flag_names(tmp_path, capsys):
    assert main(["graph", "--sizes", "2,2", "--output", "tanh", "--out", str(tmp_path / "g.dot")]) == 0
    assert 'tooltip="a²₁ = tanh(z²₁' in (tmp_path / "g.dot").read_text()
    assert capsys.readouterr().out.startswith("wrote ")
