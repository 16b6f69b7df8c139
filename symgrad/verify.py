"""Moved to `symgrad.derivation.verify`; this alias stays for one release."""

from .derivation.verify import Check, NodeProgram, central_difference, decide_zero, verify_bp, verify_network

__all__ = ["Check", "NodeProgram", "central_difference", "decide_zero", "verify_bp", "verify_network"]
