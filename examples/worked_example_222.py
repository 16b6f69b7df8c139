r"""Text 003's worked example: backprop by hand on a 2-2-2 sigmoid network, redone by symgrad.

The network (the text's names; i1, i2 inputs, h1, h2 hidden, o1, o2 outputs):

    net_h1 = w1·i1 + w2·i2 + b1,   out_h1 = σ(net_h1)      (h2: w3, w4, the same b1)
    net_o1 = w5·out_h1 + w6·out_h2 + b2,   out_o1 = σ(net_o1)   (o2: w7, w8, the same b2)
    E_total = ½(target_o1 − out_o1)² + ½(target_o2 − out_o2)²

with i = (0.05, 0.10), targets (0.01, 0.99), learning rate η = 0.5, and one
update w ← w − η ∂E_total/∂w of the eight weights per step (the biases are not
updated). The graph is built op by op, :func:`symgrad.backprop` adds the
derivative nodes, and :func:`symgrad.chain_rule` writes ∂E/∂w5 and
∂E/∂w1 as the text does, a product of local partials along each path.

Run: ``python examples/worked_example_222.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sympy as sp

from symgrad import Graph, backprop, sigmoid
from symgrad.derivation.chainrule import chain_rule

# The starting point (the text's figures, copied here: examples read nothing outside the repository).
INPUTS = {"i1": 0.05, "i2": 0.10}
TARGETS = {"target_o1": 0.01, "target_o2": 0.99}
WEIGHTS = {
    "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
    "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55,
}
BIASES = {"b1": 0.35, "b2": 0.60}
LEARNING_RATE = 0.5
STEPS = 10_000

#: The figures text 003 prints, as strings so their number of digits is kept.
TEXT = {
    "out_o1": "0.75136507",
    "E_total": "0.298371109",
    "E_total after 1 update": "0.291027924",
    "E_total after 10000 updates": "0.000035085",
    "out_o1 after 10000 updates": "0.015912196",
    "out_o2 after 10000 updates": "0.984065734",
}


def build() -> Graph:
    """The 2-2-2 network of text 003 as a symgrad graph, node by node, with the text's names."""
    g = Graph("2-2-2 worked example")
    for name, v in INPUTS.items():
        g.input(name, value=v, tex=f"i_{{{name[1:]}}}")
    for name, v in WEIGHTS.items():
        g.parameter(name, value=v, tex=f"w_{{{name[1:]}}}")
    # Parameters that training leaves alone: backprop is asked for w1..w8 only.
    for name, v in BIASES.items():
        g.parameter(name, value=v, tex=f"b_{{{name[1:]}}}")
    for name, v in TARGETS.items():
        g.target(name, value=v, tex=f"target_{{{name[-2:]}}}")
    i1, i2, b1, b2 = g["i1"], g["i2"], g["b1"], g["b2"]
    w = {k: g[k] for k in WEIGHTS}
    g.add("net_h1", w["w1"] * i1 + w["w2"] * i2 + b1, tex="net_{h1}")
    g.add("out_h1", sigmoid(g["net_h1"]), tex="out_{h1}")
    g.add("net_h2", w["w3"] * i1 + w["w4"] * i2 + b1, tex="net_{h2}")
    g.add("out_h2", sigmoid(g["net_h2"]), tex="out_{h2}")
    g.add("net_o1", w["w5"] * g["out_h1"] + w["w6"] * g["out_h2"] + b2, tex="net_{o1}")
    g.add("out_o1", sigmoid(g["net_o1"]), tex="out_{o1}")
    g.add("net_o2", w["w7"] * g["out_h1"] + w["w8"] * g["out_h2"] + b2, tex="net_{o2}")
    g.add("out_o2", sigmoid(g["net_o2"]), tex="out_{o2}")
    E = sp.Rational(1, 2) * ((g["target_o1"] - g["out_o1"]) ** 2 + (g["target_o2"] - g["out_o2"]) ** 2)
    g.add("E_total", E, role="cost", tex=r"E_{total}")
    return g


