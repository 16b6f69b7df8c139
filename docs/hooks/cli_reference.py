"""mkdocs hook: the command-line page's `--help` texts and example outputs, produced when the site is built.

In `docs/cli.md` a line

    <!-- symgrad: ARGS -->

becomes a console block showing `$ symgrad ARGS` and what that command prints, run at build time (in a
scratch folder, in this process, help at 100 columns); a non-zero exit status is shown as `$ echo $?`.
`<!-- symgrad example: NAME -->` runs the example `symgrad NAME --help` ends with (`EXAMPLES` in
`symgrad.cli.main`; `a && b` in turn, in one folder) and fails the build unless it ends by printing
what its `# →` promises. So the page
cannot drift from the parser: a new flag shows up in the next build, with nothing to edit here.
`SYMGRAD_DOCS_EXAMPLES=0` builds the page without running the examples (a quick build for the tests
that look at other pages); the help texts are still the parser's.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repository's symgrad, as the API reference reads it
    sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"^<!-- symgrad(?P<example> example)?: (?P<args>.*?) -->$", re.M)
LONG = 30  # an example's output longer than this shows its first and last lines (help is shown whole)
HEAD, TAIL = 16, 8


def run(*commands: list[str]) -> list[tuple[int, str]]:
    """Each `symgrad ARGS` in turn, in this process, in one scratch folder: (exit status, stdout + stderr).

    A chain stops at the first command that fails, as `a && b` does.
    """
    from symgrad.cli.main import main

    results = []
    here, columns = os.getcwd(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        with tempfile.TemporaryDirectory(prefix="symgrad-docs-") as scratch:
            os.chdir(scratch)
            for args in commands:
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                    try:
                        status = main(args)
                    except SystemExit as e:  # argparse's own exits
                        status = e.code if isinstance(e.code, int) else 1
                results.append((status, out.getvalue()))
                if status != 0:
                    break
    finally:
        os.chdir(here)
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return results


def shorten(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= LONG:
        return "\n".join(lines)
    return "\n".join([*lines[:HEAD], f"[… {len(lines) - HEAD - TAIL} more lines …]", *lines[-TAIL:]])


def block(shown: list[tuple[str, int, str]], short: bool = False) -> str:
    """A console block of `$ command` lines and their output; a failing command's status as `$ echo $?`."""
    lines = []
    for command, status, output in shown:
        lines += [f"$ {command}", *([shorten(output) if short else output.rstrip()] if output.strip() else [])]
        if status != 0:
            lines += ["$ echo $?", str(status)]
    return "```console\n" + "\n".join(lines) + "\n```"


def expand(match: re.Match[str]) -> str:
    from symgrad.cli.main import EXAMPLES

    if match.group("example"):
        name = match.group("args").strip()
        if name not in EXAMPLES:
            raise ValueError(f"docs/cli.md: no example for {name!r} (EXAMPLES has {sorted(EXAMPLES)})")
        line, _, promise = EXAMPLES[name].partition("  # → ")
        chain = [part.strip() for part in line.split("&&")]
        if os.environ.get("SYMGRAD_DOCS_EXAMPLES") == "0":
            return "```console\n" + "\n".join(f"$ {c}" for c in chain) + "\n[not run in this build of the docs]\n```"
        results = run(*(shlex.split(c)[1:] for c in chain))
        if len(results) < len(chain) or results[-1][0] != 0 or promise not in results[-1][1]:
            raise ValueError(f"docs/cli.md: `{line}` did not end by printing {promise!r}:\n{results}")
        return block([(c, status, out) for c, (status, out) in zip(chain, results)], short=True)
    args = shlex.split(match.group("args"))
    ((status, output),) = run(args)
    return block([(shlex.join(["symgrad", *args]), status, output)])


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != "cli.md":
        return markdown
    return MARKER.sub(expand, markdown)
