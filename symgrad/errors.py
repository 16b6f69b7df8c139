"""The errors symgrad raises for users' mistakes."""

from __future__ import annotations


class UsageError(ValueError):
    """A user error (bad flag value, missing or malformed file, unknown name).

    The command line prints its message as one line and exits with status 2.
    Messages name the culprit: the flag, file, node or shape at fault.
    """


class DataError(UsageError):
    """A data file or array is malformed (the message names the file)."""
