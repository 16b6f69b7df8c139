r"""A derivation report of one training step: what text 003 did by hand, for any small network.

For a network of neurons (net input ``net``/z, output ``out``/a = σ(z)) the
report writes

1. the forward pass — every z and a, as a formula and with the numbers in it;
2. the error E (quadratic: E = Σ_o ½(target_o − out_o)²);
3. the backward pass — for each neuron ∂E/∂out, ∂out/∂net and
   δ = ∂E/∂net = ∂E/∂out · ∂out/∂net, where a hidden neuron collects
   ∂E/∂out_h = Σ_k δ_k ∂net_k/∂out_h from the neurons it feeds; and for every
   weight the chain-rule product

       ∂E/∂w = ∂E/∂out_j · ∂out_j/∂net_j · ∂net_j/∂w,

   written symbolically (fractions, then formulas) and then with the numbers;
4. the update w⁺ = w − η ∂E/∂w of every trained parameter, and the error after it;
5. a check: the same gradients from the derivative nodes :func:`symgrad.backprop`
   adds to the graph (symbol to symbol), evaluated.

With ``sizes=(2, 2, 2)`` and no weights the network is text 003's (w1…w8, the
shared biases b1 = 0.35 and b2 = 0.60 which are not updated, inputs 0.05/0.10,
targets 0.01/0.99, η = 0.5), in the text's names (net_{h1}, out_{o1},
E_{total}), and the report reproduces its figures (out_{o1} = 0.75136507,
E_{total} = 0.298371109, w5⁺ = 0.35891648, …). Any other small network is a
neuron-level :func:`symgrad.mlp` in Nielsen's notation with seeded or given
weights.

Markdown output writes the maths as ``$…$`` LaTeX; HTML output is one
self-contained file whose maths is MathML (converted from the same LaTeX by
:func:`tex_to_mathml`), which browsers render natively — no script, no network.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..core.backprop import backprop
from ..core.functions import ACTIVATIONS, sigmoid_prime, tanh_prime
from ..core.graph import Graph
from ..core.rules import local_partial
from ..errors import UsageError
from ..printing import BookLatexPrinter

#: Text 003's starting point (copied here: the product never reads the reference texts).
TEXT003 = {
    "inputs": {"i1": 0.05, "i2": 0.10},
    "targets": {"target_o1": 0.01, "target_o2": 0.99},
    "weights": {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55},
    "biases": {"b1": 0.35, "b2": 0.60},
    "lr": 0.5,
}
#: The figures text 003 prints (to compare with; its error after one step differs, see the report).
TEXT003_FIGURES = {"out_o1": "0.75136507", "E_total": "0.298371109", "E_total after 1 update": "0.291027924"}
#: Beyond this many trained parameters a hand-style report is no longer readable.
MAX_PARAMS = 120
COSTS = ("quadratic", "cross_entropy")


# ------------------------------------------------------------------ numbers
def fmt(x: float) -> str:
    """A number as worked examples print it: 9 decimals, trailing zeros dropped (0.75136507)."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    if 1e-6 <= abs(x) < 1e6:
        s = f"{x:.9f}".rstrip("0").rstrip(".")
        return s if s not in ("", "-0", "0") else f"{x:.3e}"
    m, e = f"{x:.6e}".split("e")
    return rf"{m.rstrip('0').rstrip('.')} \times 10^{{{int(e)}}}"


def _num(x: float) -> str:
    """A number inside a formula: negative ones in brackets."""
    s = fmt(x)
    return rf"\left({s}\right)" if x < 0 else s


# ------------------------------------------------------------- LaTeX→MathML
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
            if t in ("^", "_"):
                base = items.pop() if items else "<mrow></mrow>"
                sub = sup = None
                while self.peek() in ("^", "_"):
                    kind = self.take()
                    arg = self.arg()
                    if kind == "_":
                        sub = arg
                    else:
                        sup = arg
                if sub is not None and sup is not None:
                    items.append(f"<msubsup>{base}{sub}{sup}</msubsup>")
                elif sub is not None:
                    items.append(f"<msub>{base}{sub}</msub>")
                else:
                    items.append(f"<msup>{base}{sup}</msup>")
            elif t == "'":
                self.take()
                base = items.pop() if items else "<mrow></mrow>"
                items.append(f"<msup>{base}<mo>′</mo></msup>")
            else:
                items.append(self.atom())
        return "".join(items)

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

    Covers ``\frac``, scripts, ``\left(…\right)``, ``\mathrm``/``\operatorname``/``\text``,
    Greek letters, ∂, ∇, ⊙, ×, ⋅ and the like. An unknown command is kept as
    text (``strict=True`` raises :class:`ValueError` instead). The LaTeX is kept
    in an ``annotation`` for copying.
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


