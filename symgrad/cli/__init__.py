"""The ``symgrad`` command line (the console script is ``symgrad.cli:main``)."""

from .main import main

__all__ = ["main"]
