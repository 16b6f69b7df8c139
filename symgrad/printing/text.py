"""LaTeX as terminal text: the formulas symgrad writes, readable without a TeX renderer.

Used by `symgrad derive`'s text output and by the node labels of a `.dot` drawing.
"""

from __future__ import annotations

import re

__all__ = ["legend", "to_text"]

_SIMPLE_SCRIPT = re.compile(r"[\w′'ᵀ.*∘]+")


def to_text(tex: str) -> str:
    r"""A readable plain-text rendering of our LaTeX (for terminals).

    `\frac{\partial C}{\partial b^{3}}` prints as `∂C/∂b^3`, `\nabla_{a^{3}} C` as
    `∇_(a^3) C` (a script of more than one symbol is bracketed), `(W^{3})^{T}` as
    `(W^3)ᵀ`, and the all-ones `\mathbf{1}`, `\mathbf{1}\mathbf{1}^{T}` as 𝟏, 𝟏𝟏ᵀ
    (`legend` says what they are, once).
    """
    # The all-ones vector and matrix in bold (𝟏, 𝟏𝟏ᵀ): a bare 1 1ᵀ reads as "eleven-transpose".
    out = tex.replace(r"\mathbf{1}", "𝟏")
    out = re.sub(r"\\(?:mathrm|operatorname|text|mathbf|mathit)\{([^{}]*)\}", r"\1", out)
    for a, b in (
        (r"\left(", "("), (r"\right)", ")"), (r"\left[", "["), (r"\right]", "]"), (r"\odot", "⊙"),
        (r"\delta", "δ"), (r"\sigma", "σ"), (r"\nabla", "∇"), (r"\partial ", "∂"), (r"\partial", "∂"),
        (r"\frac{1}{2}", "½"), ("^{T}", "ᵀ"), (r"\tanh", "tanh"), (r"\log", "ln"), (r"\ln", "ln"),
        (r"\cdot", "·"), (r"\times", "×"), (r"\lambda", "λ"), (r"\eta", "η"), (r"\sum", "Σ"),
        (r"\epsilon", "ε"), (r"\qquad", "  "), (r"\quad", "  "), (r"\,", " "), (r"\circ ", "∘"), (r"\circ", "∘"),
        (r"\left\lVert ", "‖"), (r" \right\rVert", "‖"),
    ):
        out = out.replace(a, b)
    group = r"([^{}]*(?:\{[^{}]*\}[^{}]*)*)"
    out = re.sub(r"\\sqrt\{" + group + r"\}", r"√(\1)", out)
    frac = re.compile(r"\\frac\{" + group + r"\}\{" + group + r"\}")

    def fraction(m: re.Match) -> str:
        num, den = m.group(1).strip(), m.group(2).strip()
        wrap = [f"({x})" if re.search(r"[\s+\-·×]", x) else x for x in (num, den)]
        return f"{wrap[0]}/{wrap[1]}"

    while (new := frac.sub(fraction, out)) != out:
        out = new
    # Innermost scripts first: ^{3} -> ^3; a compound script is bracketed, ^(l+1), marked \x01…\x02.
    script = re.compile(r"([\^_])\{([^{}]*)\}")

    def flatten(m: re.Match) -> str:
        body = m.group(2).strip()
        return m.group(1) + (body if _SIMPLE_SCRIPT.fullmatch(body) else f"\x01{body}\x02")

    while (new := script.sub(flatten, out)) != out:
        out = new
    out = out.replace("\\", "").replace("{", "").replace("}", "")
    out = out.replace("\x01", "(").replace("\x02", ")")
    return re.sub(r"  +", " ", out).strip()


def legend(text: str) -> str:
    """One line that says what the all-ones 𝟏, 𝟏𝟏ᵀ and an entrywise fraction in `text` mean ("" if none)."""
    parts = []
    if "𝟏𝟏ᵀ" in text:
        parts.append("𝟏𝟏ᵀ is a matrix of ones")
    if "𝟏" in text.replace("𝟏𝟏ᵀ", ""):
        parts.append("𝟏 a column of ones" if parts else "𝟏 is a column of ones")
    if re.search(r"⊙[^\n]*/|/[^\n]*⊙", text):
        parts.append("⊙ and / act entry by entry")
    return ("(" + "; ".join(parts) + ")") if parts else ""
