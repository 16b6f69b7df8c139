r"""LaTeX → MathML for the LaTeX subset symgrad writes, so a report's maths renders natively.

Browsers render presentation MathML (MathML Core) without a script or a network; an HTML
report (`symgrad.printing.report`) writes its formulas through `tex_to_mathml`.
"""

from __future__ import annotations

import html
import re

__all__ = ["tex_to_mathml"]

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε", "eta": "η",
    "theta": "θ", "lambda": "λ", "mu": "μ", "nu": "ν", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ",
    "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ",
    "Gamma": "Γ", "Lambda": "Λ", "Omega": "Ω", "Phi": "Φ", "Theta": "Θ",
    "partial": "∂", "nabla": "∇", "infty": "∞", "ell": "ℓ",
}
_OPS = {
    "cdot": "⋅", "times": "×", "odot": "⊙", "circ": "∘", "leftarrow": "←", "rightarrow": "→", "to": "→",
    "gets": "←", "approx": "≈", "neq": "≠", "ne": "≠", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "pm": "±", "mp": "∓", "in": "∈", "sum": "∑", "prod": "∏", "ldots": "…", "cdots": "⋯", "prime": "′",
    "lbrace": "{", "rbrace": "}", "{": "{", "}": "}", "|": "‖", "mid": "|", "quad": "\u2003",
    "Rightarrow": "⇒", "equiv": "≡", "sim": "∼", "colon": ":", "%": "%", "#": "#", "&": "&", "_": "_",
}
_FUNCS = {"ln", "log", "exp", "tanh", "sin", "cos", "max", "min", "tr", "det"}
_SPACES = {",": "0.1667em", ";": "0.2778em", ":": "0.2222em", "quad": "1em", "qquad": "2em", " ": "0.25em", "!": "0em"}
_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|[0-9]+(?:\.[0-9]+)?|\s+|.", re.S)


