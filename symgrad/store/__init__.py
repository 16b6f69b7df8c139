"""The store: files written atomically, data sets (IDX/MNIST, built-in), and model files.

`files` is the leaf; `data` reads and generates training data (and holds the real MNIST
test set shipped in `datasets/mnist/`); `fetch` downloads the full MNIST set, verified;
`tabular` reads examples from CSV and NumPy files; `model_file` saves and loads a network's
specification and parameters (and training checkpoints) without pickle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import lazy_exports

if TYPE_CHECKING:  # what the names are, for readers and type checkers; imported when first used
    from .data import (
        as_arrays,
        dataset,
        find_mnist,
        fingerprint,
        load_idx,
        load_idx_images,
        load_mnist,
        one_hot,
        packaged_mnist,
        read_idx,
        split,
        to_columns,
    )
    from .fetch import default_data_dir, fetch_mnist
    from .files import atomic_open, atomic_write, atomic_write_bytes, atomic_write_text
    from .model_file import load_checkpoint, load_model, save_model
    from .tabular import check_labels, load_csv, load_npy

__all__ = [
    "as_arrays",
    "atomic_open",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_labels",
    "dataset",
    "default_data_dir",
    "fetch_mnist",
    "find_mnist",
    "fingerprint",
    "load_checkpoint",
    "load_csv",
    "load_idx",
    "load_idx_images",
    "load_mnist",
    "load_model",
    "load_npy",
    "one_hot",
    "packaged_mnist",
    "read_idx",
    "save_model",
    "split",
    "to_columns",
]

lazy_exports(__name__, {
    "as_arrays": ".data",
    "dataset": ".data",
    "find_mnist": ".data",
    "fingerprint": ".data",
    "load_idx": ".data",
    "load_idx_images": ".data",
    "load_mnist": ".data",
    "one_hot": ".data",
    "packaged_mnist": ".data",
    "read_idx": ".data",
    "split": ".data",
    "to_columns": ".data",
    "default_data_dir": ".fetch",
    "fetch_mnist": ".fetch",
    "atomic_open": ".files",
    "atomic_write": ".files",
    "atomic_write_bytes": ".files",
    "atomic_write_text": ".files",
    "load_checkpoint": ".model_file",
    "load_model": ".model_file",
    "save_model": ".model_file",
    "check_labels": ".tabular",
    "load_csv": ".tabular",
    "load_npy": ".tabular",
})
