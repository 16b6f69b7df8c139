"""Printing."""

from .latex import FORMS, BookLatexPrinter, Formula, _passes_along, equation, factored, latex, to_latex

__all__ = ["FORMS", "BookLatexPrinter", "Formula", "_passes_along", "equation", "factored", "latex", "to_latex"]
