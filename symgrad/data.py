"""Moved to `symgrad.store.data`; this alias stays for one release."""

from .store.data import (
    DATASETS,
    IDX_IMAGES,
    IDX_LABELS,
    MNIST_FILES,
    as_arrays,
    check_finite,
    dataset,
    load_idx,
    load_mnist,
    one_hot,
    read_idx,
    split,
    to_columns,
)

__all__ = [
    "DATASETS",
    "IDX_IMAGES",
    "IDX_LABELS",
    "MNIST_FILES",
    "as_arrays",
    "check_finite",
    "dataset",
    "load_idx",
    "load_mnist",
    "one_hot",
    "read_idx",
    "split",
    "to_columns",
]