# --------------------------------------------------------------- float path
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sigmoid_prime(x: float) -> float:
    s = _sigmoid(x)
    return s * (1.0 - s)


_MODULES = [{"sigmoid": _sigmoid, "sigmoid_prime": _sigmoid_prime}, "math"]


class FloatProgram:
    """The graph as plain-float Python: one lambdified statement per node, in topological order.

    ``graph.evaluate`` goes through SymPy at every node (≈ 30 ms a step here);
    10,000 steps need plain floats. Each node is lambdified in its parents'
    symbols only, so the derivative graph's sharing is kept (δ of o1 is
    computed once and used by w5, w6 and the hidden layer).
    """

    def __init__(self, graph: Graph) -> None:
        self.steps: list[tuple[str, Callable[..., float], list[str], str]] = []
        for node in graph:
            if node.expr is None:
                continue
            parents = graph.parents(node.name)
            fn = sp.lambdify([graph[p] for p in parents], node.expr, modules=_MODULES, dummify=True)
            self.steps.append((node.name, fn, parents, node.role))

    def run(self, env: dict[str, float], roles: Iterable[str] | None = None) -> dict[str, float]:
        """Fill ``env`` (leaf name → value) with every computed node (or those with ``roles``)."""
        only = None if roles is None else set(roles)
        for name, fn, parents, role in self.steps:
            if only is None or role in only:
                env[name] = float(fn(*[env[p] for p in parents]))
        return env


def _leaves(weights: Mapping[str, float]) -> dict[str, float]:
    return {**INPUTS, **TARGETS, **BIASES, **weights}


def _update(weights: Mapping[str, float], env: Mapping[str, float], grads: Mapping[str, str]) -> dict[str, float]:
    return {k: weights[k] - LEARNING_RATE * env[grads[k]] for k in weights}


def train(
    program: FloatProgram, grads: Mapping[str, str], steps: int, *, text_order: bool = False
) -> tuple[dict[str, float], dict[str, float]]:
    """``steps`` gradient-descent updates; returns the final weights and the forward values at them.

    ``text_order=True`` reproduces the text's printed figures: the hidden
    weights' gradients are computed with w5..w8 *already updated* (the text
    says it uses the old ones, but its numbers are those of this order).
    """
    weights = dict(WEIGHTS)
    for _ in range(steps):
        env = program.run(_leaves(weights))
        new = _update(weights, env, grads)
        if text_order:
            env.update({k: new[k] for k in ("w5", "w6", "w7", "w8")})
            program.run(env, roles=("derivative",))
            new.update({k: weights[k] - LEARNING_RATE * env[grads[k]] for k in ("w1", "w2", "w3", "w4")})
        weights = new
    return weights, program.run(_leaves(weights), roles=("intermediate", "cost"))


