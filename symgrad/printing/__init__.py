"""Printing: LaTeX in the book's notation, terminal text, MathML, reports, pictures and curves.

`latex` writes formulas (Nielsen's notation, factored in δ or expanded); `text` turns
them into terminal text and `mathml` into MathML; `report` is the one document model
(Markdown and HTML); `drawing` draws computational graphs (SVG and DOT written here, PNG
with matplotlib, the `plot` extra) and `plotting` training curves (matplotlib).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..core import display
from ..errors import lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .drawing import draw, svg
    from .latex import (
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
    from .names import FORMS
    from .plotting import training_curves
    from .report import Equation, Figure, Paragraph, Report, Section, Table
    from .text import to_text

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

lazy_exports(__name__, {
    "draw": ".drawing",
    "svg": ".drawing",
    "FORMS": ".names",
    "BookLatexPrinter": ".latex",
    "Formula": ".latex",
    "equation": ".latex",
    "factored": ".latex",
    "latex": ".latex",
    "passes_along": ".latex",
    "tex_names": ".latex",
    "to_latex": ".latex",
    "tex_to_mathml": ".mathml",
    "training_curves": ".plotting",
    "Equation": ".report",
    "Figure": ".report",
    "Paragraph": ".report",
    "Report": ".report",
    "Section": ".report",
    "Table": ".report",
    "to_text": ".text",
})


def _hook(module: str, name: str) -> Callable[[Any], str | None]:
    def show(obj: Any) -> str | None:  # the printing modules load at the first display
        return getattr(import_module(module, __name__), name)(obj)
    return show


# The core's notebook displays (Graph, Node, Network) are printed and drawn here: the core
# keeps a table of display hooks and this layer fills it, so the core never imports upwards.
display.register("latex", _hook(".latex", "latex"))
display.register("svg", _hook(".drawing", "notebook_svg"))
display.register("html", _hook(".drawing", "notebook_html"))
