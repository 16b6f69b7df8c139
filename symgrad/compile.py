"""Moved to `symgrad.numeric.compile`; this alias stays for one release."""

from .errors import CompileError
from .numeric import compile
from .numeric.compile import HELPERS, CompiledModel

__all__ = ["CompiledModel", "CompileError", "compile", "HELPERS"]
