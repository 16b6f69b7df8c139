r"""The JAX printer for lowered graphs: SymPy's `JaxPrinter`, taught what the NumPy printer is taught.

"Backends are printers": the graph is lowered once (`symgrad.numeric.lower`) and printed
by `GraphJaxPrinter` exactly as `symgrad.numeric.numpy_printer.GraphNumPyPrinter`
prints it — the same statements, with `jnp` for `np` (both share
`GraphPrinting`). symgrad's heads print themselves
through `_jaxcode` beside their `_numpycode`. The helpers of `HELPERS` are the
stable forms JAX has built in (`jax.nn.sigmoid` is the logistic function, `jax.nn.softmax`
subtracts the maximum). Importing this module does not import JAX: the printed code does.
"""

from __future__ import annotations

from sympy.printing.numpy import JaxPrinter

from .lower import Lowering
from .numpy_printer import GraphPrinting

#: Helper functions every generated JAX module starts with (σ, σ′, softmax and log-softmax per column).
HELPERS = '''\
def _sigmoid(z):
    return jax.nn.sigmoid(z)  # the logistic function, stable for any z


def _sigmoid_prime(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def _softmax(z):
    return jax.nn.softmax(z, axis=0)  # per column (one example per column), minus the column max


def _log_softmax(z):
    return jax.nn.log_softmax(z, axis=0)
'''


class GraphJaxPrinter(GraphPrinting, JaxPrinter):
    """SymPy's JAX printer, taught the heads of symgrad's graphs (`GraphPrinting`): `jnp` for `np`."""

    np = "jnp"

    def __init__(self, ctx: Lowering, dtype: str = "float64") -> None:
        super().__init__({"order": "none", "fully_qualified_modules": True, "allow_unknown_functions": False})
        self.ctx = ctx
        self.dtype = dtype
