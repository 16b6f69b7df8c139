r"""Higher order: the Hessian of a small network by backprop on derivative nodes.

Backprop adds ∂C/∂θ_i to the graph as ordinary nodes; running backprop again
from each (scalar) ∂C/∂θ_i adds ∂²C/∂θ_i∂θ_j. This example does that for a
neuron-level 1-2-1 sigmoid network with the quadratic cost (7 parameters, a
7×7 Hessian) and proves that every entry equals ``sympy.hessian`` of the
explicit cost: their difference simplifies to 0. It also checks the symmetry
H_ij = H_ji of the graph's own entries and evaluates both at a point.

The numbers come in one call too: `symgrad.hessian(net, at=values)` compiles the
second-derivative nodes and returns a NumPy array whose rows and columns are the parameters
in the order `H.names` states. The example checks it against the closed form at the same
point, and computes the 15×15 Hessian of a 2-2-3 tanh network with a softmax output and the
log-likelihood cost over a mini-batch of 5 examples (columns), whose compilation took minutes
before the derivative fusion was targeted (`benchmarks/hessian_compile.py`).

Run: `python examples/hessian.py`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sympy as sp

import symgrad as sg
from symgrad import expand, hessian_nodes, mlp
from symgrad.derivation.verify import _Atomizer, decide_zero, lambdify
from symgrad.printing import BookLatexPrinter


def main(sizes: tuple[int, ...] = (1, 2, 1), activation: str = "sigmoid", verbose: bool = True) -> dict[str, Any]:
    net = mlp(sizes, activation, "quadratic", level="neuron")
    g = net.graph
    params = [p.name for p in g.parameters]
    names = hessian_nodes(g, "C", params)
    H_graph = sp.Matrix([[sp.S.Zero if n is None else expand(g, n) for n in row] for row in names])
    C = expand(g, "C")
    symbols = [g[p] for p in params]
    H_sympy = sp.hessian(C, symbols)
    atomizer = _Atomizer()
    verdicts = [decide_zero(H_graph[i, j] - H_sympy[i, j], atomizer) for i in range(len(params)) for j in range(len(params))]
    symmetric = all(
        decide_zero(H_graph[i, j] - H_graph[j, i], atomizer) == "0"
        for i in range(len(params))
        for j in range(i + 1, len(params))
    )
    rng = np.random.default_rng(0)
    leaves = [n.symbol for n in g.nodes(("input", "parameter", "target"))]
    point = rng.standard_normal(len(leaves))
    Hg = np.array(lambdify(leaves, H_graph)(*point), dtype=float)
    Hs = np.array(lambdify(leaves, H_sympy)(*point), dtype=float)
    # the same Hessian in one call, at the same point (the order of its rows: H.names)
    H = sg.hessian(net, at={str(s): v for s, v in zip(leaves, point)})
    order = [params.index(n) for n in H.names]
    # a larger one over a mini-batch: 2-2-3 tanh, softmax output, log-likelihood cost
    big = mlp([2, 2, 3], "tanh", "log_likelihood", level="neuron", seed=0)
    x, labels = rng.standard_normal((2, 5)), rng.integers(0, 3, 5)
    start = time.perf_counter()
    H3 = sg.hessian(big, at={"x": x, "y": np.eye(3)[:, labels]})
    seconds = time.perf_counter() - start
    out = {
        "parameters": params,
        "entries": len(verdicts),
        "proved": sum(v == "0" for v in verdicts),
        "second_derivative_nodes": sum(n is not None for row in names for n in row),
        "symmetric": symmetric,
        "max_numeric_difference": float(np.abs(Hg - Hs).max()),
        "eigenvalues": np.linalg.eigvalsh((Hg + Hg.T) / 2).tolist(),
        "order": list(H.names),
        "one_call_difference": float(np.abs(np.asarray(H) - Hg[np.ix_(order, order)]).max()),
        "hessian_223_shape": H3.shape,
        "hessian_223_asymmetry": float(np.abs(H3 - H3.T).max()),
        "hessian_223_seconds": seconds,
    }
    if verbose:
        printer = BookLatexPrinter({n.symbol: n.tex for n in g.nodes() if n.tex})
        i, j = params.index("w2_1_1"), params.index("w3_1_1")
        node = g.node(names[i][j])
        print(f"a second-derivative node: {node.name} = {printer.doprint(node.expr)}")
        print(
            f"{out['proved']}/{out['entries']} Hessian entries proved equal to sympy.hessian "
            f"({out['second_derivative_nodes']} second-derivative nodes); symmetric: {symmetric}; "
            f"max difference at a random point {out['max_numeric_difference']:.1e}"
        )
        print(f"sg.hessian(net, at=...) in the order {', '.join(H.names)}: max difference from the closed form "
              f"{out['one_call_difference']:.1e}")
        print(f"2-2-3 tanh/log-likelihood over 5 examples: a {H3.shape[0]}×{H3.shape[1]} Hessian in {seconds:.1f} s "
              f"(compiled), asymmetry {out['hessian_223_asymmetry']:.1e}")
    return out


if __name__ == "__main__":
    main()
