"""The core: graphs whose nodes hold SymPy expressions, the rule table, and backprop.

A `Graph` holds named nodes (Deep Learning book §6.5.1); `RULES` gives one
vector–Jacobian product per head; `backprop` adds the derivative nodes ∂C/∂u to the
same graph (§6.5.5). Nothing here imports a layer above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .backprop import backprop, derivative_name, expand, gradients
    from .functions import (
        ACTIVATIONS,
        closed_form,
        identity,
        log_softmax,
        relu,
        sigmoid,
        sigmoid_prime,
        softmax,
        softplus,
        step,
        tanh_prime,
    )
    from .graph import Graph, Node, as_graph
    from .hessian import hessian, hessian_nodes
    from .rules import RULES, local_partial, pullback, rule_for

__all__ = [
    "ACTIVATIONS",
    "RULES",
    "Graph",
    "Node",
    "as_graph",
    "backprop",
    "closed_form",
    "derivative_name",
    "expand",
    "gradients",
    "hessian",
    "hessian_nodes",
    "identity",
    "local_partial",
    "log_softmax",
    "pullback",
    "relu",
    "rule_for",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softplus",
    "step",
    "tanh_prime",
]

lazy_exports(__name__, {
    "backprop": ".backprop",
    "derivative_name": ".backprop",
    "expand": ".backprop",
    "gradients": ".backprop",
    "ACTIVATIONS": ".functions",
    "closed_form": ".functions",
    "identity": ".functions",
    "log_softmax": ".functions",
    "relu": ".functions",
    "sigmoid": ".functions",
    "sigmoid_prime": ".functions",
    "softmax": ".functions",
    "softplus": ".functions",
    "step": ".functions",
    "tanh_prime": ".functions",
    "Graph": ".graph",
    "Node": ".graph",
    "as_graph": ".graph",
    "hessian": ".hessian",
    "hessian_nodes": ".hessian",
    "RULES": ".rules",
    "local_partial": ".rules",
    "pullback": ".rules",
    "rule_for": ".rules",
})