# ------------------------------------------------------------------ report
@dataclass
class Paragraph:
    """Prose with inline maths between ``$…$``."""

    text: str


@dataclass
class Equation:
    """A display equation over several rows: ``lhs = rows[0]``, then ``= rows[1]``, …"""

    lhs: str
    rows: list[str]


@dataclass
class Table:
    """A table; cells may hold inline ``$…$`` maths."""

    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)


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


def _inline_html(text: str) -> str:
    parts = re.split(r"(\$[^$]+\$)", text)
    out = []
    for p in parts:
        if len(p) > 1 and p.startswith("$") and p.endswith("$"):
            out.append(tex_to_mathml(p[1:-1], display=False))
        else:
            out.append(html.escape(p))
    return "".join(out)


def _is_number(cell: str) -> bool:
    return bool(re.fullmatch(r"[−\-]?[0-9.]+(e[-+]?[0-9]+)?", cell.strip()))


@dataclass
class Report:
    """One training step explained; shows itself in a notebook and saves as Markdown or HTML.

    ``values`` holds every forward node's value (``values["out_o1"]``) and the
    error; ``gradients`` ∂E/∂p and ``updated`` p⁺ for every trained parameter;
    ``error_after`` the error with the updated parameters; ``backprop_gap``
    the largest difference between the chain-rule gradients and those of the
    derivative nodes :func:`symgrad.backprop` adds.
    """

    title: str
    intro: str
    sections: list[Section]
    values: dict[str, float]
    gradients: dict[str, float]
    updated: dict[str, float]
    error: float
    error_after: float
    backprop_gap: float
    graph: Graph | None = field(default=None, repr=False)
    figure_svg: str | None = field(default=None, repr=False)

    # --------------------------------------------------------------- Markdown
    def to_markdown(self) -> str:
        """Markdown with ``$…$`` / ``$$…$$`` LaTeX (GitHub, mkdocs with arithmatex, Jupyter)."""
        lines = [f"# {self.title}", "", self.intro, ""]
        for sec in self.sections:
            lines += [f"## {sec.title}", ""]
            for b in sec.blocks:
                if isinstance(b, Paragraph):
                    lines += [b.text, ""]
                elif isinstance(b, Equation):
                    if len(b.rows) == 1:
                        lines += [f"$$ {b.lhs} = {b.rows[0]} $$", ""]
                    else:
                        body = " \\\\\n".join(
                            (f"{b.lhs} &= {r}" if i == 0 else f"&= {r}") for i, r in enumerate(b.rows)
                        )
                        lines += ["$$", "\\begin{aligned}", body, "\\end{aligned}", "$$", ""]
                elif isinstance(b, Table):
                    lines.append("| " + " | ".join(b.header) + " |")
                    lines.append("| " + " | ".join("---:" if i else "---" for i in range(len(b.header))) + " |")
                    lines += ["| " + " | ".join(r) + " |" for r in b.rows]
                    lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    # ------------------------------------------------------------------- HTML
    def _body_html(self) -> str:
        out = [f"<h1>{html.escape(self.title)}</h1>", f"<p>{_inline_html(self.intro)}</p>"]
        for k, sec in enumerate(self.sections):
            out.append(f"<h2>{html.escape(sec.title)}</h2>")
            if k == 0 and self.figure_svg:
                out.append(
                    f"<figure>{self.figure_svg}<figcaption>The network as a computational graph "
                    "(nodes hold SymPy expressions; edges are symbol dependencies).</figcaption></figure>"
                )
            for b in sec.blocks:
                if isinstance(b, Paragraph):
                    out.append(f"<p>{_inline_html(b.text)}</p>")
                elif isinstance(b, Equation):
                    cells = []
                    for i, r in enumerate(b.rows):
                        lhs = tex_to_mathml(b.lhs, display=False) if i == 0 else ""
                        rhs = tex_to_mathml("= " + r, display=False)
                        cells.append(f'<div class="lhs">{lhs}</div><div class="rhs">{rhs}</div>')
                    out.append('<div class="eq">' + "".join(cells) + "</div>")
                elif isinstance(b, Table):
                    head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.header)
                    rows = "".join(
                        "<tr>" + "".join(
                            f'<td class="num">{html.escape(c)}</td>' if _is_number(c) else f"<td>{_inline_html(c)}</td>"
                            for c in r
                        ) + "</tr>"
                        for r in b.rows
                    )
                    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        return "\n".join(out)

    def to_html(self, full: bool = True) -> str:
        """A self-contained HTML page (``full``) or fragment; maths as MathML, no scripts, no links."""
        body = f'<div class="symgrad-report">\n{self._body_html()}\n</div>'
        if not full:
            return f"<style>{_CSS}</style>\n{body}"
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
        )

    # --------------------------------------------------------------- display
    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html(full=False)

    def __str__(self) -> str:
        return self.to_markdown()

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``.md`` (Markdown) or ``.html`` atomically; returns the path."""
        suffix = Path(path).suffix.lower()
        if suffix in (".md", ".markdown"):
            text = self.to_markdown()
        elif suffix in (".html", ".htm"):
            text = self.to_html()
        else:
            raise UsageError(f"--out {str(path)!r}: the file name must end in .md or .html")
        from ..printing.drawing import atomic_write

        return atomic_write(path, text)


# ------------------------------------------------------------- the network
@dataclass
class _Unit:
    """One neuron: ``net = Σ w·source + bias``, ``out = f(net)``."""

    net: str
    out: str
    terms: list[tuple[str, str]]
    biases: list[str]


@dataclass
class _Net:
    graph: Graph
    layers: list[list[_Unit]]
    inputs: list[str]
    targets: list[str]
    cost: str
    trained: list[str]
    activation: str
    text003: bool = False


def _act(name: str):
    if name not in ACTIVATIONS:
        raise UsageError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name][0]


def _cost_expr(cost: str, outs: list[sp.Basic], ys: list[sp.Basic]) -> sp.Basic:
    if cost == "quadratic":
        return sp.Rational(1, 2) * sp.Add(*[(y - a) ** 2 for a, y in zip(outs, ys, strict=False)])
    if cost == "cross_entropy":
        return -sp.Add(*[y * sp.log(a) + (1 - y) * sp.log(1 - a) for a, y in zip(outs, ys, strict=False)])
    raise UsageError(f"unknown cost {cost!r} for explain; choose one of {', '.join(COSTS)}")


def text003_network(activation: str = "sigmoid", x: Sequence[float] | None = None,
                    y: Sequence[float] | None = None, cost: str = "quadratic") -> _Net:
    """Text 003's 2-2-2 network in its own names (net_{h1}, out_{h1}, …, E_{total})."""
    f = _act(activation)
    g = Graph("text 003's 2-2-2 network")
    xs = dict(zip(TEXT003["inputs"], x, strict=False)) if x is not None else TEXT003["inputs"]
    ts = dict(zip(TEXT003["targets"], y, strict=False)) if y is not None else TEXT003["targets"]
    for name, v in xs.items():
        g.input(name, value=float(v), tex=f"i_{{{name[1:]}}}")
    for name, v in TEXT003["weights"].items():
        g.parameter(name, value=v, tex=f"w_{{{name[1:]}}}")
    for name, v in TEXT003["biases"].items():
        g.parameter(name, value=v, tex=f"b_{{{name[1:]}}}")
    for name, v in ts.items():
        g.target(name, value=float(v), tex=rf"\mathrm{{target}}_{{{name[-2:]}}}")
    wiring = {"h1": (("w1", "i1"), ("w2", "i2"), "b1"), "h2": (("w3", "i1"), ("w4", "i2"), "b1"),
              "o1": (("w5", "out_h1"), ("w6", "out_h2"), "b2"), "o2": (("w7", "out_h1"), ("w8", "out_h2"), "b2")}
    layers: list[list[_Unit]] = [[], []]
    for k, (unit, (t1, t2, b)) in enumerate(wiring.items()):
        terms = [t1, t2]
        g.add(f"net_{unit}", sp.Add(*[g[w] * g[s] for w, s in terms], g[b]), tex=rf"\mathrm{{net}}_{{{unit}}}",
              kind="z")
        g.add(f"out_{unit}", f(g[f"net_{unit}"]), tex=rf"\mathrm{{out}}_{{{unit}}}", kind="a")
        layers[k // 2].append(_Unit(f"net_{unit}", f"out_{unit}", terms, [b]))
    outs = [g["out_o1"], g["out_o2"]]
    ys = [g["target_o1"], g["target_o2"]]
    g.add("E_total", _cost_expr(cost, outs, ys), role="cost", tex=r"E_{\mathrm{total}}")
    return _Net(g, layers, list(xs), list(ts), "E_total", list(TEXT003["weights"]), activation, text003=True)


def mlp_network(sizes: Sequence[int], activation: str, params: Mapping[str, Any], x: Sequence[float],
                y: Sequence[float], cost: str = "quadratic") -> _Net:
    """A neuron-level MLP in Nielsen's notation (x_k, w^l_{jk}, b^l_j, z^l_j, a^l_j, y_j, C)."""
    from ..networks import mlp

    try:
        net = mlp(sizes, activation, cost, level="neuron", params=params)
    except ValueError as e:
        raise UsageError(str(e)) from None
    g = net.graph
    for name, v in zip(net.names["x"], x, strict=False):
        g.node(name).value = float(v)
    for name, v in zip(net.names["y"], y, strict=False):
        g.node(name).value = float(v)
    layers = []
    for l in range(2, net.L + 1):
        units = []
        sources = net.names["a"][l - 1]
        for j in range(1, net.sizes[l - 1] + 1):
            terms = [(net.names["w"][l][(j, k)], sources[k - 1]) for k in range(1, net.sizes[l - 2] + 1)]
            units.append(_Unit(f"z{l}_{j}", f"a{l}_{j}", terms, [f"b{l}_{j}"]))
        layers.append(units)
    trained = [n.name for n in g.parameters]
    return _Net(g, layers, list(net.names["x"]), list(net.names["y"]), "C", trained, activation)


# ------------------------------------------------------------------ explain
def _floats(name: str, values: Any, n: int) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be numbers, got {values!r}") from None
    if len(out) != n:
        raise UsageError(f"{name} needs {n} value{'s' if n != 1 else ''} (the layer's size), got {len(out)}")
    if not all(math.isfinite(v) for v in out):
        raise UsageError(f"{name} must be finite numbers, got {values!r}")
    return out


def _load_weights(path: str | os.PathLike) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """``(spec or None, {"W2": …, "b2": …})`` from a saved model or a plain ``.npz`` of W^l, b^l."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"--weights {str(p)!r}: is a directory, not a saved model (.npz)")
    if not p.is_file():
        raise UsageError(f"--weights {str(p)!r}: no such file")
    from ..store.model_file import load_model

    try:
        spec, params = load_model(p)
        return spec, dict(params)
    except UsageError as first:
        try:
            with np.load(p, allow_pickle=False) as z:
                params = {k: np.asarray(z[k], dtype=float) for k in z.files if re.fullmatch(r"[Wb][0-9]+", k)}
        except Exception:
            raise first from None
        if not params:
            raise first from None
        return None, params


def explain(
    sizes: Sequence[int] = (2, 2, 2),
    activation: str = "sigmoid",
    weights: Mapping[str, Any] | str | os.PathLike | None = None,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    lr: float = 0.5,
    *,
    cost: str = "quadratic",
    seed: int = 0,
    figure: bool = True,
) -> Report:
    """A :class:`Report` of one gradient-descent step ``p ← p − lr · ∂E/∂p`` of a small network.

    ``sizes=(2, 2, 2)`` with no ``weights`` is text 003's network (its weights,
    shared biases left fixed, and by default its inputs and targets). Otherwise
    a neuron-level MLP with ``weights`` (layer arrays ``{"W2": …, "b2": …}`` or
    the path of a saved model) or, without them, :func:`symgrad.init_params`
    drawn with ``seed``; ``x`` defaults to 0.05, 0.10, 0.15, … and ``y`` to
    0.01, 0.99, 0.01, …. ``figure`` puts the graph's picture in the HTML (needs
    matplotlib; skipped without it).
    """
    from ..networks import check_sizes, count_params

    sizes = check_sizes(sizes)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive number, got {lr!r}")
    _act(activation)
    if cost not in COSTS:
        raise UsageError(f"unknown cost {cost!r} for explain; choose one of {', '.join(COSTS)}")
    n_params = count_params(sizes)
    if n_params > MAX_PARAMS:
        raise UsageError(
            f"--sizes {','.join(map(str, sizes))} has {n_params} parameters; explain writes every one out by "
            f"hand and is for small networks (at most {MAX_PARAMS}); use symgrad derive for big ones"
        )
    xs = None if x is None else _floats("--input", x, sizes[0])
    ys = None if y is None else _floats("--target", y, sizes[-1])
    source = ""
    if weights is None and sizes == (2, 2, 2):
        net = text003_network(activation, xs, ys, cost)
    else:
        if weights is None:
            from ..networks import init_params

            params: Mapping[str, Any] = init_params(sizes, "normal", seed)
            source = f"drawn from N(0, 1) with seed {seed}"
        elif isinstance(weights, (str, os.PathLike)):
            spec, params = _load_weights(weights)
            if spec is not None and tuple(spec["sizes"]) != sizes:
                raise UsageError(
                    f"--weights {str(weights)!r} holds a {'-'.join(map(str, spec['sizes']))} network, "
                    f"not {'-'.join(map(str, sizes))} (give --sizes {','.join(map(str, spec['sizes']))})"
                )
            source = f"loaded from {Path(weights).name}"
        else:
            params = weights
            source = "given"
        where = f"--weights {str(weights)!r}" if isinstance(weights, (str, os.PathLike)) else "weights"
        for key, value in params.items() if isinstance(params, Mapping) else ():
            try:
                arr = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise UsageError(f"{where}: parameter {key!r} is not an array of numbers") from None
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:  # a NaN would run through every formula of the report silently
                idx = tuple(int(i) for i in bad[0])
                raise UsageError(f"{where}: parameter {key!r} holds {arr[idx]} at index {idx}")
        if xs is None:
            xs = [round(0.05 * (k + 1), 10) for k in range(sizes[0])]
        if ys is None:
            ys = [0.01 if j % 2 == 0 else 0.99 for j in range(sizes[-1])]
        try:
            net = mlp_network(sizes, activation, params, xs, ys, cost)
        except UsageError:
            raise
        except ValueError as e:  # GraphError and shape problems name the parameter
            raise UsageError(str(e)) from None
    return _build_report(net, float(lr), source, figure)


class _Names:
    """LaTeX of node names, and the printers for formulas and for numbers."""

    def __init__(self, g: Graph, values: Mapping[str, float]) -> None:
        self.g = g
        self.tex = {n.symbol: (n.tex or n.name) for n in g.nodes()}
        self.sym = BookLatexPrinter(self.tex)
        self.num = BookLatexPrinter(
            {g.node(k).symbol: _num(v) for k, v in values.items()}, mul_symbol="times"
        )

    def __call__(self, name: str) -> str:
        return self.tex[self.g.node(name).symbol]

    def d(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {self(top)}}}{{\partial {self(bottom)}}}"


def _value(expr: sp.Basic, subs: Mapping[sp.Basic, sp.Basic]) -> float:
    return float(sp.sympify(expr).xreplace(subs).evalf(30))


def _build_report(net: _Net, lr: float, source: str, want_figure: bool) -> Report:
    g = net.graph
    cost = g.node(net.cost)
    forward = g.evaluate()
    values = {k: float(v) for k, v in forward.items()}
    subs = {g.node(k).symbol: sp.Float(v, 30) for k, v in values.items()}
    T = _Names(g, values)
    E = T(net.cost)
    act = net.activation
    sig = r"\sigma" if act == "sigmoid" else {"tanh": r"\tanh", "relu": r"\operatorname{ReLU}", "identity": "f"}[act]
    sections: list[Section] = []

    # ---- the network
    sec = Section("The network")
    params = [n for n in g.parameters]
    if net.text003:
        sec.blocks.append(Paragraph(
            "Text 003's network: two inputs, two hidden neurons h1, h2 and two output neurons o1, o2, "
            f"all {act}; the hidden neurons share the bias $b_{{1}}$ and the outputs share $b_{{2}}$. "
            "The biases are not updated, as in the text."
        ))
    else:
        sec.blocks.append(Paragraph(
            f"A {'-'.join(str(len(u)) for u in [net.inputs, *net.layers])} {act} network in Nielsen's notation: "
            "$w^{l}_{jk}$ is the weight from neuron $k$ of layer $l-1$ to neuron $j$ of layer $l$, "
            "$z^{l}_{j} = \\sum_k w^{l}_{jk} a^{l-1}_{k} + b^{l}_{j}$ and $a^{l}_{j} = "
            f"{sig}(z^{{l}}_{{j}})$ (layer 1 is the input, $a^{{1}} = x$). Weights and biases {source}."
        ))
    sec.blocks.append(Table(
        ["", "value"],
        [[f"${T(n.name)}$", fmt(values[n.name])] for n in g.nodes(("input", "target"))]
        + [[f"${T(n.name)}$", fmt(values[n.name])] for n in params]
        + [[r"learning rate $\eta$", fmt(lr)]],
    ))
    sections.append(sec)

    # ---- forward pass
    sec = Section("Forward pass")
    sec.blocks.append(Paragraph(
        "Each neuron adds up its weighted inputs and its bias (the net input), then applies the activation "
        + (r"$\sigma(x) = 1/(1 + e^{-x})$" if act == "sigmoid" else f"${sig}$") + "."
    ))
    for layer in net.layers:
        for u in layer:
            sym = " + ".join([f"{T(w)} {T(s)}" for w, s in u.terms] + [T(b) for b in u.biases])
            nums = " + ".join([rf"{_num(values[w])} \times {_num(values[s])}" for w, s in u.terms]
                              + [_num(values[b]) for b in u.biases])
            sec.blocks.append(Equation(T(u.net), [sym, nums, fmt(values[u.net])]))
            rows = [rf"{sig}\left({T(u.net)}\right)"]
            if act == "sigmoid":
                rows.append(rf"\frac{{1}}{{1 + e^{{-{_num(values[u.net])}}}}}")
            else:
                rows.append(rf"{sig}\left({_num(values[u.net])}\right)")
            rows.append(fmt(values[u.out]))
            sec.blocks.append(Equation(T(u.out), rows))
    sections.append(sec)

    # ---- error
    sec = Section("The error")
    outs = net.layers[-1]
    if cost_is_quadratic(net):
        sec.blocks.append(Paragraph("The squared error of each output neuron, ½(target − out)², summed:"))
        terms_sym, terms_num, total = [], [], 0.0
        for u, t in zip(outs, net.targets, strict=False):
            e = 0.5 * (values[t] - values[u.out]) ** 2
            total += e
            half = rf"\frac{{1}}{{2}}\left({T(t)} - {T(u.out)}\right)^{{2}}"
            rows = [rf"\frac{{1}}{{2}}\left({_num(values[t])} - {_num(values[u.out])}\right)^{{2}}", fmt(e)]
            if net.text003:  # the text names each output's share E_{o1}, E_{o2}
                sec.blocks.append(Equation(rf"E_{{{u.out[-2:]}}}", [half, *rows]))
            else:
                sec.blocks.append(Equation(half, rows))
            terms_sym.append(rf"\frac{{1}}{{2}}\left({T(t)} - {T(u.out)}\right)^{{2}}")
            terms_num.append(fmt(e))
        sec.blocks.append(Equation(E, [" + ".join(terms_sym), " + ".join(terms_num), fmt(values[net.cost])]))
    else:
        sec.blocks.append(Equation(E, [T.sym.doprint(cost.expr), T.num.doprint(cost.expr), fmt(values[net.cost])]))
    sections.append(sec)

    # ---- backward pass
    d_out: dict[str, float] = {}
    d_act: dict[str, float] = {}
    delta: dict[str, float] = {}
    grads: dict[str, float] = {}
    sec_b = Section("Backward pass: the chain rule, neuron by neuron")
    sec_b.blocks.append(Paragraph(
        f"For a weight $w$ into neuron $j$, the chain rule gives "
        f"$\\frac{{\\partial {E}}}{{\\partial w}} = \\frac{{\\partial {E}}}{{\\partial \\mathrm{{out}}_j}} "
        f"\\frac{{\\partial \\mathrm{{out}}_j}}{{\\partial \\mathrm{{net}}_j}} "
        f"\\frac{{\\partial \\mathrm{{net}}_j}}{{\\partial w}}$. The first two factors make the neuron's error "
        f"$\\delta_j = \\frac{{\\partial {E}}}{{\\partial \\mathrm{{net}}_j}}$; a hidden neuron collects "
        f"$\\frac{{\\partial {E}}}{{\\partial \\mathrm{{out}}_h}} = \\sum_k \\delta_k "
        f"\\frac{{\\partial \\mathrm{{net}}_k}}{{\\partial \\mathrm{{out}}_h}}$ from the neurons $k$ it feeds, "
        "so the layers are done from the output back."
    ))
    delta_tex: dict[str, str] = {}
    for depth in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[depth]
        sec_b.blocks.append(Paragraph(
            "Output layer." if depth == len(net.layers) - 1 else f"Hidden layer {depth + 1}."
        ))
        for u in layer:
            out_t = T(u.out)
            if depth == len(net.layers) - 1:
                dexpr = local_partial(cost.expr, g[u.out])
                d_out[u.out] = _value(dexpr, subs)
                d_out_tex = T.sym.doprint(dexpr)
                sec_b.blocks.append(Equation(T.d(net.cost, u.out), [
                    d_out_tex, T.num.doprint(dexpr), fmt(d_out[u.out])]))
            else:
                feeds = [(k, w) for k in net.layers[depth + 1] for w, s in k.terms if s == u.out]
                fr = " + ".join(rf"{T.d(net.cost, k.net)} {T.d(k.net, u.out)}" for k, _ in feeds)
                sym = " + ".join(rf"{delta_tex[k.net]} {T(w)}" for k, w in feeds)
                nums = " + ".join(rf"{_num(delta[k.net])} \times {_num(values[w])}" for k, w in feeds)
                d_out[u.out] = sum(delta[k.net] * values[w] for k, w in feeds)
                d_out_tex = sym
                sec_b.blocks.append(Equation(T.d(net.cost, u.out), [fr, sym, nums, fmt(d_out[u.out])]))
            aexpr = local_partial(g.node(u.out).expr, g[u.net])
            d_act[u.out] = _value(aexpr, subs)
            rows = [T.sym.doprint(aexpr)]
            d_act_tex = rows[0]
            if isinstance(aexpr, sigmoid_prime):
                d_act_tex = rf"{out_t}\left(1 - {out_t}\right)"
                rows.append(rf"{out_t}\left(1 - {out_t}\right)")
                rows.append(rf"{_num(values[u.out])}\left(1 - {_num(values[u.out])}\right)")
            elif isinstance(aexpr, tanh_prime):
                sq = rf"\left({out_t}\right)^{{2}}" if re.search(r"[_^]", out_t) else rf"{out_t}^{{2}}"
                d_act_tex = rf"\left(1 - {sq}\right)"
                rows.append(rf"1 - {sq}")
                rows.append(rf"1 - {_num(values[u.out])}^{{2}}")
            rows.append(fmt(d_act[u.out]))
            sec_b.blocks.append(Equation(T.d(u.out, u.net), rows))
            delta[u.net] = d_out[u.out] * d_act[u.out]
            dt = _delta_tex(g, u)
            delta_tex[u.net] = dt
            sec_b.blocks.append(Equation(rf"{dt} = {T.d(net.cost, u.net)}", [
                rf"{T.d(net.cost, u.out)} {T.d(u.out, u.net)}",
                rf"{_num(d_out[u.out])} \times {_num(d_act[u.out])}", fmt(delta[u.net])]))
            for w, s in u.terms:
                if w not in net.trained:
                    continue
                grads[w] = d_out[u.out] * d_act[u.out] * values[s]
                sec_b.blocks.append(Equation(T.d(net.cost, w), [
                    rf"{T.d(net.cost, u.out)} {T.d(u.out, u.net)} {T.d(u.net, w)}",
                    rf"{_bracket(d_out_tex)} {_bracket(d_act_tex)} {T(s)}",
                    rf"{_num(d_out[u.out])} \times {_num(d_act[u.out])} \times {_num(values[s])}",
                    fmt(grads[w]),
                ]))
            for b in u.biases:
                if b not in net.trained:
                    continue
                grads[b] = grads.get(b, 0.0) + delta[u.net]
                sec_b.blocks.append(Equation(T.d(net.cost, b), [
                    rf"{T.d(net.cost, u.out)} {T.d(u.out, u.net)} {T.d(u.net, b)}",
                    rf"{dt} \cdot 1", fmt(delta[u.net])]))
    sections.append(sec_b)

    # ---- update
    sec = Section("The update")
    sec.blocks.append(Paragraph(
        f"Gradient descent moves every trained parameter against its gradient, $p^{{+}} = p - \\eta "
        f"\\frac{{\\partial {E}}}{{\\partial p}}$ with $\\eta = {fmt(lr)}$. All gradients use the weights "
        "before the update." + (" The biases stay as they are." if net.text003 else "")
    ))
    updated: dict[str, float] = {}
    order = [n.name for n in params if n.name in grads]
    for p in order:
        updated[p] = values[p] - lr * grads[p]
        sec.blocks.append(Equation(rf"{T(p)}^{{+}}", [
            rf"{T(p)} - \eta {T.d(net.cost, p)}",
            rf"{_num(values[p])} - {fmt(lr)} \times {_num(grads[p])}", fmt(updated[p])]))
    sec.blocks.append(Table(
        ["parameter", "before", "∂E/∂p" if net.text003 else "∂C/∂p", "after"],
        [[f"${T(p)}$", fmt(values[p]), fmt(grads[p]), fmt(updated[p])] for p in order],
    ))
    after = g.evaluate({**updated}, names=[net.cost])[net.cost]
    sec.blocks.append(Paragraph(
        f"With the new parameters the error is ${E} = {fmt(after)}$ (it was ${fmt(values[net.cost])}$)."
    ))
    sections.append(sec)

    # ---- the check against backprop's derivative nodes
    sec = Section("Check: symbol-to-symbol backprop")
    h = g.copy()
    table = backprop(h, net.cost, wrt=order)
    bvals = h.evaluate(names=[table[p] for p in order])
    gap = max((abs(bvals[table[p]] - grads[p]) for p in order), default=0.0)
    sec.blocks.append(Paragraph(
        f"symgrad.backprop added {len(h.nodes('derivative'))} derivative nodes to the graph (one per node on a "
        f"path to ${E}$, each a formula in its neighbours' symbols). Evaluated, they give the same "
        f"{len(order)} gradients as the hand-style chain rule above: the largest difference is {gap:.1e}."
    ))
    if net.text003:
        sec.blocks.append(Paragraph(
            f"Against text 003: it prints out_o1 = {TEXT003_FIGURES['out_o1']} and E_total = "
            f"{TEXT003_FIGURES['E_total']} (here {fmt(values.get('out_o1', float('nan')))} and "
            f"{fmt(values[net.cost])}). After the update it prints E_total = "
            f"{TEXT003_FIGURES['E_total after 1 update']}; exact arithmetic with the gradients above gives "
            f"{fmt(after)}. The text's figure is what one gets by updating w1…w4 with gradients computed from "
            "the already-updated w5…w8, although the text says it uses the old weights."
        ))
    sections.append(sec)

    figure_svg = None
    if want_figure:
        try:
            from ..printing.drawing import svg as draw_svg

            raw = draw_svg(g, with_derivatives=False, title=g.name)
            figure_svg = _inline_svg(raw)
        except (UsageError, ImportError):
            figure_svg = None

    title = ("One training step of text 003's 2-2-2 network, explained" if net.text003 else
             f"One training step of a {'-'.join(str(len(u)) for u in [net.inputs, *net.layers])} "
             f"{act} network, explained")
    intro = (
        f"The forward pass, the error ${E}$, the chain rule for every "
        f"{'weight' if net.text003 else 'weight and bias'} (as fractions, as formulas, then with the numbers), "
        f"and the gradient-descent update, written out by symgrad."
    )
    values_out = dict(values)
    return Report(title, intro, sections, values_out, grads, updated, values[net.cost], after, gap, g, figure_svg)


def _bracket(tex: str) -> str:
    """Brackets round a factor that is a sum (so a product of factors reads right)."""
    if tex.startswith(r"\left(") and tex.endswith(r"\right)") and tex.count(r"\left(") == 1:
        return tex
    bare = re.sub(r"\\left\(.*?\\right\)", "", tex)
    bare = re.sub(r"\{[^{}]*\}", "", bare)
    return rf"\left({tex}\right)" if re.search(r"[+-]", bare) else tex


def cost_is_quadratic(net: _Net) -> bool:
    outs = [net.graph[u.out] for u in net.layers[-1]]
    ys = [net.graph[t] for t in net.targets]
    return sp.simplify(net.graph.node(net.cost).expr - _cost_expr("quadratic", outs, ys)) == 0


def _delta_tex(g: Graph, u: _Unit) -> str:
    net_tex = g.node(u.net).tex or u.net
    m = re.fullmatch(r"z\^\{(\d+)\}_\{(\d+)\}", net_tex)
    if m:
        return rf"\delta^{{{m.group(1)}}}_{{{m.group(2)}}}"
    m = re.fullmatch(r"\\mathrm\{net\}_\{(\w+)\}", net_tex)
    if m:
        return rf"\delta_{{{m.group(1)}}}"
    return rf"\delta_{{{net_tex}}}"


def _inline_svg(raw: str) -> str:
    """matplotlib's SVG made fit for inlining in HTML: no XML prolog, DOCTYPE or RDF metadata."""
    s = re.sub(r"<\?xml[^>]*\?>\s*", "", raw)
    s = re.sub(r"<!DOCTYPE[^>]*>\s*", "", s)
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\s+xmlns:xlink="[^"]*"', "", s)
    s = re.sub(r'\s+xmlns="[^"]*"', "", s)
    s = s.replace("xlink:href=", "href=")
    return s


