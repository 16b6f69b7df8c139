"""Every formula symgrad prints for the test matrix, as (source, LaTeX, mode) items.

``mode`` is ``display`` (a display formula: derive's ``aligned`` block, an equation), ``inline``
(``$…$`` maths from Markdown: table cells, prose) or ``document`` (LaTeX text with maths in it, as
``verify --format latex`` writes). ``mathml`` marks the strings an HTML report converts to MathML.
The matrix: ``derive`` at both levels, sizes 2-2-2/2-3-2/3-3-2, activations sigmoid/tanh/relu,
costs quadratic/cross_entropy/log_likelihood (cross-entropy with a sigmoid output where the
activation is not one), every format and form; ``symgrad.latex`` of each network; every
``_repr_latex_``; the explicit view; verify and explain reports.
"""

from __future__ import annotations

import importlib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product

import symgrad as sg
import symgrad.derivation.derive as derive_module
from symgrad.derivation.chainrule import chain_rule
from symgrad.derivation.derive import render
from symgrad.derivation.explain import explain
from symgrad.derivation.explicit import ExplicitView
from symgrad.derivation.verify import verify_bp
from symgrad.printing.latex import Formula

# the module itself (the package exports a function of the same name)
latex_module = importlib.import_module("symgrad.printing.latex")

SIZES = ((2, 2, 2), (2, 3, 2), (3, 3, 2))
ACTIVATIONS = ("sigmoid", "tanh", "relu")
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
FORMS = ("factored", "expanded", "node")
LEVELS = ("layer", "neuron")


@dataclass(frozen=True)
class Item:
    source: str
    tex: str
    mode: str  # "display", "inline" or "document"
    mathml: bool = False


def networks():
    """(label, level, sizes, activation, cost, output) for every network of the matrix."""
    for level, sizes, act, cost in product(LEVELS, SIZES, ACTIVATIONS, COSTS):
        output = "sigmoid" if cost == "cross_entropy" and act != "sigmoid" else None
        label = f"{level} {'-'.join(map(str, sizes))} {act} {cost}" + (f" ({output} output)" if output else "")
        yield label, level, sizes, act, cost, output


_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+)\$", re.S)


def markdown_maths(source: str, md: str, mathml: bool = False) -> list[Item]:
    """The ``$$…$$`` (display) and ``$…$`` (inline) maths of a Markdown text."""
    out = []
    for m in _MATH.finditer(md.replace(r"\$", "")):
        if m.group(1) is not None:
            out.append(Item(source, m.group(1).strip(), "display", False))
        else:
            out.append(Item(source, m.group(2), "inline", mathml))
    return out


def report_items(source: str, report) -> list[Item]:
    """A report's Markdown maths, and each equation row as the HTML converts it (``lhs``, ``= row``)."""
    from symgrad.printing.report import Equation, Paragraph, Table

    items = markdown_maths(source, report.to_markdown())
    for _, title, blocks in report._parts():
        texts = [title]
        for b in blocks:
            if isinstance(b, Equation):
                items.append(Item(source, b.lhs, "inline", True))
                items += [Item(source, "= " + r, "inline", True) for r in b.rows]
            elif isinstance(b, Paragraph):
                texts.append(b.text)
            elif isinstance(b, Table):
                texts += b.header + [c for row in b.rows for c in row]
        for t in texts:
            items += [Item(source, m, "inline", True) for m in re.findall(r"\$([^$]+)\$", t)]
    return items


@contextmanager
def equations_once():
    """Each node's equation printed once per graph and form: derive's formats and ``symgrad.latex``
    all print the same equations, and printing a big expanded one takes seconds."""
    memo: dict = {}
    real = latex_module.equation

    def equation(graph, name, form="factored"):
        key = (id(graph), name, form)
        if key not in memo:
            memo[key] = (graph, real(graph, name, form))  # the graph is kept: its id stays its own
        return memo[key][1]

    saved = derive_module.equation, latex_module.equation
    derive_module.equation = latex_module.equation = equation
    try:
        yield
    finally:
        derive_module.equation, latex_module.equation = saved


def derive_items() -> tuple[list[Item], list[tuple[str, str]]]:
    """derive's LaTeX and Markdown maths, and its text outputs (``(source, text)``, for the text checks)."""
    with equations_once():
        return _derive_items()


def _derive_items() -> tuple[list[Item], list[tuple[str, str]]]:
    items, texts = [], []
    for label, level, sizes, act, cost, output in networks():
        net = sg.mlp(sizes, act, cost, level=level, output=output, batch=1 if level == "neuron" else None)
        for form in FORMS:
            src = f"derive {label} {form}"
            items.append(Item(src + " latex", render(net, "latex", form=form), "display"))
            items += markdown_maths(src + " markdown", render(net, "markdown", form=form))
            texts.append((src + " text", render(net, "text", form=form)))
            items.append(Item(f"symgrad.latex {label} {form}", sg.latex(net, form=form), "display"))
    return items, texts


