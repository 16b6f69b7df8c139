"""Printing to a terminal or file whose encoding cannot hold the book's symbols (cp1252, ASCII).

`PYTHONIOENCODING=cp1252 symgrad derive` would die in a `UnicodeEncodeError` at the first σ.
`ascii_fallback` makes stdout and stderr spell what their encoding cannot hold in ASCII
instead: σ → `sigma`, δ → `delta`, ⊙ → `(.)`, ∂ → `d`, ᵀ → `^T`, … (`SPELLINGS`);
a character without a spelling becomes its decomposition's ASCII letters (é → e) or `?`. What
the encoding can hold is printed as it is, so a UTF-8 terminal sees no change.
"""

from __future__ import annotations

import codecs
import sys
import unicodedata
from typing import Any

__all__ = ["ERRORS", "SPELLINGS", "ascii_fallback", "spell"]

#: The ASCII spelling of each symbol symgrad prints.
SPELLINGS = {
    "σ": "sigma", "δ": "delta", "Δ": "Delta", "⊙": "(.)", "∂": "d", "∇": "grad", "ᵀ": "^T", "′": "'", "″": "''",
    "η": "eta", "λ": "lambda", "μ": "mu", "ε": "eps", "θ": "theta", "α": "alpha", "β": "beta", "γ": "gamma",
    "Σ": "sum", "∑": "sum", "∏": "prod", "·": "*", "×": "x", "−": "-", "–": "-", "—": "--", "…": "...",
    "→": "->", "←": "<-", "⇒": "=>", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~=", "∈": " in ", "√": "sqrt",
    "‖": "||", "∞": "inf", "✓": "ok", "✗": "x", "²": "^2", "³": "^3", "¹": "^1", "⁰": "^0", "⁻": "^-",
    "₀": "_0", "₁": "_1", "₂": "_2", "₃": "_3", "ˡ": "^l", "ⁱ": "^i", "ʲ": "^j", "ᵏ": "^k", "₍": "(", "₎": ")",
}
#: The name of the codec error handler `ascii_fallback` installs.
ERRORS = "symgrad-ascii"


def spell(ch: str) -> str:
    """The ASCII spelling of one character (`SPELLINGS`, else its decomposition's ASCII letters, else `?`)."""
    if ch in SPELLINGS:
        return SPELLINGS[ch]
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    return plain or "?"


def _handler(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(spell(c) for c in error.object[error.start : error.end]), error.end


codecs.register_error(ERRORS, _handler)


def _needs_fallback(stream: Any) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return False
    try:
        "σδ⊙∂ᵀ≥→".encode(encoding)
    except UnicodeEncodeError:
        return True
    except LookupError:
        return False
    return False


def ascii_fallback() -> None:
    """Make `sys.stdout` and `sys.stderr` spell in ASCII what their encoding cannot hold (no-op for UTF-8)."""
    for stream in (sys.stdout, sys.stderr):
        if _needs_fallback(stream) and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors=ERRORS)
            except (ValueError, OSError):  # a stream that cannot be reconfigured: leave it
                pass
