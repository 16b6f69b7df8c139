r"""Text 004 (Deep Learning book §6.5): z = f(f(f(w))), where backprop shares f(w) and f(f(w)).

With x = f(w), y = f(x), z = f(y) the chain rule gives

    ∂z/∂w = ∂z/∂y · ∂y/∂x · ∂x/∂w = f′(y) f′(x) f′(w) = f′(f(f(w))) f′(f(w)) f′(w).

Written out in w alone (the last form) it evaluates f six times: f(w) three
times, f(f(w)) twice, f(f(f(w))) once. Backprop instead keeps x = f(w) and
y = f(x) as nodes of the graph and writes ∂z/∂w in terms of them, so each is
computed once. :meth:`symgrad.Graph.from_expr` turns the repeated
subexpressions into shared nodes; :func:`symgrad.backprop` then adds one
derivative node per forward node below the cost (∂z/∂z = 1 needs none), and
each derivative node refers to x and y by their symbols.

Run: ``python examples/repeated_subexpression.py``.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symgrad import Graph, backprop, expand
from symgrad.core.functions import closed_form
from symgrad.derivation.chainrule import chain_rule
from symgrad.printing import equation


def applications(expr: sp.Basic) -> int:
    """Function applications (exp, σ, σ′, tanh, ...) in ``expr`` read as a tree, repeats counted."""
    own = 1 if isinstance(expr, sp.Function) else 0
    return own + sum(applications(a) for a in expr.args)


def main(f: Any = sp.exp, verbose: bool = True) -> dict[str, Any]:
    """Build z = f(f(f(w))), backprop, count and print; return the counts and formulas."""
    say = print if verbose else (lambda *a, **k: None)
    w = sp.Symbol("w", real=True)
    z = f(f(f(w)))
    g = Graph.from_expr(z, "z")
    # The book's names: x = f(w), y = f(x); derivative nodes made later print as ∂z/∂y, ∂z/∂x.
    g.node("t1").tex, g.node("t2").tex = "x", "y"
    forward = [n.name for n in g.nodes() if n.role != "derivative"]
    below_cost = [n for n in forward if n != "z"]
    grads = backprop(g, "z")
    derivative = [n.name for n in g.nodes("derivative")]
    dzdw = grads["w"]

    # Which forward nodes do the derivative nodes read? f(w) and f(f(w)) must be among them.
    assert g.node("t1").expr == f(w) and g.node("t2").expr == f(g["t1"])
    read = sorted({p for d in derivative for p in g.parents(d) if g.node(p).role != "derivative"})
    consumers = {n: [c for c in g.consumers(n) if g.node(c).role == "derivative"] for n in ("t1", "t2")}

    closed = expand(g, dzdw)
    assert sp.simplify(closed_form(closed - sp.diff(z, w))) == 0
    # The derivative in w alone recomputes f(w) and f(f(w)) at every use; the graph computes
    # each forward node once and the derivative nodes add only their own f′ applications.
    in_w = applications(closed)
    in_graph = sum(applications(g.node(n).expr) for n in forward + derivative if g.node(n).expr is not None)
    name = getattr(f, "__name__", str(f))
    chain = chain_rule(g, "z", "w")

    say(f"symgrad: z = f(f(f(w))) of text 004 (Deep Learning book §6.5), f = {name}")
    shown = [f"{n} = {g.node(n).expr}" if g.node(n).expr is not None else n for n in forward]
    say(f"  forward graph: {len(forward)} nodes ({', '.join(shown)}); t1 is x = f(w), t2 is y = f(x)")
    say(f"  derivative nodes added: {len(derivative)} (one per forward node below the cost z: {len(below_cost)})")
    for d in derivative:
        say(f"    {d} = {g.node(d).expr}")
    say(f"  f(w) = t1 is read by {consumers['t1']}, f(f(w)) = t2 by {consumers['t2']}")
    say(f"  function applications: {in_w} in the closed form in w, {in_graph} in the whole graph")
    for i, dn in enumerate(derivative):
        say(("  LaTeX, node by node: " if i == 0 else " " * 23) + equation(g, dn, form="node"))
    say("  chain rule:          " + chain.tex)
    say("  LaTeX, in w alone:   " + equation(g, dzdw, form="expanded"))
    return {
        "forward_nodes": len(forward),
        "derivative_nodes": len(derivative),
        "below_cost": len(below_cost),
        "reads": read,
        "consumers": consumers,
        "applications_in_w": in_w,
        "applications_in_graph": in_graph,
        "dz_dw": dzdw,
        "closed_form": closed,
        "chain_rule": chain,
        "tex": equation(g, dzdw, form="node"),
        "tex_expanded": equation(g, dzdw, form="expanded"),
        "graph": g,
    }


if __name__ == "__main__":
    main()
