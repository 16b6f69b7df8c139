"""The printing layer's choices, SymPy-free (the command line's parser reads them)."""

__all__ = ["FORMS"]

#: How a derivative prints: factored in δ, expanded to the leaves, or node by node in its neighbours' symbols.
FORMS = ("factored", "expanded", "node")
