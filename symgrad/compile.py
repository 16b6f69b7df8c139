"""Moved to :mod:`symgrad.numeric.compile`; this alias stays for one release."""

from .numeric.compile import HELPERS, CompiledModel, CompileError, compile

__all__ = ["CompiledModel", "CompileError", "compile", "HELPERS"]
