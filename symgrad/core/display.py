"""Notebook displays of the core's objects, supplied from above.

A `Graph` shows itself in a notebook as a picture, a
`Node` as LaTeX, and a `Network` as both,
but printing and drawing sit in a layer above the core. So the core keeps this small table
of display hooks, and `symgrad.printing` fills it when it is imported (`import
symgrad` imports it), the way an extension registers itself. This is the one deliberate
upward hook of the package; the core never names printing or drawing.

Kinds: `"latex"` (an object's LaTeX, as `symgrad.latex` writes it), `"svg"`
(a graph's picture, or `None` when it is too big to draw) and `"html"` (a network's
picture and formulas together, the one display a notebook picks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_HOOKS: dict[str, Callable[[Any], str | None]] = {}


def register(kind: str, hook: Callable[[Any], str | None]) -> None:
    """Show objects' `kind` display with `hook(obj)` from now on."""
    _HOOKS[kind] = hook


def show(kind: str, obj: Any) -> str | None:
    """`obj`'s `kind` display, or `None` (the notebook then shows the text form) without a hook."""
    hook = _HOOKS.get(kind)
    return None if hook is None else hook(obj)