class _TexToMathML:
    """A small recursive-descent converter for the LaTeX subset symgrad writes."""

    def __init__(self, tex: str, strict: bool) -> None:
        self.toks = [t for t in _TOKEN.findall(tex) if not t.isspace()]
        self.i = 0
        self.strict = strict

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str | None:
        t = self.peek()
        self.i += 1
        return t

    def fail(self, what: str) -> str:
        if self.strict:
            raise ValueError(what)
        return f"<mtext>{html.escape(what)}</mtext>"

    def seq(self, stop: tuple[str, ...] = ()) -> str:
        items: list[str] = []
        while (t := self.peek()) is not None and t not in stop:
            if t in ("^", "_", "'"):
                items.append(self.scripts(items.pop() if items else "<mrow></mrow>"))
            else:
                items.append(self.atom())
        return "".join(items)

    def scripts(self, base: str) -> str:
        """A base's scripts, as TeX reads them: at most one `_` and one `^`, primes joining the `^`.

        `x^{a}^{b}` is an error in TeX ("Double superscript"); it is refused with `strict`, and
        otherwise written with both scripts kept, `{x^{a}}^{b}`: no script is ever dropped.
        """
        sub: str | None = None
        sup: list[str] = []
        primes = 0
        while (t := self.peek()) in ("^", "_", "'"):
            self.take()
            if t == "'":
                if sup:  # x^{a}' : the prime would be a second superscript
                    return self.double(base, sub, sup, "superscript", "<mo>′</mo>")
                primes += 1
                continue
            arg = self.arg()
            if t == "_":
                if sub is not None:
                    return self.double(base, sub, sup or [f"<mo>{'′' * primes}</mo>"] * bool(primes), "subscript",
                                       arg, "_")
                sub = arg
            else:
                if sup:
                    return self.double(base, sub, sup, "superscript", arg)
                sup = [f"<mo>{'′' * primes}</mo>"] * bool(primes) + [arg]
        if primes and not sup:
            sup = [f"<mo>{'′' * primes}</mo>"]
        return self.build(base, sub, sup)

    @staticmethod
    def build(base: str, sub: str | None, sup: list[str]) -> str:
        top = sup[0] if len(sup) == 1 else f"<mrow>{''.join(sup)}</mrow>"
        if sub is not None and sup:
            return f"<msubsup>{base}{sub}{top}</msubsup>"
        if sub is not None:
            return f"<msub>{base}{sub}</msub>"
        return f"<msup>{base}{top}</msup>"

    def double(self, base: str, sub: str | None, sup: list[str], what: str, extra: str, kind: str = "^") -> str:
        if self.strict:
            raise ValueError(f"double {what}")
        inner = self.build(base, sub, sup)
        outer = f"<msub>{inner}{extra}</msub>" if kind == "_" else f"<msup>{inner}{extra}</msup>"
        return self.scripts(outer) if self.peek() in ("^", "_", "'") else outer

    def group(self) -> str:
        body = self.seq(("}",))
        if self.take() != "}":
            return body + self.fail("missing }")
        return f"<mrow>{body}</mrow>"

    def arg(self) -> str:
        t = self.peek()
        if t == "{":
            self.take()
            return self.group()
        if t is None:
            return self.fail("missing argument")
        return self.atom()

    def raw(self) -> str:
        if self.take() != "{":
            return ""
        depth, out = 1, []
        while (t := self.take()) is not None:
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    break
            out.append(t[1:] if t.startswith("\\") and len(t) == 2 else t)
        return "".join(out)

    def atom(self) -> str:
        t = self.take()
        assert t is not None
        if t == "{":
            return self.group()
        if t.startswith("\\"):
            return self.command(t[1:])
        if t[0].isdigit():
            return f"<mn>{t}</mn>"
        if t.isalpha():
            return f"<mi>{html.escape(t)}</mi>"
        if t == "-":
            before = self.toks[self.i - 2] if self.i >= 2 else "{"
            after = self.peek() or ""
            if after[:1].isdigit() and (before in ("{", "(", "=", "+", "-", "\\times", "\\cdot") or self.i == 1):
                self.take()  # a negative number, such as (−0.038): one <mn>, no binary-minus spacing
                return f"<mn>−{after}</mn>"
            return "<mo>−</mo>"
        if t in "&":
            return ""
        if t == "}":
            return self.fail("unbalanced }")
        return f"<mo>{html.escape(t)}</mo>"

    def delimiter(self) -> str:
        d = self.take() or "."
        d = d[1:] if d.startswith("\\") and len(d) > 1 else d
        d = {"lbrace": "{", "rbrace": "}", "|": "‖"}.get(d, d)
        return "" if d == "." else f"<mo>{html.escape(d)}</mo>"

    def command(self, name: str) -> str:
        if name == "frac":
            return f"<mfrac>{self.arg()}{self.arg()}</mfrac>"
        if name == "sqrt":
            return f"<msqrt>{self.arg()}</msqrt>"
        if name == "left":  # \left( … \right) is one group: a script after it applies to the whole
            opening = self.delimiter()
            body = self.seq(("\\right",))
            closing = ""
            if self.peek() == "\\right":
                self.take()
                closing = self.delimiter()
            else:
                body += self.fail("\\left without \\right")
            return f"<mrow>{opening}{body}{closing}</mrow>"
        if name in ("right", "big", "Big", "bigl", "bigr"):
            return self.delimiter()
        if name in ("mathrm", "operatorname", "mathit", "textrm"):
            text = html.escape(self.raw())
            variant = ' mathvariant="normal"' if len(text) == 1 and name != "mathit" else ""
            return f"<mi{variant}>{text}</mi>"
        if name in ("text", "textbf", "mbox"):
            return f"<mtext>{html.escape(self.raw())}</mtext>"
        if name in ("hat", "bar", "tilde", "vec"):
            accent = {"hat": "^", "bar": "¯", "tilde": "~", "vec": "→"}[name]
            return f'<mover accent="true">{self.arg()}<mo>{accent}</mo></mover>'
        if name in ("mathbf", "boldsymbol"):
            return f'<mi mathvariant="bold">{html.escape(self.raw())}</mi>'
        if name in _SPACES:
            return f'<mspace width="{_SPACES[name]}"></mspace>'
        if name in _GREEK:
            return f"<mi>{_GREEK[name]}</mi>"
        if name in _OPS:
            return f"<mo>{html.escape(_OPS[name])}</mo>"
        if name in _FUNCS:
            return f"<mi>{name}</mi>"
        if name == "\\":
            return ""
        return self.fail(f"\\{name}")


def tex_to_mathml(tex: str, display: bool = True, strict: bool = False) -> str:
    r"""MathML (presentation, MathML Core) for the LaTeX symgrad writes.

    Covers `\frac`, scripts, `\left(…\right)`, `\mathrm`/`\operatorname`/`\text`,
    Greek letters, ∂, ∇, ⊙, ×, ⋅ and the like. An unknown command is kept as
    text, and a double superscript or subscript (an error in TeX) keeps both scripts,
    nested; `strict=True` raises `ValueError` for either instead. No script is dropped.
    The LaTeX is kept in an `annotation` for copying.
    """
    conv = _TexToMathML(tex, strict)
    body = conv.seq()
    while conv.peek() is not None:  # a stray closing brace: keep going
        conv.take()
        body += conv.fail("unbalanced }") + conv.seq()
    mode = "block" if display else "inline"
    return (
        f'<math display="{mode}"><semantics><mrow>{body}</mrow>'
        f'<annotation encoding="application/x-tex">{html.escape(tex)}</annotation></semantics></math>'
    )
