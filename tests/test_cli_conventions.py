"""Issue 9, command-line conventions: hyphen spellings of every choice, --version, the command list without a
command, --sizes with commas, hyphens or spaces, choices read from the library's tables, one-line errors."""

from __future__ import annotations

import argparse

import pytest

from symgrad import __version__
from symgrad.cli.main import EXAMPLES, build_parser, main, sizes_arg
from symgrad.core.functions import ACTIVATIONS
from symgrad.derivation.derive import FORMATS as DERIVE_FORMATS
from symgrad.derivation.verify import FORMATS as VERIFY_FORMATS
from symgrad.networks import COSTS, INITS, LEVELS, OUTPUTS
from symgrad.numeric.backend import BACKENDS
from symgrad.numeric.compile import DTYPES
from symgrad.numeric.optim import OPTIMIZERS
from symgrad.numeric.schedule import SCHEDULES
from symgrad.numeric.train import MONITORS, NONFINITE, OVERRIDABLE
from symgrad.printing.latex import FORMS
from symgrad.store.data import EVALUATIONS
from symgrad.store.fetch import FETCHABLE

#: The library's table each choice flag reads.
TABLES = {
    "--activation": ACTIVATIONS, "--output": OUTPUTS, "--cost": COSTS, "--level": LEVELS, "--form": FORMS,
    "--optimizer": OPTIMIZERS, "--init": INITS, "--dtype": DTYPES, "--on-nonfinite": NONFINITE,
    "--eval": EVALUATIONS, "--backend": BACKENDS, ("data fetch", "name"): FETCHABLE,
    ("derive", "--format"): DERIVE_FORMATS, ("verify", "--format"): VERIFY_FORMATS,
    "--schedule": SCHEDULES, "--early-stop": MONITORS, "--override": OVERRIDABLE,
}


def _choice_flags(parser=None, prefix=""):
    """``(command, action)`` of every flag or positional with choices, in subcommands of subcommands too."""
    parser = parser or build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, p in sub.choices.items():
        name = f"{prefix}{command}"
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from _choice_flags(p, f"{name} ")
            elif action.choices is not None:
                yield name, action


CHOICES = list(_choice_flags())


def test_every_choice_flag_reads_a_library_table():
    assert len(CHOICES) >= 18
    for command, action in CHOICES:
        flag = (action.option_strings or [action.dest])[0]
        table = TABLES.get((command, flag), TABLES.get(flag))
        assert table is not None, f"symgrad {command} {flag}: which library table?"
        assert list(action.choices) == list(table), (command, flag)


@pytest.mark.parametrize("command, action", CHOICES, ids=[f"{c} {(a.option_strings or [a.dest])[0]}" for c, a in CHOICES])
def test_every_choice_takes_the_hyphen_spelling_and_stands_for_the_library_name(command, action):
    for name in action.choices:
        assert action.type(name) == name
        assert action.type(name.replace("_", "-")) == name
    assert action.type("no-such-thing") == "no-such-thing"  # left for argparse to refuse, as typed


def test_hyphen_spellings_end_to_end(capsys):
    assert main(["derive", "--sizes", "2,2", "--cost", "log-likelihood"]) == 0
    assert capsys.readouterr().out.startswith("2-2 sigmoid network with a softmax output, log_likelihood cost")
    assert main(["derive", "--sizes", "2,2", "--cost", "cross-entropy", "--output", "sigmoid"]) == 0
    assert "cross_entropy cost" in capsys.readouterr().out
    assert main(["derive", "--sizes", "2,2", "--cost", "cross-entropi"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "invalid choice: 'cross-entropi'" in err


def test_help_shows_one_spelling(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "{quadratic,cross_entropy,log_likelihood}" in out and "cross-entropy" not in out
    assert "{sigmoid,tanh,relu,identity,softmax}" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"symgrad {__version__}\n"


def test_no_command_prints_the_command_list_and_exits_2(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("usage: symgrad ") and err == ""
    for command in EXAMPLES:
        assert f"\n    {command} " in out, command


@pytest.mark.parametrize("text", ["784,30,10", "784-30-10", "784, 30, 10", "784 30 10", " 784 - 30 - 10 ",
                                  "784,\t30,10"])
def test_sizes_take_commas_hyphens_and_spaces(text):
    assert sizes_arg(text) == [784, 30, 10]


@pytest.mark.parametrize("text", ["2,,3", "2--3", "2-", ",2,3", "2, ,3", "2;3", "2.5,3"])
def test_sizes_with_an_empty_or_bad_entry_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--sizes"):
        sizes_arg(text)


def test_sizes_with_spaces_on_the_command_line(capsys):
    assert main(["derive", "--sizes", "2 3 2"]) == 0
    assert capsys.readouterr().out.startswith("2-3-2 sigmoid network")
    assert main(["derive", "--sizes", "2-3-2"]) == 0
    assert capsys.readouterr().out.startswith("2-3-2 sigmoid network")


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    """``symgrad derive | head -1``: no BrokenPipeError traceback, the status a shell gives a closed pipe."""

    class Closed:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", Closed())
    assert main(["derive", "--sizes", "2,3,2"]) == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, culprit", [
    (["train", "--dataset", "xor", "--sizes", "2,2", "--seed", "-1", "--epochs", "1"], "--seed"),
    (["verify", "--sizes", "2,2", "--seed", "-3"], "--seed"),
    (["demo", "--seed", "-1", "--epochs", "1"], "--seed"),
    (["derive", "--sizes", "2,2", "--max-formulas", "0", "--level", "neuron"], "--max-formulas"),
    (["verify", "--sizes", "2,2", "--max-params", "0"], "--max-params"),
    (["explain", "--out", "s.md", "--input", ""], "--input"),
    (["explain", "--out", "s.md", "--sizes", "2,1", "--cost", "log_likelihood"], "--cost log_likelihood"),
    (["explain", "--out", "s.md", "--sizes", "2,2", "--lr", "0"], "--lr"),
])
def test_more_bad_flags_are_one_line_errors(argv, culprit, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"symgrad {argv[0]}: error: ") and culprit in lines[0], lines[0]
