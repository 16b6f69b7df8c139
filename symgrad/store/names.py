"""The store's tables: the MNIST files and their checksums, the built-in datasets, the mirrors.

Plain data, no NumPy: the command line's parser reads them (`--dataset`'s help, `data
fetch`'s choices) and `symgrad --help` answers without importing the numeric libraries.
`symgrad.store.data` and `symgrad.store.fetch` export them too.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DATASETS", "EVALUATIONS", "FETCHABLE", "HOLDOUT", "MIRRORS", "MNIST_FILES", "MNIST_GZ",
           "NIELSEN_VALIDATION", "PACKAGED_MNIST"]

#: The four standard MNIST files, by split: (images, labels). Each may also end in `.gz`.
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: The official gzip files of MNIST: name → (size in bytes, sha256), as published by
#: Y. LeCun, C. Cortes and C. J. C. Burges (the mirrors serve these same bytes).
MNIST_GZ: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

#: The MNIST test set shipped inside the package (images, labels), in `datasets/mnist/`.
PACKAGED_MNIST: tuple[str, str] = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

#: What `symgrad train --eval` evaluates after each epoch: the held-out examples, or the MNIST test set.
EVALUATIONS = ("validation", "test")
#: Nielsen's split of the 60,000 training images: the last 10,000 are the validation set.
NIELSEN_VALIDATION = 10000

#: Built-in datasets: name → (default n, number of classes). `mnist` is the packaged
#: test set (real digits); the others are generated from a seed.
DATASETS: dict[str, tuple[int, int]] = {
    "xor": (4, 2),
    "spirals": (200, 2),
    "blobs": (300, 3),
    "mnist": (10000, 10),
}

#: The examples a built-in dataset holds out by default (`symgrad train --dataset NAME`):
#: the packaged MNIST trains on examples 0..7,999 and evaluates on 8,000..9,999.
HOLDOUT: dict[str, int] = {"mnist": 2000}

#: The public mirrors of the MNIST files, tried in this order (each URL + file name).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: What `symgrad data fetch NAME` can download: name → its files (name → size in bytes, sha256).
FETCHABLE: dict[str, Mapping[str, tuple[int, str]]] = {"mnist": MNIST_GZ}
