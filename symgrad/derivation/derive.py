"""``symgrad derive``: print a network's derivative formulas."""

from __future__ import annotations

import argparse
import re

from ..errors import UsageError
from ..networks import Network, count_params, mlp
from ..printing import BookLatexPrinter, equation

BP_LABELS = {"delta_L": "BP1", "delta": "BP2", "b": "BP3", "W": "BP4", "w": "BP4"}


def derivation(net: Network, params: list[str] | None = None, form: str = "factored") -> list[tuple[str, str, str]]:
    """``[(label, node name, LaTeX equation)]`` for the network's derivative nodes.

    Labels name the book's equation each one instantiates: BP1 (δ^L), BP2 (δ^l,
    l < L), BP3 (∂C/∂b), BP4 (∂C/∂w); other derivative nodes (∇_a C) get ``""``.
    """
    g = net.graph
    if params:
        unknown = [p for p in params if p not in g or g.node(p).role != "parameter"]
        if unknown:
            names = ", ".join(n.name for n in g.parameters[:8])
            raise UsageError(f"--param {unknown[0]!r} is not a parameter of this network (parameters: {names}, ...)")
    if not g.derivatives:
        net.backprop(params or None)  # only the nodes on the asked parameters' paths
    table = g.derivatives[net.cost_node]
    if params:
        wanted = {table[p] for p in params}
    else:
        wanted = None
    from ..printing import _passes_along

    rows = []
    for node in g.nodes("derivative"):
        if wanted is not None and node.name not in wanted:
            continue
        if wanted is None and form == "factored" and _passes_along(g, node):
            continue
        rows.append((bp_label(net, node.name), node.name, equation(g, node.name, form)))
    return rows


def bp_label(net: Network, name: str) -> str:
    """Which of BP1–BP4 the derivative node ``name`` is an instance of ("" for none)."""
    node = net.graph.node(name)
    of = net.graph.node(node.of) if node.of else None
    if of is None:
        return ""
    if of.kind == "z":
        return "BP1" if of.meta.get("layer") == net.L else "BP2"
    if of.kind == "b":
        return "BP3"
    if of.kind in ("W", "w"):
        return "BP4"
    return ""


_SIMPLE_SCRIPT = re.compile(r"[\w′'ᵀ.*]+")


def _text(tex: str) -> str:
    r"""A readable plain-text rendering of our LaTeX (for terminals).

    ``\frac{\partial C}{\partial b^{3}}`` prints as ``∂C/∂b^3``, ``\nabla_{a^{3}} C`` as
    ``∇_{a^3} C`` (braces are kept only where a script holds more than one symbol),
    ``(W^{3})^{T}`` as ``(W^3)ᵀ``.
    """
    out = re.sub(r"\\(?:mathrm|operatorname|text|mathbf|mathit)\{([^{}]*)\}", r"\1", tex)
    for a, b in (
        (r"\left(", "("), (r"\right)", ")"), (r"\left[", "["), (r"\right]", "]"), (r"\odot", "⊙"),
        (r"\delta", "δ"), (r"\sigma", "σ"), (r"\nabla", "∇"), (r"\partial ", "∂"), (r"\partial", "∂"),
        (r"\frac{1}{2}", "½"), ("^{T}", "ᵀ"), (r"\tanh", "tanh"), (r"\log", "ln"), (r"\ln", "ln"),
        (r"\cdot", "·"), (r"\times", "×"), (r"\lambda", "λ"), (r"\eta", "η"), (r"\sum", "Σ"),
        (r"\epsilon", "ε"), (r"\qquad", "  "), (r"\quad", "  "), (r"\,", " "),
    ):
        out = out.replace(a, b)
    group = r"([^{}]*(?:\{[^{}]*\}[^{}]*)*)"
    frac = re.compile(r"\\frac\{" + group + r"\}\{" + group + r"\}")

    def fraction(m: re.Match) -> str:
        num, den = m.group(1).strip(), m.group(2).strip()
        wrap = [f"({x})" if re.search(r"[\s+\-·×]", x) else x for x in (num, den)]
        return f"{wrap[0]}/{wrap[1]}"

    while (new := frac.sub(fraction, out)) != out:
        out = new
    # Innermost scripts first: ^{3} -> ^3; a compound script keeps its braces, marked \x01…\x02.
    script = re.compile(r"([\^_])\{([^{}]*)\}")

    def flatten(m: re.Match) -> str:
        body = m.group(2).strip()
        return m.group(1) + (body if _SIMPLE_SCRIPT.fullmatch(body) else f"\x01{body}\x02")

    while (new := script.sub(flatten, out)) != out:
        out = new
    out = out.replace("\\", "").replace("{", "").replace("}", "")
    out = out.replace("\x01", "{").replace("\x02", "}")
    return re.sub(r"  +", " ", out).strip()


def render(net: Network, fmt: str = "text", params: list[str] | None = None, form: str = "factored") -> str:
    """The derivation as ``text``, ``latex`` or ``markdown``."""
    rows = derivation(net, params, form)
    title = f"{'-'.join(map(str, net.sizes))} {net.activation} network, {net.cost} cost ({net.level} level)"
    if fmt == "latex":
        body = " \\\\\n".join(f"{tex.replace(' = ', ' &= ', 1)} && \\text{{{label}}}" for label, _, tex in rows)
        return f"% {title}\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    if fmt == "markdown":
        lines = [f"## Derivatives: {title}", "", "| eq. | node | formula |", "| --- | --- | --- |"]
        lines += [f"| {label} | `{name}` | ${tex}$ |" for label, name, tex in rows]
        return "\n".join(lines)
    width = max((len(label) for label, _, _ in rows), default=0)
    return "\n".join([title] + [f"{label:<{width}}  {_text(tex)}" for label, _, tex in rows])


def main(args: argparse.Namespace) -> int:
    if args.level == "neuron" and not args.param:
        n_params = count_params(args.sizes)
        if n_params > args.max_formulas:
            raise UsageError(
                f"--sizes {','.join(map(str, args.sizes))} at neuron level has {n_params} parameters, one formula "
                f"each; use --level layer, pick some with --param, or raise --max-formulas"
            )
    try:
        net = mlp(args.sizes, args.activation, args.cost, level=args.level)
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(render(net, args.format, args.param, args.form))
    return 0


__all__ = ["BookLatexPrinter", "bp_label", "derivation", "render"]
