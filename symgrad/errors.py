"""The errors symgrad raises, all in one place; `require` for the optional extras, and
`lazy_exports` for the packages that import their modules when first used.

Every user mistake is a `UsageError` (a `ValueError`) or a subclass; the command
line prints its message as one line and exits with status 2. `RuleError` is the
exception: a missing differentiation rule is a gap in symgrad, not a user's mistake.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any


class UsageError(ValueError):
    """A user error (bad argument value, missing or malformed file, unknown name).

    Messages name the culprit: the argument, file, node or shape at fault, arguments by their
    Python names. `arg`, when given, names the argument at fault; a message that starts with
    it (`lr must be a positive number`) has it spelled as the flag on the command line
    (`--lr must be …`), and so has another argument a message names in backquotes
    (``try a smaller `lr```).
    """

    def __init__(self, message: str = "", *, arg: str | None = None) -> None:
        super().__init__(message)
        self.arg = arg


class DataError(UsageError):
    """A data file or array is malformed (the message names the file)."""


class GraphError(UsageError):
    """A graph was built or used wrongly; the message names the node at fault."""


class ExplicitError(UsageError):
    """A node cannot be written entry by entry (symbolic shape, unknown head)."""


class CompileError(UsageError):
    """The graph cannot be compiled (the message names the node at fault)."""


class TrainingError(UsageError):
    """Training diverged (NaN/Inf); the message names the epoch, step and parameter."""


class ParseError(UsageError):
    """Text that is not a well-typed expression (`symgrad.core.parse.parse`); the message names the
    line and column and what was expected there, or the names and shapes that do not fit."""


class RuleError(NotImplementedError):
    """No rule is known for a head that needs differentiating."""


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """Import the optional package `module`, or raise a one-line `UsageError` naming the
    extra that installs it: `drawing needs matplotlib: install symgrad[plot] (…)`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{what} needs {module}: install symgrad[{extra}] (pip install 'symgrad[{extra}]')"
        ) from None


class LazyPackage(ModuleType):
    """A package whose public names are imported from its modules when first used (PEP 562).

    `symgrad --help` must not wait for SymPy: importing a package (to reach one small module of
    it) imports none of its modules; `package.name` imports the module that defines `name`
    then, once. A name that is also a module's (`symgrad.core.backprop`, the function and the
    module) stays the package's name when the import system binds the loaded module to the package.
    """

    def __getattr__(self, name: str) -> Any:
        where = self.__dict__.get("_EXPORTS", {})
        if name not in where:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module, _, attr = where[name].partition(":")
        value = getattr(importlib.import_module(module, self.__name__), attr or name)
        ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, ModuleType) and name in self.__dict__.get("_EXPORTS", {})
                and value.__name__ == f"{self.__name__}.{name}"):
            return  # the import system binding the submodule `name`: the package's `name` is the exported one
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_EXPORTS", {})})


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Make `package` (a package's `__name__`) a `LazyPackage` exporting `exports`.

    `exports` maps each public name to the module that defines it, relative to the package
    (`".backprop"`), or `".module:attr"` for a name bound to another one of that module.
    """
    module = sys.modules[package]
    module._EXPORTS = dict(exports)  # type: ignore[attr-defined]
    module.__class__ = LazyPackage
