"""The graph pictures in docs/img are what symgrad draws today (regenerate: python tests/test_docs_pictures.py).

They are embedded in the docs pages; drawn from the same code as `symgrad graph`, they must
not drift from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sympy as sp

import symgrad as sg
from symgrad.printing.drawing import network_for, svg
from symgrad.store.files import atomic_write

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def pictures() -> dict[str, str]:
    """``{file name: SVG}`` of every graph picture the docs show."""
    w = sp.Symbol("w", real=True)
    fff = sg.Graph.from_expr(sp.exp(sp.exp(sp.exp(w))), "z", role="cost")  # the tutorial's z = f(f(f(w)))
    sg.backprop(fff, "z")
    return {
        "graph-222.svg": svg(network_for([2, 2, 2], "neuron", "sigmoid", "quadratic", True)),
        "graph-layer.svg": svg(network_for([2, 3, 2], "layer", "sigmoid", "quadratic", True)),
        "fff.svg": svg(fff, title="z = f(f(f(w))) with f = exp, and its derivative nodes"),
    }


def test_docs_pictures_are_current():
    for name, text in pictures().items():
        assert (IMG / name).read_text(encoding="utf-8") == text, (
            f"docs/img/{name} is out of date: run python tests/test_docs_pictures.py")


if __name__ == "__main__":
    for name, text in pictures().items():
        atomic_write(IMG / name, text)
        print(f"wrote docs/img/{name}", file=sys.stderr)
