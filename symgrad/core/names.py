"""The names of a network's choices (activations, output activations, costs, levels, initialisations) and the
check of its layer sizes, without SymPy or NumPy.

The command line's parser reads these, so `symgrad --help` answers without importing SymPy;
`symgrad.core.functions` and `symgrad.networks` export them with the functions they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

from ..errors import UsageError

__all__ = ["ACTIVATION_NAMES", "COSTS", "INITS", "LEVELS", "OUTPUTS", "check_sizes", "is_whole"]

#: The activations σ of a layer (`symgrad.core.functions.ACTIVATIONS` maps each to σ and σ′).
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "identity")
#: The costs C of a network.
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
#: The output layer's activations: the hidden ones, and softmax (which goes with the log-likelihood cost).
OUTPUTS = (*ACTIVATION_NAMES, "softmax")
#: Entry by entry (the per-neuron view) or matrices (the layer level).
LEVELS = ("neuron", "layer")
#: How weights are drawn: N(0, 1), Glorot, He.
INITS = ("normal", "glorot", "he")


def is_whole(x: Any) -> bool:
    """`x` is a Python or NumPy integer (NumPy's register as `numbers.Integral`), not a bool."""
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, Integral) and type(x).__module__ == "numpy")


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """`sizes` [n_1, ..., n_L] as a tuple: whole numbers, L ≥ 2, every n_l ≥ 1 (else UsageError)."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or not all(map(is_whole, sizes)):
        raise UsageError(f"sizes must be a list of whole numbers, got {sizes!r}", arg="sizes")
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise UsageError(f"sizes needs at least two layers of at least one neuron, got {list(sizes)}", arg="sizes")
    return tuple(int(s) for s in sizes)
