r"""The one report document model: a title, paragraphs, equations, tables and figures in sections.

A `Report` renders as Markdown, with the maths as `$…$` LaTeX (GitHub, mkdocs
with arithmatex, Jupyter), or as one self-contained HTML page whose maths is MathML
(`tex_to_mathml`), which browsers render natively: no script,
no network. `symgrad explain`'s step reports, `symgrad verify`'s Markdown tables and
`symgrad derive`'s Markdown are written with it.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..store.files import atomic_write
from .mathml import tex_to_mathml

__all__ = ["Equation", "Figure", "Paragraph", "Report", "Section", "Table", "inline_svg", "report_format"]


@dataclass
class Paragraph:
    """Prose with inline maths between `$…$`."""

    text: str


@dataclass
class Equation:
    """A display equation over several rows: `lhs = rows[0]`, then `= rows[1]`, …"""

    lhs: str
    rows: list[str]


@dataclass
class Table:
    """A table; cells may hold inline `$…$` maths.

    `align` has one letter per column, `l` or `r` (Markdown's `---` or `---:`); by
    default a label column, then columns of numbers.
    """

    header: list[str]
    rows: list[list[str]]
    align: str = ""

    def alignment(self) -> str:
        return self.align or "l" + "r" * (len(self.header) - 1)


@dataclass
class Figure:
    """A picture (SVG text, as `symgrad.printing.drawing.svg` draws it) with a caption; HTML only."""

    svg: str
    caption: str


Block = Paragraph | Equation | Table | Figure


@dataclass
class Section:
    """A titled part of a report (a section without a title continues the one before)."""

    title: str
    blocks: list[Block] = field(default_factory=list)


_CSS = """
.symgrad-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
  max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; color: #1d1d1f; }
.symgrad-report h1 { font-size: 1.6rem; margin-bottom: .2rem; }
.symgrad-report h2 { font-size: 1.25rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.symgrad-report .eq { display: grid; grid-template-columns: max-content auto; column-gap: .4rem;
  align-items: center; margin: .8rem 0 .8rem 1rem; overflow-x: auto; }
.symgrad-report .eq .lhs { text-align: right; }
.symgrad-report math { font-size: 1.12em; }
.symgrad-report .eq math { math-style: normal; }
.symgrad-report .eq > div { padding: .12rem 0; }
.symgrad-report table { border-collapse: collapse; margin: .8rem 0; }
.symgrad-report th, .symgrad-report td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
.symgrad-report th { background: #f3f0fa; }
.symgrad-report td.num { font-variant-numeric: tabular-nums; text-align: right; }
.symgrad-report figure { margin: 1rem 0; }
.symgrad-report figure svg { max-width: 100%; height: auto; }
.symgrad-report figcaption { font-size: .9rem; color: #555; }
.symgrad-report .ok { color: #1b7f3b; } .symgrad-report .note { color: #8a5a00; }
"""


def _marked(text: str) -> str:
    """Prose as HTML, with the Markdown a report's prose uses: `**bold**` and `code`."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _inline_html(text: str) -> str:
    parts = re.split(r"(\$[^$]+\$)", text)
    out = []
    for p in parts:
        if len(p) > 1 and p.startswith("$") and p.endswith("$"):
            out.append(tex_to_mathml(p[1:-1], display=False))
        else:
            out.append(_marked(p))
    return "".join(out)


def _is_number(cell: str) -> bool:
    return bool(re.fullmatch(r"[−\-]?[0-9.]+(e[-+]?[0-9]+)?", cell.strip()))


def inline_svg(raw: str) -> str:
    """matplotlib's SVG made fit for inlining in HTML: no XML prolog, DOCTYPE or RDF metadata."""
    s = re.sub(r"<\?xml[^>]*\?>\s*", "", raw)
    s = re.sub(r"<!DOCTYPE[^>]*>\s*", "", s)
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns:xlink="[^"]*"', "", s)
    s = re.sub(r'\s+xmlns="[^"]*"', "", s)
    s = s.replace("xlink:href=", "href=")
    return s


# ------------------------------------------------------------------ Markdown
def _markdown(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Equation):
        if len(block.rows) == 1:
            return [f"$$ {block.lhs} = {block.rows[0]} $$", ""]
        body = " \\\\\n".join((f"{block.lhs} &= {r}" if i == 0 else f"&= {r}") for i, r in enumerate(block.rows))
        return ["$$", "\\begin{aligned}", body, "\\end{aligned}", "$$", ""]
    if isinstance(block, Table):
        rule = ["---:" if a == "r" else "---" for a in block.alignment()]
        rows = [block.header, rule, *block.rows]
        return ["| " + " | ".join(r) + " |" for r in rows] + [""]
    return []  # a figure is for HTML


# ---------------------------------------------------------------------- HTML
def _html(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_inline_html(block.text)}</p>"
    if isinstance(block, Equation):
        cells = []
        for i, r in enumerate(block.rows):
            lhs = tex_to_mathml(block.lhs, display=False) if i == 0 else ""
            rhs = tex_to_mathml("= " + r, display=False)
            cells.append(f'<div class="lhs">{lhs}</div><div class="rhs">{rhs}</div>')
        return '<div class="eq">' + "".join(cells) + "</div>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline_html(h)}</th>" for h in block.header)
        rows = "".join(
            "<tr>" + "".join(
                f'<td class="num">{html.escape(c)}</td>' if _is_number(c) else f"<td>{_inline_html(c)}</td>"
                for c in r
            ) + "</tr>"
            for r in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f"<figure>{inline_svg(block.svg)}<figcaption>{html.escape(block.caption)}</figcaption></figure>"


@dataclass
class Report:
    """A document: a title, blocks, then sections of blocks; shows itself in a notebook.

    `level` is the title's heading level (2 for a report printed inside another
    document); the sections' headings are one level below it.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    level: int = 1

    def _parts(self) -> list[tuple[int, str, list[Block]]]:
        """(heading level, title, blocks) of the document and its sections, in order."""
        return [(self.level, self.title, self.blocks), *((self.level + 1, s.title, s.blocks) for s in self.sections)]

    def to_markdown(self) -> str:
        """Markdown with `$…$` / `$$…$$` LaTeX, ending in one newline."""
        lines: list[str] = []
        for level, title, blocks in self._parts():
            if title:
                lines += [f"{'#' * level} {title}", ""]
            for b in blocks:
                lines += _markdown(b)
        return "\n".join(lines).rstrip() + "\n"

    def _body_html(self) -> str:
        out = []
        for level, title, blocks in self._parts():
            if title:
                out.append(f"<h{level}>{_inline_html(title)}</h{level}>")
            out += [_html(b) for b in blocks]
        return "\n".join(out)

    def to_html(self, full: bool = True) -> str:
        """A self-contained HTML page (`full`) or fragment; maths as MathML, no scripts, no links."""
        body = f'<div class="symgrad-report">\n{self._body_html()}\n</div>'
        if not full:
            return f"<style>{_CSS}</style>\n{body}"
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html(full=False)

    def __str__(self) -> str:
        return self.to_markdown()

    def save(self, path: str | os.PathLike) -> Path:
        """Write `.md` (Markdown) or `.html` atomically; returns the path."""
        text = self.to_html() if report_format(path) == "html" else self.to_markdown()
        return atomic_write(path, text)


def report_format(path: str | os.PathLike) -> str:
    """`"markdown"` or `"html"`, as the suffix of `path` asks (`.md`, `.markdown`, `.html`, `.htm`)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "markdown"
    if suffix in (".html", ".htm"):
        return "html"
    raise UsageError(f"path {str(path)!r}: the file name must end in .md or .html", arg="path")
