"""The errors symgrad raises, all in one place, and :func:`require` for the optional extras.

Every user mistake is a :class:`UsageError` (a ``ValueError``) or a subclass; the command
line prints its message as one line and exits with status 2. :class:`RuleError` is the
exception: a missing differentiation rule is a gap in symgrad, not a user's mistake.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class UsageError(ValueError):
    """A user error (bad argument value, missing or malformed file, unknown name).

    Messages name the culprit: the argument, file, node or shape at fault, arguments by their
    Python names. ``arg``, when given, names the argument at fault; a message that starts with
    it (``lr must be a positive number``) has it spelled as the flag on the command line
    (``--lr must be …``), and so has another argument a message names in backquotes
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
    """Text that is not a well-typed expression (:func:`symgrad.core.parse.parse`); the message names the
    line and column and what was expected there, or the names and shapes that do not fit."""


class RuleError(NotImplementedError):
    """No rule is known for a head that needs differentiating."""


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """Import the optional package ``module``, or raise a one-line :class:`UsageError` naming the
    extra that installs it: ``drawing needs matplotlib: install symgrad[plot] (…)``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{what} needs {module}: install symgrad[{extra}] (pip install 'symgrad[{extra}]')"
        ) from None
