"""The numeric layer's choices: backends, dtypes, optimizers, what to do on NaN/Inf.

Plain tuples, no NumPy: the command line's parser reads them and `symgrad --help` answers
without importing the numeric libraries. The modules that use them export them too.
"""

__all__ = ["AUTO_THREADS", "BACKENDS", "DEFAULT_GAMMA", "DTYPES", "MONITORS", "NONFINITE", "OPTIMIZERS", "OVERRIDABLE",
           "SCHEDULES", "THREAD_CHOICES"]

#: The printers a network compiles with (`symgrad train --backend`).
BACKENDS = ("numpy", "jax")
#: The floating-point types of parameters and data.
DTYPES = ("float64", "float32")
#: The optimizers (`OptimizerConfig`).
OPTIMIZERS = ("sgd", "momentum", "adam")
#: What training does on a NaN/Inf: raise an error, stop keeping the last finite parameters, or ignore it.
NONFINITE = ("raise", "stop", "ignore")
#: Learning-rate schedules and the settings each reads (`Schedule`).
SCHEDULES: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("min_lr", "period"),
}
#: γ when none is given: PyTorch's StepLR default for `step`; a gentle decay for `exponential`.
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}
#: What early stopping and keep-best measure on the held-out set.
MONITORS = ("cost", "accuracy")
#: The settings a resumed run may change from its checkpoint's when asked (`override=`, `--override`).
OVERRIDABLE = ("lr", "schedule")
#: `threads="auto"` (the default): this many BLAS threads, measured by benchmarks/threads.py.
AUTO_THREADS = 1
#: What `threads` takes besides a whole number ≥ 1: the measured default, or the BLAS library's own.
THREAD_CHOICES = ("auto", "default")
