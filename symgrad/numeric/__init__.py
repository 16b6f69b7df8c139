"""Numbers: the derivative graph lowered and printed as NumPy or JAX, compiled, and trained.

`lower` holds the rewrites an expert makes by hand (σ′(z) as a(1 − a), stable logs,
δ^L = a − y); `numpy_printer` and `jax_printer` print the lowered graph (backends are
printers); `compile` turns it into one gradient function (`compile`); `program`
prints the whole training step and epoch with the optimizer's update
(`compile_training`); `backend` is what JAX needs at run time; `optim` holds the
optimizers (SGD, momentum, Adam); `checkpoint` saves and resumes runs; `train` trains a
network (`train`).
"""

from .backend import BACKENDS
from .compile import DTYPES, CompiledModel, compile_graph
from .optim import OPTIMIZERS, OptimizerConfig
from .program import TrainingProgram, compile_training
from .train import History, Trainer, train

#: `symgrad.numeric.compile(net)`: the graph compiled to NumPy (`compile_graph`).
compile = compile_graph  # noqa: A001 - the public name; inside its module it need not shadow the builtin

__all__ = ["BACKENDS", "DTYPES", "OPTIMIZERS", "CompiledModel", "History", "OptimizerConfig", "Trainer",
           "TrainingProgram", "compile", "compile_graph", "compile_training", "train"]
