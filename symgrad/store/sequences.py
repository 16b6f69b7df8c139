r"""A small built-in sequence-classification task, generated deterministically (no download, no file).

**Majority token.** Each example is a sequence of T tokens from a vocabulary {0, …, V − 1}; tokens
0 … K − 1 are the classes, the others filler. The label is the class token that occurs most often
(every sequence is drawn again until that is unique). A token is its one-hot column, so an example
is a V × T matrix: one column per token, as a layer graph takes a sequence
(`symgrad.layers.attention`).
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError

__all__ = ["majority_tokens"]


def majority_tokens(n: int, *, tokens: int = 6, vocabulary: int = 4, classes: int = 3,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(X, labels)`: X (n, V, T) one-hot sequences, labels (n,) the most frequent class token of each.

    The same `seed` gives the same examples on every machine (NumPy's seeded PCG64).
    """
    for name, v, low in (("n", n, 1), ("tokens", tokens, 1), ("vocabulary", vocabulary, 2), ("classes", classes, 2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise UsageError(f"{name} must be a whole number ≥ {low}, got {v!r}", arg=name)
    if classes > vocabulary:
        raise UsageError(f"classes ({classes}) cannot exceed the vocabulary ({vocabulary})", arg="classes")
    rng = np.random.default_rng(seed)
    seqs = np.empty((n, tokens), dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    i = 0
    while i < n:
        s = rng.integers(0, vocabulary, tokens)
        counts = np.bincount(s, minlength=vocabulary)[:classes]
        top = counts.max()
        if top == 0 or np.count_nonzero(counts == top) > 1:
            continue
        seqs[i], labels[i] = s, int(np.argmax(counts))
        i += 1
    X = np.zeros((n, vocabulary, tokens))
    X[np.arange(n)[:, None], seqs, np.arange(tokens)[None, :]] = 1.0
    return X, labels