def display_items() -> list[Item]:
    """Every ``_repr_latex_``: networks, graphs, nodes (before and after backprop), formulas, chain rules."""
    items = []
    for sizes, act, cost in ((SIZES[0], "sigmoid", "quadratic"), (SIZES[1], "tanh", "log_likelihood"),
                             (SIZES[2], "relu", "log_likelihood")):
        for level in LEVELS:
            net = sg.mlp(sizes, act, cost, level=level)
            src = f"_repr_latex_ {level} {'-'.join(map(str, sizes))} {act} {cost}"
            items.append(Item(src + " before backprop", _unwrap(net._repr_latex_()), "display"))
            net.backprop()
            items.append(Item(src + " network", _unwrap(net._repr_latex_()), "display"))
            for node in net.graph.nodes():
                if node.expr is not None:
                    items.append(Item(f"{src} node {node.name}", _unwrap(node._repr_latex_()), "display"))
    items.append(Item("Formula", _unwrap(Formula(r"\delta^{L} = \nabla_{a} C \odot \sigma'\left(z^{L}\right)")
                                         ._repr_latex_()), "display"))
    from symgrad.derivation.steps import text003_network

    g = text003_network("sigmoid").graph
    for wrt, numbers in product(("w5", "w1", "b1"), (False, True)):
        cr = chain_rule(g, "E_total", wrt, numbers=numbers)
        items.append(Item(f"chain_rule E_total/{wrt} numbers={numbers}", _unwrap(cr._repr_latex_()), "display"))
    return items


def _unwrap(tex: str) -> str:
    return tex.strip().removeprefix("$$").removesuffix("$$").strip()


def explicit_items() -> list[Item]:
    """The explicit view's per-entry equations, every derivative node, every form."""
    items = []
    for sizes, act, cost in ((SIZES[0], "sigmoid", "quadratic"), (SIZES[1], "tanh", "cross_entropy"),
                             (SIZES[1], "relu", "log_likelihood"), (SIZES[2], "sigmoid", "cross_entropy")):
        output = "sigmoid" if cost == "cross_entropy" and act != "sigmoid" else None
        for batch in (1, 2):
            net = sg.mlp(sizes, act, cost, level="layer", output=output, batch=batch)
            net.backprop()
            view = ExplicitView(net, batch)
            for node in net.graph.nodes("derivative"):
                for form in FORMS:
                    items.append(Item(f"explicit {'-'.join(map(str, sizes))} {act} {cost} m={batch} {node.name} {form}",
                                      view.latex(node.name, form), "display"))
    return items


def verify_items() -> list[Item]:
    items = []
    for sizes, act, cost, output in (((2, 2, 2), "sigmoid", "quadratic", None), ((2, 3, 2), "tanh", "cross_entropy",
                                     "sigmoid"), ((2, 2, 3), "relu", "log_likelihood", None)):
        rep = verify_bp(sizes, act, cost, points=1, output=output)
        src = f"verify {'-'.join(map(str, sizes))} {act} {cost}"
        items.append(Item(src + " latex", rep.to_latex(), "document"))
        items += report_items(src + " report", rep.document())
    return items


def explain_items() -> list[Item]:
    items = []
    runs = [
        ("text 003", {}),
        ("text 003 cross_entropy", {"cost": "cross_entropy"}),
        ("text 003 log_likelihood", {"cost": "log_likelihood"}),
        ("2-3-1 tanh (the docs' example)", {"sizes": (2, 3, 1), "activation": "tanh", "x": [0.5, -1], "y": [0.3]}),
        ("3-3-2 sigmoid", {"sizes": (3, 3, 2)}),
        ("2-3-2 relu log_likelihood", {"sizes": (2, 3, 2), "activation": "relu", "cost": "log_likelihood"}),
        ("2-3-2 tanh cross_entropy", {"sizes": (2, 3, 2), "activation": "tanh", "cost": "cross_entropy",
                                      "output": "sigmoid"}),
        ("2-2-2-2 identity", {"sizes": (2, 2, 2, 2), "activation": "identity"}),
    ]
    for label, kw in runs:
        items += report_items(f"explain {label}", explain(figure=False, **kw))
    return items


