"""The numeric layer's choices: backends, dtypes, optimizers, what to do on NaN/Inf.

Plain tuples, no NumPy: the command line's parser reads them and ``symgrad --help`` answers
without importing the numeric libraries. The modules that use them export them too.
"""

__all__ = ["BACKENDS", "DTYPES", "NONFINITE", "OPTIMIZERS"]

#: The printers a network compiles with (``symgrad train --backend``).
BACKENDS = ("numpy", "jax")
#: The floating-point types of parameters and data.
DTYPES = ("float64", "float32")
#: The optimizers (:class:`~symgrad.numeric.optim.OptimizerConfig`).
OPTIMIZERS = ("sgd", "momentum", "adam")
#: What training does on a NaN/Inf: raise an error, stop keeping the last finite parameters, or ignore it.
NONFINITE = ("raise", "stop", "ignore")
