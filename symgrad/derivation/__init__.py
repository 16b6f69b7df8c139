"""Derivations: the formulas backprop adds, written out, proved and explained.

`derive` labels each derivative node with BP1–BP4; `explicit` writes a layer-level
node entry by entry (the per-neuron view); `chainrule` writes ∂C/∂w as a sum over paths;
`verify` proves BP1–BP4 exactly and checks them numerically (and, with `verify_graph`, every
derivative node of any graph); `steps` works out one
gradient-descent step neuron by neuron and `explain` writes it up as a report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .chainrule import ChainRule, chain_rule
    from .derive import bp_label, derivation, render
    from .explain import StepReport, explain
    from .explicit import ExplicitView, componentwise, explicit
    from .verify import GraphVerification, Verification, verify_bp, verify_graph, verify_network

__all__ = [
    "ChainRule",
    "ExplicitView",
    "GraphVerification",
    "StepReport",
    "Verification",
    "bp_label",
    "chain_rule",
    "componentwise",
    "derivation",
    "explain",
    "explicit",
    "render",
    "verify_bp",
    "verify_graph",
    "verify_network",
]

lazy_exports(__name__, {
    "ChainRule": ".chainrule",
    "chain_rule": ".chainrule",
    "bp_label": ".derive",
    "derivation": ".derive",
    "render": ".derive",
    "StepReport": ".explain",
    "explain": ".explain",
    "ExplicitView": ".explicit",
    "componentwise": ".explicit",
    "explicit": ".explicit",
    "Verification": ".verify",
    "GraphVerification": ".verify",
    "verify_bp": ".verify",
    "verify_graph": ".verify",
    "verify_network": ".verify",
})