#: derive --expr's examples (docs/tutorials and the README): (expression, shapes, wrt).
EXPRESSIONS = (
    ("C = x.T @ A @ x", {"x": "3", "A": "3x3"}, ["x"]),
    ("C = norm(X @ w - y)**2", {"X": "5x3", "w": "3", "y": "5"}, ["w"]),
    ("C = -sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))", {"X": "5x3", "w": "3", "y": "5"},
     ["w"]),
    ("z = X @ w; C = -sum(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))", {"X": "5x3", "w": "3", "y": "5"},
     ["w"]),
)


def expression_items() -> tuple[list[Item], list[tuple[str, str]]]:
    """symgrad derive --expr's LaTeX and Markdown, every form, and its text."""
    items, texts = [], []
    for text, shapes, wrt in EXPRESSIONS:
        argv = ["derive", "--expr", text, *(f"--shape={k}={v}" for k, v in shapes.items()),
                *(f"--wrt={w}" for w in wrt)]
        for form in FORMS:
            src = f"derive --expr {text!r} {form}"
            out = {fmt: _cli([*argv, "--form", form, "--format", fmt]) for fmt in ("latex", "markdown", "text")}
            items.append(Item(src + " latex", out["latex"], "display"))
            items += markdown_maths(src + " markdown", out["markdown"])
            texts.append((src + " text", out["text"]))
    return items, texts


def _cli(argv: list[str]) -> str:
    import io
    from contextlib import redirect_stdout

    from symgrad.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0, argv
    return buf.getvalue().rstrip("\n")


#: More typed expressions (the library's calls): a norm with λ, RMSNorm- and SwiGLU-like blocks, softmax, traces.
MORE_EXPRESSIONS = [
    ("C = x.T @ A @ x", {"x": (3, 1), "A": (3, 3)}, ["x", "A"]),
    ("C = norm(X @ w - y)**2 + 0.5 * lam * norm(w)**2", {"X": (3, 2), "w": 2, "y": 3, "lam": ()}, ["w", "lam"]),
    ("z = X @ w\nC = -sum(y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z)))", {"X": (3, 2), "w": 2, "y": 3},
     ["w", "z"]),
    ("ms = mean(x**2, axis=0)\nr = ms**-0.5\nh = x * r * g\nC = sum(h * v)", {"x": (2, 2), "g": 2, "v": (2, 2)},
     ["x", "g"]),
    ("u = W1 @ x; up = W3 @ x; h = u * sigmoid(u) * up; C = sum(W2 @ h)",
     {"W1": (2, 2), "W3": (2, 2), "W2": (1, 2), "x": 2}, ["W1", "W3", "x"]),
    ("C = -sum(y * log_softmax(W @ x + b)) + trace(W @ W.T) / 100", {"W": (2, 2), "x": (2, 1), "b": 2, "y": 2},
     ["W", "b"]),
    ("C = sum(tanh(W @ x) / (1 + exp(W @ x)) - sqrt(1 + x * x) * s + relu(x) * softplus(x))",
     {"W": (2, 2), "x": 2, "s": ()}, ["W", "s", "x"]),
]


def more_expression_items() -> tuple[list[Item], list[tuple[str, str]]]:
    """`derive_expression` in LaTeX, Markdown and text, every form, and `verify_expression`'s LaTeX and Markdown."""
    from symgrad.derivation.expression import derive_expression, verify_expression

    items, texts = [], []
    for text, shapes, wrt in MORE_EXPRESSIONS:
        src = "derive_expression " + text.replace("\n", "; ")[:60]
        for form in FORMS:
            latex = derive_expression(text, shapes, wrt, fmt="latex", form=form)
            items.append(Item(f"{src} {form} latex", latex, "display"))
            items += markdown_maths(f"{src} {form} markdown", derive_expression(text, shapes, wrt, fmt="markdown",
                                                                                  form=form))
            texts.append((f"{src} {form} text", derive_expression(text, shapes, wrt, form=form)))
        rep = verify_expression(text, shapes, wrt, points=1)
        items.append(Item(src + " verify latex", rep.to_latex(), "document"))
        items += markdown_maths(src + " verify markdown", rep.to_markdown())
    return items, texts


def collect() -> tuple[list[Item], list[tuple[str, str]]]:
    """Every item, each distinct (LaTeX, mode) once (the first source that printed it names it)."""
    derived, texts = derive_items()
    typed, typed_texts = expression_items()
    more, more_texts = more_expression_items()
    typed += more
    texts += typed_texts + more_texts
    everything = derived + typed + display_items() + explicit_items() + verify_items() + explain_items()
    seen: dict[tuple[str, str], Item] = {}
    for it in everything:
        key = (it.tex, it.mode)
        if key in seen:
            if it.mathml and not seen[key].mathml:
                seen[key] = Item(seen[key].source, it.tex, it.mode, True)
            continue
        seen[key] = it
    return list(seen.values()), texts
