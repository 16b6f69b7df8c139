"""Printing: LaTeX in the book's notation, terminal text, MathML, reports, pictures and curves.

`latex` writes formulas (Nielsen's notation, factored in δ or expanded); `text` turns
them into terminal text and `mathml` into MathML; `report` is the one document model
(Markdown and HTML); `drawing` draws computational graphs (SVG and DOT written here, PNG
with matplotlib, the `plot` extra) and `plotting` training curves (matplotlib).
"""

from ..core import display
from .drawing import draw, notebook_html, notebook_svg, svg
from .latex import (
    FORMS,
    BookLatexPrinter,
    Formula,
    equation,
    factored,
    latex,
    passes_along,
    tex_names,
    to_latex,
)
from .mathml import tex_to_mathml
from .plotting import training_curves
from .report import Equation, Figure, Paragraph, Report, Section, Table
from .text import to_text

# The core's notebook displays (Graph, Node, Network) are printed and drawn here: the core
# keeps a table of display hooks and this layer fills it, so the core never imports upwards.
display.register("latex", latex)
display.register("svg", notebook_svg)
display.register("html", notebook_html)

__all__ = [
    "FORMS",
    "BookLatexPrinter",
    "Equation",
    "Figure",
    "Formula",
    "Paragraph",
    "Report",
    "Section",
    "Table",
    "draw",
    "equation",
    "factored",
    "latex",
    "passes_along",
    "svg",
    "tex_names",
    "tex_to_mathml",
    "to_latex",
    "to_text",
    "training_curves",
]
