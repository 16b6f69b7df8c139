"""Issue 9: every example a user is shown reaches what it promises.

The examples are every subcommand's ``--help`` example (:data:`symgrad.cli.main.EXAMPLES`) and every
shell command of the README. An example's promise is the text after ``# →``: the test runs the command
(in a scratch folder) and finds that text in what it prints — for ``train``, in the line of its last epoch,
not in some earlier one. A chain ``a && b  # → …`` runs its commands in turn in one folder (``symgrad train …
--save m.npz && symgrad evaluate --model m.npz …``); each must succeed, and the promise is about the last.
A README command that reads a model file (``symgrad info mnist.npz``) runs after the README command that
saves it (``symgrad train … --save mnist.npz``), in the same folder. A README command without a promise must be one that has a promise elsewhere, so
none goes unchecked; the README's only other shell lines are named below, with the reason they are not run.
``docs/cli.md`` runs the commands it shows when the site is built (``tests/test_docs_cli.py``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from symgrad.cli.main import EXAMPLES, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The docs page of the train → evaluate → predict cycle: its shell commands are checked as the README's are.
WORKFLOW = (ROOT / "docs" / "workflow.md").read_text(encoding="utf-8")
PROMISE = re.compile(r"\s+# → ")
EPOCH = re.compile(r"epoch \d+/\d+: ")

#: README shell lines that are not symgrad commands, and why the tests do not run them.
NOT_RUN = {
    'python -m pip install -e ".[test,plot,progress,docs,jax,threads]"': "installs from the package index; CI (.ci/run) does it",
    "python -m pytest": "the test suite itself",
    "symgrad data fetch mnist": "downloads from the public mirrors; tests/test_fetch.py runs it against a loopback server",
    "symgrad train --mnist": "needs the full MNIST set (symgrad data fetch mnist); tests/test_data.py covers --mnist",
    "symgrad train --mnist [DIR]": "needs the full MNIST set (symgrad data fetch mnist); tests/test_data.py covers --mnist",
}


def _split(line: str) -> tuple[str, str | None]:
    parts = PROMISE.split(line.strip(), maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) == 2 else None)


def readme_lines(text: str = README) -> list[str]:
    """The commands of the README's ``bash`` blocks (``a && b`` is two, unless it promises something: then it is
    one chain, run in one folder)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                command, promise = _split(line)
                if promise is not None:
                    lines.append(f"{command}  # → {promise}")
                    continue
                lines += [part.strip() for part in command.split("&&")]
    return lines


def _chain(command: str) -> list[str]:
    return [part.strip() for part in command.split("&&")]


def _saves(command: str) -> set[str]:
    words = shlex.split(command)
    return {b for a, b in zip(words, words[1:]) if a == "--save"}


def _setup(command: str) -> list[str]:
    """The promised commands that save the model files ``command`` reads, to run before it (in order)."""
    reads = {w for w in shlex.split(command) if w.endswith(".npz")} - _saves(command)
    before = []
    for name in sorted(reads):
        maker = next((c for c in PROMISED if name in _saves(c)), None)
        if maker is not None and maker not in before:
            before += [*_setup(maker), maker]
    return before


def promised() -> dict[str, str]:
    """Every example with a promise: command → the text it must print."""
    out: dict[str, str] = {}
    for line in [*EXAMPLES.values(), *readme_lines(), *readme_lines(WORKFLOW)]:
        command, promise = _split(line)
        if promise is not None:
            assert out.get(command, promise) == promise, f"{command!r} promises two things"
            out[command] = promise
    return out


PROMISED = promised()


def test_every_help_example_promises_something():
    for name, line in EXAMPLES.items():
        command, promise = _split(line)
        assert promise, f"the --help example of {name} says nothing of what it reaches: {line!r}"
        assert shlex.split(_chain(command)[-1])[:2] == ["symgrad", name]
        assert all(part.startswith("symgrad ") for part in _chain(command)), line


def test_every_workflow_command_promises_something():
    lines = readme_lines(WORKFLOW)
    assert len(lines) >= 6
    for line in lines:
        command, promise = _split(line)
        assert promise and command.startswith("symgrad "), f"docs/workflow.md: {line!r} promises nothing"


def test_every_readme_command_is_checked():
    lines = readme_lines()
    assert len(lines) >= 7
    for line in lines:
        command, promise = _split(line)
        if promise is not None:
            assert all(part.startswith("symgrad ") for part in _chain(command)), command
        elif not command.startswith("symgrad "):
            assert command in NOT_RUN, f"README shell line {command!r} is neither run nor said why not"
        elif promise is None:
            assert command in PROMISED, f"README command {command!r} promises nothing and is not checked elsewhere"
    # inline commands in the prose: a bare `symgrad <command>`, its --help, or an example checked here
    for span in re.findall(r"`(symgrad(?: [^`]*)?)`", README):
        words = span.split()
        bare = len(words) <= 2 or words[2:] == ["--help"]
        assert bare or span in PROMISED or span in NOT_RUN, f"README mentions {span!r}, which no test runs"
        if len(words) > 1:
            assert words[1] in EXAMPLES or words[1].startswith("-"), span


def _printed(out: str) -> str:
    """What a command printed, its epoch lines but the last left out (a promise is about where it ends)."""
    lines = out.splitlines()
    epochs = [i for i, line in enumerate(lines) if EPOCH.match(line)]
    return "\n".join(line for i, line in enumerate(lines) if i not in epochs[:-1])


@pytest.mark.parametrize("command", sorted(PROMISED))
def test_example_reaches_what_it_promises(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for part in [p for c in _setup(command) for p in _chain(c)] + _chain(command):  # the last one's output holds the promise
        status = main(shlex.split(part)[1:])
        out, err = capsys.readouterr()
        assert status == 0, (part, out, err)
        assert "Traceback" not in err
    assert PROMISED[command] in _printed(out), f"{command} promises {PROMISED[command]!r}; it printed:\n{out}"
