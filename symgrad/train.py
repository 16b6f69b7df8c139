"""Moved to `symgrad.numeric.train`; this alias stays for one release."""

from .numeric.train import History, Trainer, TrainingError, train

__all__ = ["History", "Trainer", "TrainingError", "train"]
