"""Numbers: the derivative graph lowered and printed as NumPy, compiled, and trained.

``lower`` holds the rewrites an expert makes by hand (σ′(z) as a(1 − a), stable logs,
δ^L = a − y); ``numpy_printer`` prints the lowered graph; ``compile`` turns it into one
NumPy function (:func:`compile`); ``optim`` updates parameters (SGD, momentum, Adam);
``checkpoint`` saves and resumes runs; ``train`` trains a network (:func:`train`).
"""

from .compile import DTYPES, CompiledModel, compile_graph
from .optim import OPTIMIZERS
from .train import History, Trainer, train

#: ``symgrad.numeric.compile(net)``: the graph compiled to NumPy (:func:`compile_graph`).
compile = compile_graph  # noqa: A001 - the public name; inside its module it need not shadow the builtin

__all__ = ["DTYPES", "OPTIMIZERS", "CompiledModel", "History", "Trainer", "compile", "compile_graph", "train"]