# ---------------------------------------------------------------------- CLI
def _csv(flag: str, text: str | None) -> list[float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"{flag} must be numbers separated by commas, got {text!r}") from None


def main(args: argparse.Namespace) -> int:
    """``symgrad explain``: write the report of one training step to ``--out`` (.md or .html)."""
    suffix = Path(args.out).suffix.lower()
    if suffix not in (".md", ".markdown", ".html", ".htm"):
        raise UsageError(f"--out {args.out!r}: the file name must end in .md or .html")
    sizes = list(args.sizes)
    activation = args.activation
    weights = getattr(args, "weights", None)
    if weights is not None:
        spec, _ = _load_weights(weights)
        if spec is not None:
            if sizes != [2, 2, 2] and sizes != list(spec["sizes"]):
                raise UsageError(
                    f"--sizes {','.join(map(str, sizes))} does not match --weights {weights!r} "
                    f"(a {'-'.join(map(str, spec['sizes']))} network)"
                )
            sizes = list(spec["sizes"])
            activation = spec.get("activation", activation)
    report = explain(sizes, activation, weights, _csv("--input", args.input), _csv("--target", args.target),
                     args.lr, figure=suffix in (".html", ".htm"))
    path = report.save(args.out)
    print(f"wrote {path}: {report.title.lower()}; E = {fmt(report.error)} → {fmt(report.error_after)} after the step")
    return 0


__all__ = ["Report", "TEXT003", "explain", "fmt", "main", "tex_to_mathml"]
