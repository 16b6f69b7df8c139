"""Moved to `symgrad.derivation.explicit`; this alias stays for one release."""

from .derivation.explicit import ExplicitError, ExplicitView, componentwise, explicit

__all__ = ["ExplicitError", "ExplicitView", "componentwise", "explicit"]
