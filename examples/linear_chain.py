r"""Text 001's 3-weight linear chain, trained with symgrad's backprop graph and gradient-checked.

The chain (no activation functions):

    y = w1·x,   z = w2·y,   e = w3·z,   L = ½(e − ê)²,

so ∂L/∂w3 = (e − ê)·z, ∂L/∂w2 = (e − ê)·w3·y, ∂L/∂w1 = (e − ê)·w3·w2·x: the
factor (e − ê) and then (e − ê)·w3 are shared, which is the point of backprop.
It learns e = −x from the data x = [1, −1], labels ê = [−1, 1], with learning
rate 0.05, 160 epochs and w1 = 0.2333, w2 = −0.233, w3 = −0.52133.

How the text iterates (its ``train``): for each of the 160 epochs it loops over
the two examples in order and updates after *each example* (stochastic gradient
descent, batch size 1), so there are 320 updates. We do the same. At every
update the backprop gradient is compared with central differences
(L(w + ε) − L(w − ε)) / 2ε, ε = 1e−4, at the *same* weights.

The text's hand-written loop differs in one way that we do not copy: it updates
w3 first and then uses the *new* w3 in w2's gradient (``result2 = result3 *
self.w3``), and the new w2 in w1's; and its gradient check runs after the
update, at the new weights. That is why its printed checks disagree in the
third digit (0.003970 against 0.004164). Our derivative nodes are all
evaluated at the weights of the forward pass, and every check agrees to ≤ 1e−6.

Run: ``python examples/linear_chain.py``.
"""

from __future__ import annotations

from typing import Any

from symgrad import Graph, backprop

DATA = [1.0, -1.0]
LABELS = [-1.0, 1.0]
LEARNING_RATE = 0.05
EPOCHS = 160
START = {"w1": 0.2333, "w2": -0.233, "w3": -0.52133}
EPS = 1e-4
TOLERANCE = 1e-6


def build() -> Graph:
    """The chain x → y → z → e → L as a symgrad graph."""
    g = Graph("linear chain")
    x = g.input("x", tex="x")
    w = {k: g.parameter(k, value=v, tex=f"w_{{{k[1]}}}") for k, v in START.items()}
    e_hat = g.target("e_hat", tex=r"\hat{e}")
    g.add("y", w["w1"] * x, tex="y")
    g.add("z", w["w2"] * g["y"], tex="z")
    g.add("e", w["w3"] * g["z"], tex="e")
    g.add("L", (g["e"] - e_hat) ** 2 / 2, role="cost", tex="L")
    return g


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|) (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def central_difference(g: Graph, values: dict[str, float], name: str, eps: float = EPS) -> float:
    """(L(w + ε) − L(w − ε)) / 2ε for the parameter ``name``, the others held at ``values``."""
    plus = g.evaluate({**values, name: values[name] + eps}, names=["L"])["L"]
    minus = g.evaluate({**values, name: values[name] - eps}, names=["L"])["L"]
    return (plus - minus) / (2 * eps)


def text_first_check() -> dict[str, tuple[float, float]]:
    """The text's hand loop for its first example, with its check: ``{w: (its backprop, its central diff)}``.

    Reproduced to show why its printed checks disagree (see the module docstring).
    """
    w1, w2, w3 = START["w1"], START["w2"], START["w3"]
    x, e_real = DATA[0], LABELS[0]
    y = w1 * x
    z = w2 * y
    e = w3 * z
    result3 = e - e_real
    w3 = w3 - LEARNING_RATE * result3 * z
    result2 = result3 * w3
    w2 = w2 - LEARNING_RATE * result2 * y
    w1 = w1 - LEARNING_RATE * result2 * w2 * x

    def loss(a: float, b: float, c: float) -> float:
        return 0.5 * (a * b * c * x - e_real) ** 2

    def cd(i: int) -> float:
        p, m = [w1, w2, w3], [w1, w2, w3]
        p[i] += EPS
        m[i] -= EPS
        return (loss(*p) - loss(*m)) / (2 * EPS)

    return {"w3": (result3 * z, cd(2)), "w2": (result2 * y, cd(1)), "w1": (result2 * w2 * x, cd(0))}


def main(verbose: bool = True) -> dict[str, Any]:
    """Train 160 epochs example by example, checking every gradient; print and return the figures."""
    say = print if verbose else (lambda *a, **k: None)
    g = build()
    grads = backprop(g, "L")
    weights = dict(START)
    worst = 0.0
    worst_at: tuple = ()
    checks = 0
    first: dict[str, tuple[float, float]] = {}
    for epoch in range(1, EPOCHS + 1):
        for x, label in zip(DATA, LABELS):
            values = {**weights, "x": x, "e_hat": label}
            v = g.evaluate(values)
            for k, d in grads.items():
                numeric = central_difference(g, values, k)
                err = relative_error(v[d], numeric)
                if err > worst:
                    worst, worst_at = err, (epoch, x, k, v[d], numeric)
                checks += 1
                if not first or len(first) < 3:
                    first[k] = (v[d], numeric)
            weights = {k: weights[k] - LEARNING_RATE * v[grads[k]] for k in weights}
    assert worst <= TOLERANCE, f"backprop and central differences differ by {worst:.3g}"

    outputs = {x: g.evaluate({**weights, "x": x, "e_hat": 0.0}, names=["e"])["e"] for x in DATA}
    predictions = {x: 1 if e > 0 else -1 for x, e in outputs.items()}
    text = text_first_check()
    text_worst = max(relative_error(a, b) for a, b in text.values())

    say("symgrad: text 001's linear chain y = w1·x, z = w2·y, e = w3·z, L = ½(e − ê)²")
    say(f"  {EPOCHS} epochs × {len(DATA)} examples, one update per example (as the text), lr {LEARNING_RATE}")
    say("  first step, backprop vs central differences (ε = 1e-4):")
    for k in ("w3", "w2", "w1"):
        say(f"    dL/d{k}: backprop {first[k][0]:.9f}   central difference {first[k][1]:.9f}")
    say(f"  {checks} gradient checks, max relative error {worst:.2e} (≤ {TOLERANCE:g})")
    epoch, x_at, k_at, b_at, n_at = worst_at
    say(f"    worst at epoch {epoch}, x = {x_at:+g}: dL/d{k_at} = {b_at:.6e} vs {n_at:.6e} — w2 crosses 0 there,")
    say("    so the gradient is tiny and the round-off in L(w ± ε) sets the relative error")
    say(f"  weights: w1 = {weights['w1']:.9g}, w2 = {weights['w2']:.9g}, w3 = {weights['w3']:.9g}")
    for x in DATA:
        say(f"  predict({x:+g}): e = {outputs[x]:+.9f} -> {predictions[x]:+d}")
    say("note: the text's hand code updates w3 before using it in w2's gradient (and checks after")
    say("      the update), so its own first check disagrees:")
    for k in ("w3", "w2", "w1"):
        say(f"    dL/d{k}: text's backprop {text[k][0]:.6f}   text's definition {text[k][1]:.6f}")
    say(f"      (max relative error {text_worst:.2e}); ours computes every gradient at the same weights.")
    return {
        "weights": weights,
        "outputs": outputs,
        "predictions": predictions,
        "max_relative_error": worst,
        "worst_check": worst_at,
        "checks": checks,
        "first_step": first,
        "text_first_check": text,
        "text_max_relative_error": text_worst,
    }


if __name__ == "__main__":
    main()
