"""Docstrings are Google style with Markdown: what mkdocstrings renders and `help()` shows.

No Sphinx/reST markup (roles such as `:func:`, `::` literal blocks, double-backquote literals),
and maths sits in code spans (or `$…$`), where Markdown cannot turn `w^{l}_{jk}` into italics.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from extras_hidden import needs

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "symgrad").rglob("*.py"))

ROLE = re.compile(r":(?:py:)?[a-z]+:`")
LITERAL_BLOCK = re.compile(r"::\s*$", re.M)
DOUBLE_BACKQUOTE = re.compile(r"``[^`]+``")  # reST's literal; Markdown needs `` only around a `
FENCE = re.compile(r"^\s*```.*?^\s*```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`]+`")
MATH = re.compile(r"\$[^$\n]+\$")
TEX_SCRIPT = re.compile(r"[_^]\{")


def docstrings() -> list[tuple[str, str]]:
    """(where, text) of every module, class and function docstring, and of `#:` comments."""
    found = []
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    found.append((f"{rel}:{getattr(node, 'lineno', 1)} {getattr(node, 'name', '')}", doc))
        for i, line in enumerate(source.splitlines(), 1):
            if line.lstrip().startswith("#:"):
                found.append((f"{rel}:{i} #:", line.lstrip()[2:]))
    return found


DOCS = docstrings()


def prose(doc: str) -> str:
    """The docstring without fenced or indented code blocks, code spans and `$…$` maths."""
    doc = FENCE.sub("", doc)
    lines, previous_blank = [], True
    for line in doc.splitlines():
        # An indented block after a blank line is a Markdown code block (display formulas).
        if line.startswith("    ") and previous_blank and not re.match(r"\s*([*-]|\d+\.)\s", line):
            continue
        previous_blank = not line.strip()
        lines.append(line)
    return MATH.sub("", CODE_SPAN.sub("", "\n".join(lines)))


def test_the_scan_finds_the_docstrings():
    names = {where.split()[-1] for where, _ in DOCS}
    assert len(DOCS) > 300 and {"Graph", "backprop", "mlp", "latex"} <= names


def test_no_sphinx_markup():
    bad = [f"{where}: {m.group(0)}…" for where, doc in DOCS for m in ROLE.finditer(doc)]
    bad += [f"{where}: line ends with '::'" for where, doc in DOCS if LITERAL_BLOCK.search(FENCE.sub("", doc))]
    bad += [f"{where}: ``literal``" for where, doc in DOCS if DOUBLE_BACKQUOTE.search(FENCE.sub("", doc))]
    assert not bad, "reST markup in docstrings (use Markdown, see DEVELOPERS.md):\n" + "\n".join(bad)


def test_maths_is_in_code_spans():
    bad = [f"{where}: {line.strip()}" for where, doc in DOCS for line in prose(doc).splitlines()
           if TEX_SCRIPT.search(line)]
    assert not bad, "TeX scripts outside code spans or $…$ in docstrings:\n" + "\n".join(bad)


@pytest.mark.parametrize("doc", ["The weight w^{l}_{jk} and ∇_{a} C.", "Build it:: \n\n    g = Graph()",
                                 "A :class:`Graph`.", "``g.nx``"])
def test_the_checks_catch_the_old_style(doc):
    caught = (ROLE.search(doc) or LITERAL_BLOCK.search(doc) or DOUBLE_BACKQUOTE.search(doc)
              or TEX_SCRIPT.search(prose(doc)))
    assert caught


@needs("mkdocs")
def test_no_underscore_turns_into_emphasis():
    """Markdown's `_…_` emphasis must not eat the underscores of subscripts such as `b^l_j`."""
    import markdown

    def emphasis(text: str) -> int:
        html = markdown.markdown(text, extensions=["fenced_code"])
        return len(re.findall(r"<(?:em|strong)>", html))

    assert emphasis("from ∇_{a} C to w_{jk}") > emphasis("from ∇x{a} C to wx{jk}")  # the check can fail
    bad = [where for where, doc in DOCS if emphasis(doc) != emphasis(doc.replace("_", "x"))]
    assert not bad, "underscores that Markdown renders as emphasis:\n" + "\n".join(bad)


def test_help_shows_the_markdown_as_written():
    import symgrad

    doc = inspect.getdoc(symgrad.Graph)
    assert "```python" in doc and "g = Graph()" in doc and ":class:" not in doc
