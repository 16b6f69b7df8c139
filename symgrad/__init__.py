"""symgrad: symbol-to-symbol differentiation of neural networks.

A computation is a `Graph` (networkx) whose nodes hold SymPy
expressions; `backprop` adds the derivative nodes ∂C/∂u to the same
graph (Deep Learning book §6.5); the result prints in Nielsen's notation,
verifies BP1–BP4, and compiles to NumPy for training; `load` gives a saved model back
to predict with and evaluate.

The package is layered, each layer importing only those below it:

```text
cli → derivation → numeric, printing → store → networks → layers → core → errors
```

Importing the package imports none of SymPy, NumPy or networkx (`symgrad --help` answers at once):
each name here, and in each subpackage, is imported from its module when first used (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import printing  # noqa: F401 - fills the core's notebook displays (they load the printing modules when first shown)
from .errors import GraphError, lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .core import Graph, Node, backprop, expand, gradients, hessian_nodes
    from .core.functions import log_softmax, relu, sigmoid, sigmoid_prime, softmax, softplus, step, tanh_prime
    from .core.parse import parse
    from .derivation import ChainRule, chain_rule, verify_graph
    from .layers import layer, sequential
    from .networks import Network, init_params, mlp
    from .numeric.hessian import Hessian, hessian
    from .numeric.model import Model, load
    from .printing import Formula, latex

__version__ = "0.1.0"

__all__ = [
    "ChainRule",
    "chain_rule",
    "Formula",
    "Graph",
    "GraphError",
    "Hessian",
    "Model",
    "Network",
    "Node",
    "backprop",
    "expand",
    "gradients",
    "hessian",
    "hessian_nodes",
    "init_params",
    "load",
    "latex",
    "layer",
    "log_softmax",
    "mlp",
    "parse",
    "sequential",
    "relu",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softplus",
    "step",
    "tanh_prime",
    "verify_graph",
]

lazy_exports(__name__, {
    "Graph": ".core",
    "Node": ".core",
    "backprop": ".core",
    "expand": ".core",
    "gradients": ".core",
    "hessian_nodes": ".core",
    "hessian": ".numeric.hessian",
    "Hessian": ".numeric.hessian",
    "log_softmax": ".core.functions",
    "relu": ".core.functions",
    "sigmoid": ".core.functions",
    "sigmoid_prime": ".core.functions",
    "softmax": ".core.functions",
    "softplus": ".core.functions",
    "step": ".core.functions",
    "tanh_prime": ".core.functions",
    "ChainRule": ".derivation",
    "chain_rule": ".derivation",
    "verify_graph": ".derivation",
    "layer": ".layers",
    "sequential": ".layers",
    "Network": ".networks",
    "init_params": ".networks",
    "mlp": ".networks",
    "Model": ".numeric.model",
    "load": ".numeric.model",
    "parse": ".core.parse",
    "Formula": ".printing",
    "latex": ".printing",
})
