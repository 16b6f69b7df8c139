r"""The MLP of text 004 (Deep Learning book §6.5.7), built op by op and differentiated.

    U1 = X W1,   H = max{0, U1},   U2 = H W2,
    J  = −Σ_i ln softmax(U2)_{i, y_i} + λ (Σ W1² + Σ W2²)

(examples are the *rows* of X; no biases, as in the book). Backprop adds the
derivative nodes; with G = ∇_{U2} J (the softmax cross-entropy gradient) the
book's result is

    ∇_{W2} J = Hᵀ G + 2λ W2,     ∇_{W1} J = Xᵀ G′ + 2λ W1,

where G′ = G W2ᵀ with the entries where X W1 < 0 zeroed (ReLU′ = H(U1)). This
example prints both in LaTeX, checks that the graph's derivative nodes are
exactly these expressions, and checks them numerically against central
differences of J and against the same formulas written by hand in NumPy.

Run: ``python examples/mlp_relu_softmax.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgrad import Graph, backprop, latex, log_softmax, relu, step
from symgrad.derivation.explicit import ExplicitView
from symgrad.derivation.verify import NodeProgram, central_difference
from symgrad.printing import to_latex

M, N_IN, N_HIDDEN, N_OUT = 4, 3, 5, 3  # examples, inputs, hidden units, classes


def build(m: int = M, n_in: int = N_IN, n_hidden: int = N_HIDDEN, n_out: int = N_OUT) -> Graph:
    """The forward graph of text 004's MLP, one node per operation."""
    g = Graph("mlp relu softmax")
    g.input("X", (m, n_in), tex="X")
    g.target("Y", (m, n_out), tex="Y")  # one-hot labels, one example per row
    g.input("lam", tex=r"\lambda")
    g.parameter("W1", (n_in, n_hidden), tex="W^{(1)}")
    g.parameter("W2", (n_hidden, n_out), tex="W^{(2)}")
    g.matmul("U1", "X", "W1", tex="U^{(1)}")
    g.op("H", lambda u: ElementwiseApplyFunction(relu, u), "U1", tex="H")
    g.matmul("U2", "H", "W2", tex="U^{(2)}")
    # log_softmax is column-wise (one example per column): apply it to U2ᵀ.
    g.op("logP", lambda u: log_softmax(u.T), "U2", tex=r"\ln P")
    # J = J_MLE + λ(Σ W1² + Σ W2²); tr(Y ln P) picks ln P of each example's class
    Y, logP, W1, W2 = g["Y"], g["logP"], g["W1"], g["W2"]
    g.add("J", -sp.Trace(Y * logP) + g["lam"] * (sp.Trace(W1.T * W1) + sp.Trace(W2.T * W2)), role="cost", tex="J")
    return g


def book_forms(g: Graph) -> dict[str, sp.MatrixExpr]:
    """The book's expressions for ∇W2 J and ∇W1 J, written with the graph's own nodes."""
    G = g["dJ/dU2"]
    G_prime = sp.HadamardProduct(G * g["W2"].T, ElementwiseApplyFunction(step, g["U1"]))
    lam = g["lam"]
    return {
        "W2": g["H"].T * G + 2 * lam * g["W2"],
        "W1": g["X"].T * G_prime + 2 * lam * g["W1"],
    }


def in_terms_of_G(g: Graph, name: str) -> sp.Basic:
    """Node ``name``'s expression with the derivative nodes between it and G = ∇_{U2} J substituted."""
    keep = {"dJ/dU2"}
    reps = {n.symbol: n.expr for n in g.nodes("derivative") if n.name not in keep and n.name != name}
    expr = g.node(name).expr
    while True:
        new = expr.xreplace(reps)
        if new == expr:
            return expr
        expr = new


def _numpy_forms(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, W2: np.ndarray, lam: float) -> dict[str, np.ndarray]:
    """The same gradients written by hand in NumPy (G = softmax(U2) − Y, rows = examples)."""
    U1 = X @ W1
    H = np.maximum(U1, 0)
    U2 = H @ W2
    P = np.exp(U2 - U2.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    G = P - Y
    G_prime = (G @ W2.T) * (U1 > 0)
    return {"W2": H.T @ G + 2 * lam * W2, "W1": X.T @ G_prime + 2 * lam * W1}


def main(seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Build, backprop, print, check; return the figures."""
    g = build()
    grads = backprop(g, "J")
    out: dict[str, Any] = {"grads": grads, "latex": {}}
    view = ExplicitView(g)
    # 1. the derivative nodes are the book's expressions (entry by entry, exactly)
    for p, form in book_forms(g).items():
        out["latex"][p] = latex(g, grads[p], form="node")
        out["latex"][f"{p}_in_G"] = to_latex(in_terms_of_G(g, grads[p]), g)
        node_entries = sp.Matrix(view._convert(in_terms_of_G(g, grads[p]), {}))
        book_entries = sp.Matrix(view._convert(form, {}))
        diff = (node_entries - book_entries).applyfunc(sp.expand)
        out[f"book_form_{p}"] = diff.is_zero_matrix
    out["latex"]["G"] = latex(g, "dJ/dU2", form="node")
    out["latex"]["G_prime"] = latex(g, "dJ/dU1", form="node")
    # 2. numerically: central differences of J, and the hand-written NumPy formulas
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((M, N_IN))
    Y = np.eye(N_OUT)[rng.integers(0, N_OUT, M)]
    W1 = rng.standard_normal((N_IN, N_HIDDEN))
    W2 = rng.standard_normal((N_HIDDEN, N_OUT))
    lam = 0.1
    values = {"X": X, "Y": Y, "W1": W1, "W2": W2}
    program = NodeProgram(view)
    point: dict[sp.Symbol, float] = {view.symbols("lam"): lam}
    for name, arr in values.items():
        point.update(zip(list(sp.Matrix(view.symbols(name))), arr.ravel().tolist()))
    result = program.run(point)
    names = list(point)
    theta = np.array([point[s] for s in names])
    J_symbol = g["J"]

    def cost(v: np.ndarray) -> float:
        return program.run(dict(zip(names, v)))[J_symbol]

    hand = _numpy_forms(X, Y, W1, W2, lam)
    for p in ("W1", "W2"):
        shape = values[p].shape
        graph_grad = np.array([result[s] for s in sp.Matrix(view.symbols(grads[p]))]).reshape(shape)
        numeric = np.array(
            [central_difference(cost, theta, names.index(s)) for s in sp.Matrix(view.symbols(p))]
        ).reshape(shape)
        scale = max(1.0, np.abs(numeric).max())
        out[f"numeric_error_{p}"] = float(np.abs(graph_grad - numeric).max() / scale)
        out[f"numpy_error_{p}"] = float(np.abs(graph_grad - hand[p]).max() / scale)
    # relu really zeroes something: some entries of X W1 are negative
    out["relu_zeroed"] = int(((X @ W1) < 0).sum())
    if verbose:
        print("G = ∇_{U2} J:     ", out["latex"]["G"])
        print("G′ = ∇_{U1} J:    ", out["latex"]["G_prime"])
        print("∇_{W2} J:         ", out["latex"]["W2"])
        print("∇_{W1} J:         ", out["latex"]["W1"])
        print("  in terms of G:  ", out["latex"]["W1_in_G"])
        for p in ("W2", "W1"):
            print(
                f"{p}: equals the book's form exactly: {out[f'book_form_{p}']}; "
                f"max error vs central differences {out[f'numeric_error_{p}']:.1e}, "
                f"vs hand-written NumPy {out[f'numpy_error_{p}']:.1e}"
            )
    return out


if __name__ == "__main__":
    main()