# --------------------------------------------------------------- comparison
def agrees(ours: float, text: str) -> bool:
    """Whether ``ours`` rounds to the text's figure at the text's number of decimals."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(ours - float(text)) <= 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)


def _fmt(x: float) -> str:
    """Nine significant digits, trailing zeros kept (0.751365070)."""
    return f"{x:#.9g}"


def main(steps: int = STEPS, verbose: bool = True) -> dict[str, Any]:
    """Build, differentiate, train; print and return the figures."""
    say = print if verbose else (lambda *a, **k: None)
    g = build()
    grads = backprop(g, "E_total", wrt=list(WEIGHTS))

    # Step 0 and the first update through the graph itself (SymPy numbers, 15 digits).
    v0 = g.evaluate()
    w1st = _update(WEIGHTS, v0, grads)
    v1 = g.evaluate({**w1st}, names=["E_total"])

    # The same through plain floats, then 10,000 updates.
    program = FloatProgram(g)
    f0 = program.run(_leaves(WEIGHTS))
    for k in ("out_o1", "E_total", *grads.values()):
        assert math.isclose(f0[k], v0[k], rel_tol=1e-12), k  # the two paths agree
    wN, fN = train(program, grads, steps)
    wT1, fT1 = train(program, grads, 1, text_order=True)
    wTN, fTN = train(program, grads, steps, text_order=True)

    d5 = chain_rule(g, "E_total", "w5", numbers=True)
    d1 = chain_rule(g, "E_total", "w1", numbers=True)
    assert math.isclose(d5.value, v0[grads["w5"]], rel_tol=1e-12)
    assert math.isclose(d1.value, v0[grads["w1"]], rel_tol=1e-12)

    say("symgrad: text 003's 2-2-2 network (i = 0.05, 0.10; targets 0.01, 0.99; η = 0.5; biases fixed)")
    say(f"  out_h1 = {_fmt(v0['out_h1'])}   out_h2 = {_fmt(v0['out_h2'])}")
    say(f"  out_o1 = {_fmt(v0['out_o1'])}   out_o2 = {_fmt(v0['out_o2'])}")
    say(f"  E_total = {_fmt(v0['E_total'])}")
    say("chain rule (LaTeX):")
    say("  " + d5.tex)
    say("  " + d1.tex)
    say("weights after the first update:")
    for k in WEIGHTS:
        say(f"  {k}: {WEIGHTS[k]:.2f} -> {_fmt(w1st[k])}   (∂E/∂{k} = {_fmt(v0[grads[k]])})")
    say(f"E_total after 1 update:      {_fmt(v1['E_total'])}")
    say(f"E_total after {steps} updates: {_fmt(fN['E_total'])}"
        f"   (out_o1 = {_fmt(fN['out_o1'])}, out_o2 = {_fmt(fN['out_o2'])})")

    ours = {
        "out_o1": v0["out_o1"],
        "E_total": v0["E_total"],
        "E_total after 1 update": v1["E_total"],
        f"E_total after {steps} updates": fN["E_total"],
        f"out_o1 after {steps} updates": fN["out_o1"],
        f"out_o2 after {steps} updates": fN["out_o2"],
    }
    text_order = {
        "E_total after 1 update": fT1["E_total"],
        f"E_total after {steps} updates": fTN["E_total"],
        f"out_o1 after {steps} updates": fTN["out_o1"],
        f"out_o2 after {steps} updates": fTN["out_o2"],
    }
    say("the text's figures against exact arithmetic (SymPy numbers for one step, float64 for 10,000;")
    say("both are good to far more than the 9 digits compared):")
    disagree = []
    for key, text in TEXT.items():
        if key not in ours:
            continue
        ok = agrees(ours[key], text)
        if not ok:
            disagree.append(key)
        say(f"  {key:<28} text {text:<12} ours {_fmt(ours[key]):<14} {'agrees' if ok else 'DISAGREES'}")
    text_explained = [k for k in disagree if agrees(text_order[k], TEXT[k])]
    if disagree:
        say(f"the text's figures disagree with exact arithmetic in {len(disagree)} places; ours are above.")
    if disagree and text_explained == disagree:
        say("  Its numbers are what you get by updating w1..w4 with gradients that use the already")
        say("  updated w5..w8 (the text says it uses the old weights, and that is the gradient):")
        for k in text_explained:
            say(f"    {k:<28} that order gives {_fmt(text_order[k]):<14} text {TEXT[k]}")

    return {
        "out_h1": v0["out_h1"],
        "out_h2": v0["out_h2"],
        "out_o1": v0["out_o1"],
        "out_o2": v0["out_o2"],
        "E_total": v0["E_total"],
        "gradients": {k: v0[grads[k]] for k in WEIGHTS},
        "weights_after_1": w1st,
        "E_total_after_1": v1["E_total"],
        "weights_after_n": wN,
        "E_total_after_n": fN["E_total"],
        "out_o1_after_n": fN["out_o1"],
        "out_o2_after_n": fN["out_o2"],
        "steps": steps,
        "dE_dw5": d5,
        "dE_dw1": d1,
        "disagreements": disagree,
        "text_order": {**text_order, "weights_after_1": wT1},
        "text_explained": text_explained,
    }


if __name__ == "__main__":
    main()
