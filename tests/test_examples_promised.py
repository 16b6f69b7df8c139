"""Issue 9: every example a user is shown reaches what it promises.

The examples are every subcommand's ``--help`` example (:data:`symgrad.cli.main.EXAMPLES`) and every
shell command of the README. An example's promise is the text after ``# →``: the test runs the command
(in a scratch folder) and finds that text in what it prints — for ``train``, in the line of its last epoch,
not in some earlier one. A README command without a promise must be one that has a promise elsewhere, so
none goes unchecked; the README's only other shell lines are named below, with the reason they are not run.
``docs/cli.md`` shows each ``--help`` as it is, and its error example prints what it shows.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from symgrad.cli.main import EXAMPLES, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
PROMISE = re.compile(r"\s+# → ")
EPOCH = re.compile(r"epoch \d+/\d+: ")

#: README shell lines that are not symgrad commands, and why the tests do not run them.
NOT_RUN = {
    'python -m pip install -e ".[test,plot,progress,jax,threads]"': "installs from the package index; CI (.ci/run) does it",
    "python -m pytest": "the test suite itself",
    "symgrad data fetch mnist": "downloads from the public mirrors; tests/test_fetch.py runs it against a loopback server",
    "symgrad train --mnist": "needs the full MNIST set (symgrad data fetch mnist); tests/test_data.py covers --mnist",
    "symgrad train --mnist [DIR]": "needs the full MNIST set (symgrad data fetch mnist); tests/test_data.py covers --mnist",
}


def _split(line: str) -> tuple[str, str | None]:
    parts = PROMISE.split(line.strip(), maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) == 2 else None)


def readme_lines() -> list[str]:
    """The commands of the README's ``bash`` blocks (``a && b`` is two)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                command, promise = _split(line)
                lines += [part.strip() for part in command.split("&&")[:-1]]
                last = command.split("&&")[-1].strip()
                lines.append(last if promise is None else f"{last}  # → {promise}")
    return lines


def promised() -> dict[str, str]:
    """Every example with a promise: command → the text it must print."""
    out: dict[str, str] = {}
    for line in [*EXAMPLES.values(), *readme_lines()]:
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
        assert shlex.split(command)[:2] == ["symgrad", name]


def test_every_readme_command_is_checked():
    lines = readme_lines()
    assert len(lines) >= 7
    for line in lines:
        command, promise = _split(line)
        if not command.startswith("symgrad "):
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
    status = main(shlex.split(command)[1:])
    out, err = capsys.readouterr()
    assert status == 0, (out, err)
    assert "Traceback" not in err
    assert PROMISED[command] in _printed(out), f"{command} promises {PROMISED[command]!r}; it printed:\n{out}"


def _normal(text: str) -> str:
    return " ".join(text.split())


def _doc_blocks() -> list[tuple[str, list[str]]]:
    """``(command, printed lines)`` of every ``$ symgrad …`` in docs/cli.md's console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", CLI_DOC, re.S):
        current: tuple[str, list[str]] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = (line[2:], [])
                out.append(current)
            elif current is not None:
                current[1].append(line)
    return out


def test_docs_show_every_help_as_it_is(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    helps = {c: lines for c, lines in _doc_blocks() if c.endswith("--help")}
    # every command's help, and the helps of a command's actions (symgrad data fetch --help) where it has them
    assert {"symgrad --help", *(f"symgrad {name} --help" for name in EXAMPLES)} <= set(helps)
    for command, lines in helps.items():
        assert main(shlex.split(command)[1:]) == 0
        real = capsys.readouterr().out
        assert _normal("\n".join(lines)) == _normal(real), f"docs/cli.md shows an old `{command}`; it is now:\n{real}"


def test_docs_examples_print_what_the_docs_show(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shown = [(c, lines) for c, lines in _doc_blocks() if not c.endswith("--help")]
    assert shown
    status = None
    for command, lines in shown:
        if command == "echo $?":
            assert lines == [str(status)]
            continue
        assert command.startswith("symgrad ") and lines, command
        status = main(shlex.split(command)[1:])
        out, err = capsys.readouterr()
        assert (out + err).splitlines() == lines, command
