"""Numbers: the derivative graph lowered and printed as NumPy or JAX, compiled, and trained.

`lower` holds the rewrites an expert makes by hand (σ′(z) as a(1 − a), stable logs,
δ^L = a − y); `numpy_printer` and `jax_printer` print the lowered graph (backends are
printers); `compile` turns it into one gradient function (`compile`); `program`
prints the whole training step and epoch with the optimizer's update
(`compile_training`); `backend` is what JAX needs at run time; `optim` holds the
optimizers (SGD, momentum, Adam); `schedule` the learning-rate schedules; `threads` the
BLAS thread count; `checkpoint` saves and resumes runs; `train` trains a
network (`train`); `model` puts a trained one to use (`load`, `Model.predict`,
`Model.evaluate`) and saves it with its provenance (`save`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .compile import CompiledModel, compile_graph
    from .compile import compile_graph as compile  # noqa: A004 - symgrad.numeric.compile(net): the graph compiled
    from .model import Evaluation, Model, Predictions, load, save
    from .names import BACKENDS, DTYPES, OPTIMIZERS
    from .optim import OptimizerConfig
    from .program import TrainingProgram, compile_training
    from .schedule import Schedule
    from .train import History, Trainer, train

__all__ = ["BACKENDS", "DTYPES", "OPTIMIZERS", "CompiledModel", "Evaluation", "History", "Model", "OptimizerConfig",
           "Predictions", "Schedule", "Trainer", "TrainingProgram", "compile", "compile_graph", "compile_training", "load",
           "save", "train"]

lazy_exports(__name__, {
    "Evaluation": ".model",
    "Model": ".model",
    "Predictions": ".model",
    "load": ".model",
    "save": ".model",
    "BACKENDS": ".names",
    "DTYPES": ".names",
    "OPTIMIZERS": ".names",
    "CompiledModel": ".compile",
    "compile_graph": ".compile",
    "OptimizerConfig": ".optim",
    "TrainingProgram": ".program",
    "compile_training": ".program",
    "Schedule": ".schedule",
    "History": ".train",
    "Trainer": ".train",
    "train": ".train",
    "compile": ".compile:compile_graph",
})
