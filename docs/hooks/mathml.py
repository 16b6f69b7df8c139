"""mkdocs hook: turn arithmatex's ``\\(…\\)`` / ``\\[…\\]`` spans into MathML at build time.

Browsers render MathML natively, so the site's maths needs no JavaScript and no
network (symgrad's own LaTeX→MathML converter, :func:`symgrad.printing.mathml.tex_to_mathml`).
"""

from __future__ import annotations

import html
import re

from symgrad.printing.mathml import tex_to_mathml

_SPAN = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_DIV = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _convert(tex: str, display: bool) -> str:
    return tex_to_mathml(html.unescape(tex).strip(), display=display)


def on_page_content(content: str, **kwargs: object) -> str:
    content = _DIV.sub(lambda m: f'<div class="math">{_convert(m.group(1), True)}</div>', content)
    return _SPAN.sub(lambda m: _convert(m.group(1), False), content)
