"""docs/cli.md shows the parser's own help and the examples' real output: produced when the site is built.

The page holds markers, not copies (`docs/hooks/cli_reference.py` runs the commands at build time): every
command and data action has its `--help` marker, every example of `EXAMPLES` its example marker, and no
`$ symgrad …` console block is typed in by hand, so nothing on the page can drift from the parser.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from symgrad.cli.main import EXAMPLES, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _hook():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "docs" / "hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()
PAGE = SimpleNamespace(file=SimpleNamespace(src_uri="cli.md"))


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser: (), ("derive",), ("data", "fetch"), …"""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, (*prefix, name))
    return found


def test_every_command_and_example_has_its_marker():
    markers = {m.group("args") for m in HOOK.MARKER.finditer(CLI_DOC) if not m.group("example")}
    examples = {m.group("args") for m in HOOK.MARKER.finditer(CLI_DOC) if m.group("example")}
    missing = [" ".join([*c, "--help"]) for c in commands(build_parser()) if " ".join([*c, "--help"]) not in markers]
    assert not missing, f"docs/cli.md lacks <!-- symgrad: … --> markers for: {missing}"
    assert examples == set(EXAMPLES), f"example markers {sorted(examples)} against EXAMPLES {sorted(EXAMPLES)}"


def test_no_command_output_is_typed_in_by_hand():
    typed = re.findall(r"```console\n\$ symgrad[^\n]*", CLI_DOC)
    assert not typed, f"use a <!-- symgrad: ARGS --> marker instead of: {typed}"


def test_the_hook_shows_the_parsers_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["derive", "--help"]) == 0
    real = capsys.readouterr().out.rstrip()
    page = HOOK.on_page_markdown("before\n<!-- symgrad: derive --help -->\nafter", page=PAGE)
    assert page == f"before\n```console\n$ symgrad derive --help\n{real}\n```\nafter"
    assert "--max-formulas" in real
    other = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    assert HOOK.on_page_markdown("<!-- symgrad: --help -->", page=other) == "<!-- symgrad: --help -->"


def test_the_hook_shows_an_error_and_its_status():
    page = HOOK.on_page_markdown("<!-- symgrad: graph --out picture.jpg -->", page=PAGE)
    assert page.splitlines() == [
        "```console", "$ symgrad graph --out picture.jpg",
        "symgrad graph: error: --out 'picture.jpg': the file name must end in .svg, .png or .dot",
        "$ echo $?", "2", "```"]


def test_the_hook_runs_an_example_and_holds_it_to_its_promise(monkeypatch):
    page = HOOK.on_page_markdown("<!-- symgrad example: derive -->", page=PAGE)
    command, _, promise = EXAMPLES["derive"].partition("  # → ")
    assert page.startswith(f"```console\n$ {command}\n") and promise in page
    monkeypatch.setitem(EXAMPLES, "derive", f"{command}  # → something it never prints")
    with pytest.raises(ValueError, match="did not end by printing"):
        HOOK.on_page_markdown("<!-- symgrad example: derive -->", page=PAGE)


def test_a_long_output_keeps_its_first_and_last_lines():
    text = "\n".join(f"epoch {i}/500" for i in range(1, 501))
    short = HOOK.shorten(text).splitlines()
    assert short[0] == "epoch 1/500" and short[-1] == "epoch 500/500" and "more lines" in short[HOOK.HEAD]
    assert len(short) == HOOK.HEAD + HOOK.TAIL + 1
