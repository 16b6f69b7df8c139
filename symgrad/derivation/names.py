"""The derivation layer's choices, SymPy-free (the command line's parser reads them)."""

__all__ = ["DERIVE_FORMATS", "VERIFY_FORMATS"]

#: What `symgrad derive --format` writes (`symgrad.derivation.derive.FORMATS`).
DERIVE_FORMATS = ("text", "latex", "markdown")
#: What `symgrad verify --format` writes (`symgrad.derivation.verify.FORMATS`).
VERIFY_FORMATS = ("text", "markdown", "latex")
