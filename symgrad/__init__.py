"""symgrad: symbol-to-symbol differentiation of neural networks.

A computation is a :class:`Graph` (networkx) whose nodes hold SymPy
expressions; :func:`backprop` adds the derivative nodes ∂C/∂u to the same
graph (Deep Learning book §6.5); the result prints in Nielsen's notation,
verifies BP1–BP4, and compiles to NumPy for training.

The package is layered, each layer importing only those below it::

    cli → derivation → numeric, printing → store → networks → layers → core → errors
"""

from . import layers
from .core import Graph, Node, backprop, expand, gradients
from .core.functions import log_softmax, relu, sigmoid, sigmoid_prime, softmax, softplus, step, tanh_prime
from .derivation import ChainRule, chain_rule, verify_graph
from .errors import GraphError
from .layers import layer, sequential
from .networks import Network, init_params, mlp
from .printing import Formula, latex  # importing printing also fills the core's notebook displays

__version__ = "0.1.0"

__all__ = [
    "ChainRule",
    "chain_rule",
    "Formula",
    "Graph",
    "GraphError",
    "Network",
    "Node",
    "backprop",
    "expand",
    "gradients",
    "init_params",
    "latex",
    "layer",
    "layers",
    "log_softmax",
    "mlp",
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
