r"""Data for training: IDX files (MNIST), arrays passed directly, generated demo sets.

Conventions
-----------
Every loader returns `(X, labels)` with **examples as rows**: `X` is an
`(n, d)` float array (float64 unless asked otherwise) and `labels` an
`(n,)` int64 array. The network sees a mini-batch of m examples as
**columns** — the input a^1 = x is `(d, m)` and the target y is `(k, m)`
(Nielsen's layout, see `symgrad.networks`) — so a trainer takes
`to_columns(X[batch])` and `one_hot(labels[batch], k)`. Arrays a user
passes directly follow the same `(n, d)` convention; `as_arrays`
checks and converts them.

IDX (the MNIST format): a big-endian header — two zero bytes, a type code
(0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions D — then D big-endian uint32 sizes, then the data,
row-major. MNIST images have magic 2051 (uint8, 3-D: count × rows × cols) and
labels 2049 (uint8, 1-D). Files may be gzip-compressed (detected by the
gzip magic bytes, not the name).

Nothing here unpickles, and nothing needs files outside the package: the demo
sets are generated from a seed, and the real MNIST test set (10,000 digits) ships
inside it (`symgrad/store/datasets/mnist/`, checked against its pinned sha256
whenever it is loaded). The full training set is fetched by
`symgrad.store.fetch.fetch_mnist` (`symgrad data fetch mnist`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, UsageError
from .names import (
    DATASETS,
    EVALUATIONS,
    HOLDOUT,
    MNIST_FILES,
    MNIST_GZ,
    NIELSEN_VALIDATION,
    PACKAGED_MNIST,
)

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "DATASETS",
    "EVALUATIONS",
    "HOLDOUT",
    "IDX_IMAGES",
    "IDX_LABELS",
    "MNIST_FILES",
    "MNIST_GZ",
    "NIELSEN_VALIDATION",
    "PACKAGED_MNIST",
    "as_arrays",
    "check_finite",
    "dataset",
    "find_mnist",
    "load_idx",
    "load_mnist",
    "one_hot",
    "packaged_mnist",
    "read_idx",
    "split",
    "to_columns",
]

#: IDX type code → big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_IMAGES = 2051  # 0x00000803: uint8, 3-D
IDX_LABELS = 2049  # 0x00000801: uint8, 1-D
_GZIP_MAGIC = b"\x1f\x8b"



# --------------------------------------------------------------------------- IDX


def _describe_magic(magic: int) -> str:
    code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    kind = IDX_TYPES[code].name if code in IDX_TYPES else f"unknown type 0x{code:02X}"
    return f"{magic} (0x{magic:08X}: {kind}, {ndim}-D)"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if they start with the gzip magic."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an IDX file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    return _gunzip(path, raw)


def _gunzip(path: Path | Traversable, raw: bytes) -> bytes:
    """`raw` gunzipped if it starts with the gzip magic, else as it is."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path}: truncated gzip data (the compressed stream ends early)") from None
    except (OSError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (plain or gzip) into an array of its native shape and type.

    Checks the magic number (two zero bytes, a known type code, D ≥ 1), that the
    header is complete, and that the data are exactly ∏ sizes × item size bytes —
    neither truncated nor followed by trailing bytes. Errors are
    `DataError` naming the file and what is wrong.
    The result is a writable array in native byte order (uint8 for MNIST).
    """
    path = Path(os.fspath(path))
    return _parse_idx(path, _read_bytes(path))


def _parse_idx(path: Path | Traversable, data: bytes) -> np.ndarray:
    """The IDX array held by `data` (the bytes of `path`, gunzipped), checked as `read_idx` says."""
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file: {len(data)} bytes, too short for the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, found {data[:4]!r}"
        )
    magic = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {t.name}" for c, t in IDX_TYPES.items())
        raise DataError(
            f"{path}: bad magic number {magic} (0x{magic:08X}): unknown type code 0x{code:02X} ({known})"
        )
    if ndim == 0:
        raise DataError(f"{path}: bad magic number {magic} (0x{magic:08X}): zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: truncated header: magic {_describe_magic(magic)} needs {header} header bytes, found {len(data)}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[code]
    count = 1
    for s in dims:
        count *= s
    expected = count * dtype.itemsize
    found = len(data) - header
    shape_txt = "×".join(map(str, dims))
    what = (
        f"{shape_txt} = {expected} bytes"
        if dtype.itemsize == 1
        else f"{shape_txt} {dtype.name} = {expected} bytes"
    )
    if found < expected:
        raise DataError(f"{path}: truncated: header says {what}, found {found}")
    if found > expected:
        raise DataError(f"{path}: {found - expected} trailing bytes: header says {what}, found {found}")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _expect_magic(path: Path | Traversable, arr: np.ndarray, magic: int, what: str) -> None:
    code = {t.newbyteorder("="): c for c, t in IDX_TYPES.items()}[arr.dtype]
    found = (code << 8) | arr.ndim
    if found != magic:
        raise DataError(
            f"{path}: magic number {_describe_magic(found)}, expected {_describe_magic(magic)} for {what}"
        )


def load_idx(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    *,
    max_label: int = 9,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Load an IDX images file and its labels file.

    Returns `X` of shape `(n, rows·cols)` with the pixels scaled to [0, 1]
    (x = p / 255, float64 by default) and `labels` of shape `(n,)` (int64).
    Checks that the images have magic 2051 (uint8, 3-D), the labels 2049
    (uint8, 1-D), that both files hold the same number n ≥ 1 of examples, and
    that every label lies in `0..max_label`.
    """
    ipath, lpath = Path(os.fspath(images_path)), Path(os.fspath(labels_path))
    return _examples(ipath, read_idx(ipath), lpath, read_idx(lpath), max_label, dtype)


def _examples(
    ipath: Path | Traversable, images: np.ndarray, lpath: Path | Traversable, labels: np.ndarray,
    max_label: int, dtype: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """`(X, labels)` from the arrays of an images and a labels file, checked as `load_idx` says."""
    _expect_magic(ipath, images, IDX_IMAGES, "an images file")
    _expect_magic(lpath, labels, IDX_LABELS, "a labels file")
    n, m = images.shape[0], labels.shape[0]
    if n != m:
        raise DataError(f"count mismatch: {ipath} holds {n} images but {lpath} holds {m} labels")
    if n == 0:
        raise DataError(f"{ipath}: holds no examples")
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise DataError(f"{ipath}: images of size {images.shape[1]}×{images.shape[2]}")
    bad = np.flatnonzero(labels > max_label)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{lpath}: label {int(labels[i])} at index {i} is out of range 0..{max_label}"
            + (f" ({bad.size} labels out of range)" if bad.size > 1 else "")
        )
    X = images.reshape(n, -1).astype(dtype)
    X /= 255.0
    return X, labels.astype(np.int64)


def _variants(name: str) -> list[str]:
    """The names a distribution may give one MNIST file: `train-images-idx3-ubyte`, the
    `train-images.idx3-ubyte` of some archives, each plain or gzip (`.gz`)."""
    names = [name, name.replace("-idx", ".idx")]
    return [n + ext for n in names for ext in ("", ".gz")]


def find_mnist(folder: str | os.PathLike[str]) -> dict[str, Path | None]:
    """Where each of the four MNIST files is in `folder` (`None` when absent), by its standard name.

    Tried for each: the name as it is, with `.gz`, and with a dot before `idx`, plain or
    `.gz` (`train-images-idx3-ubyte`, `train-images.idx3-ubyte.gz`, …); the first found wins.
    """
    root = Path(os.fspath(folder))
    found: dict[str, Path | None] = {}
    for pair in MNIST_FILES.values():
        for name in pair:
            found[name] = next((root / c for c in _variants(name) if (root / c).is_file()), None)
    return found


def load_mnist(
    folder: str | os.PathLike[str], *, dtype: Any = np.float64
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load the four standard MNIST files from `folder`.

    Looks for `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` — each also spelled
    with a dot before `idx` (`train-images.idx3-ubyte`), plain or with `.gz`.
    Returns `{"train": (X, labels), "test": (X, labels)}` as `load_idx`
    does: 60,000 and 10,000 examples for the real set (Nielsen trains on the first
    50,000 and validates on the last `NIELSEN_VALIDATION`). A missing file is
    an error listing what was looked for and how to get it (`symgrad data fetch mnist`).
    """
    root = Path(os.fspath(folder))
    get = f"download the four files with: symgrad data fetch mnist --dir {root}"
    if not root.is_dir():
        raise DataError(f"{root}: no such directory (expected a folder with the four MNIST files; {get})")
    found = find_mnist(root)
    missing = [f"{name}[.gz]" for name, p in found.items() if p is None]
    if missing:
        wanted = ", ".join(f"{n}[.gz]" for pair in MNIST_FILES.values() for n in pair)
        raise DataError(
            f"{root}: missing MNIST file(s) {', '.join(missing)} (looked for {wanted}, also spelled like "
            f"{_variants(MNIST_FILES['train'][0])[2]}); {get}"
        )
    return {split_: load_idx(found[i], found[lab], dtype=dtype)  # type: ignore[arg-type]
            for split_, (i, lab) in MNIST_FILES.items()}


def _packaged(name: str) -> Traversable:
    return resources.files(__package__).joinpath("datasets", "mnist", name)


def packaged_mnist(
    *, dtype: Any = np.float64, folder: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The real MNIST test set shipped inside the package: `X` (10000, 784) in [0, 1], `labels` (10000,).

    The two files (`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`,
    CC BY-SA 3.0, Y. LeCun, C. Cortes, C. J. C. Burges; see the `README.md` beside
    them) are checked against their pinned size and sha256 (`MNIST_GZ`) each
    time they are read, before they are parsed: a truncated or altered copy is a
    `DataError` naming the file and both hashes. `folder` reads the two
    files from another folder instead, under the same check.
    """
    root = None if folder is None else Path(os.fspath(folder))
    arrays = []
    for name in PACKAGED_MNIST:
        path: Path | Traversable = _packaged(name) if root is None else root / name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            where = "the installed package lacks it; reinstall symgrad" if root is None else "no such file"
            raise DataError(f"{path}: {where}") from None
        except OSError as e:
            raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
        size, want = MNIST_GZ[name]
        got = hashlib.sha256(raw).hexdigest()
        if got != want:
            raise DataError(
                f"{path}: sha256 {got} does not match the published {want} ({len(raw)} bytes, expected {size}): "
                f"the file is damaged or altered{'; reinstall symgrad' if root is None else ''}"
            )
        arrays.append((path, _parse_idx(path, _gunzip(path, raw))))
    (ipath, images), (lpath, labels) = arrays
    return _examples(ipath, images, lpath, labels, 9, dtype)


# ----------------------------------------------------------------- arrays & checks


def check_finite(name: str, array: Any) -> np.ndarray:
    """Raise `DataError` if `array` holds NaN or ±Inf, naming it and the first bad index.

    Returns the array (as a NumPy array) so the call can be chained.
    """
    a = np.asarray(array)
    if a.dtype.kind in "biu":
        return a
    if a.dtype.kind not in "fc":
        raise DataError(f"{name}: expected numbers, got an array of dtype {a.dtype}")
    ok = np.isfinite(a)
    if ok.all():
        return a
    bad = np.argwhere(~ok)
    idx = tuple(int(i) for i in bad[0])
    where: Any = idx[0] if len(idx) == 1 else idx
    value = a[idx]
    if np.iscomplexobj(a):
        kind = f"non-finite value {value}"
    else:
        kind = "NaN" if np.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    more = f" ({len(bad)} non-finite values in all)" if len(bad) > 1 else ""
    raise DataError(f"{name}: {kind} at index {where}{more}")


def _labels_array(labels: Any, name: str = "labels") -> np.ndarray:
    try:
        y = np.asarray(labels)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name}: not an array of whole numbers ({e})") from None
    if y.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array of class indices, got shape {y.shape}")
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise DataError(f"{name}: expected whole numbers, got an array of dtype {y.dtype}")
    check_finite(name, y)
    frac = np.flatnonzero(y != np.round(y))
    if frac.size:
        i = int(frac[0])
        raise DataError(f"{name}: label {float(y[i])} at index {i} is not a whole number")
    return y.astype(np.int64)


def _check_range(y: np.ndarray, k: int, name: str) -> None:
    bad = np.flatnonzero((y < 0) | (y >= k))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{name}: label {int(y[i])} at index {i} is out of range 0..{k - 1}")


def one_hot(labels: Any, k: int, dtype: Any = np.float64) -> np.ndarray:
    """The `(k, n)` target matrix y with y[labels[i], i] = 1 (examples as columns).

    Labels outside `0..k−1` (or not whole numbers) raise `DataError`
    naming the first offending index and value.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UsageError(f"one_hot: the number of classes k must be a whole number ≥ 1, got {k!r}")
    y = _labels_array(labels)
    _check_range(y, int(k), "labels")
    out = np.zeros((int(k), y.shape[0]), dtype=dtype)
    out[y, np.arange(y.shape[0])] = 1
    return out


def to_columns(X: Any, dtype: Any = None) -> np.ndarray:
    """`X` (n, d), examples as rows → the network's `(d, n)` layout, C-contiguous."""
    a = np.asarray(X, dtype=dtype)
    if a.ndim != 2:
        raise DataError(f"X: expected an (n, d) array, got shape {a.shape}")
    return np.ascontiguousarray(a.T)


def as_arrays(
    X: Any,
    labels: Any,
    *,
    n_inputs: int | None = None,
    n_classes: int | None = None,
    dtype: Any = np.float64,
    name: str = "X",
) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert arrays passed directly: `X` (n, d), `labels` (n,) → float, int64.

    `X` may be a list or array with one example per row; `(n, rows, cols)`
    images are flattened to `(n, rows·cols)`. Labels must be whole numbers (in
    `0..n_classes−1` when `n_classes` is given); `d` must equal `n_inputs`
    when given (the network's n_1). NaN/Inf are rejected. Remember the network
    sees examples as columns: use `to_columns` and `one_hot`.
    """
    try:
        a = np.asarray(X)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name}: not a numeric array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected numbers, got an array of dtype {a.dtype}")
    if a.ndim == 1:
        raise DataError(
            f"{name}: expected one example per row, shape (n, d); got shape {a.shape} (use X.reshape(-1, 1) for one feature)"
        )
    if a.ndim == 0:
        raise DataError(f"{name}: expected an (n, d) array, got a scalar")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise DataError(f"{name}: empty array of shape {a.shape}")
    a = np.asarray(a, dtype=dtype)
    check_finite(name, a)
    y = _labels_array(labels)
    if y.shape[0] != a.shape[0]:
        raise DataError(f"{name} has {a.shape[0]} examples (rows) but labels has {y.shape[0]}")
    if n_inputs is not None and a.shape[1] != n_inputs:
        raise DataError(
            f"{name}: examples have {a.shape[1]} features (shape {a.shape}), the network's input layer has {n_inputs}"
        )
    if n_classes is not None:
        _check_range(y, int(n_classes), "labels")
    return a, y


def split(
    X: Any, labels: Any, holdout: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out the **last** `holdout` examples: `((X_train, labels_train), (X_hold, labels_hold))`.

    `0 ≤ holdout < n` (at least one example must be left to train on). The
    parts are views of the inputs, not copies.
    """
    if isinstance(holdout, bool) or not isinstance(holdout, (int, np.integer)):
        raise UsageError(f"holdout must be a whole number of examples, got {holdout!r}")
    X = np.asarray(X)
    y = np.asarray(labels)
    if X.ndim == 0 or y.ndim == 0:
        raise DataError("split: X and labels must be arrays with one example per row")
    n = X.shape[0]
    if y.shape[0] != n:
        raise DataError(f"split: X has {n} examples (rows) but labels has {y.shape[0]}")
    if holdout < 0 or holdout >= n:
        raise UsageError(f"holdout {holdout} must be between 0 and {n - 1} (there are {n} examples)")
    cut = n - int(holdout)
    return (X[:cut], y[:cut]), (X[cut:], y[cut:])


# ------------------------------------------------------------- generated datasets


def _check_n(n: Any, name: str) -> int:
    if n is None:
        return DATASETS[name][0]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"dataset {name!r}: n must be a whole number ≥ 1, got {n!r}")
    return int(n)


def _xor(n: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    if n is None:
        return corners, labels
    which = rng.permutation(np.arange(n) % 4)
    X = corners[which] + rng.normal(0.0, 0.1, size=(n, 2))
    return X, labels[which]


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Two arms of 1.5 turns, the second the first turned by π; radius grows from 0 to 1.
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3 * np.pi
    r = t / (3 * np.pi)
    angle = t + np.pi * y
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + rng.normal(0.0, 0.02, size=(n, 2))
    return X, y


def _blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = rng.permutation(np.arange(n) % 3).astype(np.int64)
    X = centres[y] + rng.normal(0.0, 0.3, size=(n, 2))
    return X, y


def dataset(name: str, n: int | None = None, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A built-in dataset `(X (n, d) float64, labels (n,) int64)`.

    * `xor`: the four points of {0,1}² with label x₁ XOR x₂; with `n`, n noisy
      copies (Gaussian noise σ = 0.1) of the corners in a seeded order.
    * `spirals`: two interleaved spirals in the plane (1.5 turns each, radius ≤ 1,
      noise σ = 0.02), labels 0 and 1; default n = 200.
    * `blobs`: three Gaussian blobs (σ = 0.3) around the unit circle, labels 0..2;
      default n = 300.
    * `mnist`: the real MNIST test set shipped with the package
      (`packaged_mnist`): 28×28 digits as 784 pixels x = p / 255 in [0, 1],
      labels 0..9; default (and at most) n = 10,000, the first n in the file's
      order. `seed` is ignored: the data are the file's.

    For the generated sets the same `seed` gives the same data, and examples come
    in a shuffled order, so `split` holds out a mix of classes (the MNIST
    test set is mixed already; `HOLDOUT` gives its default split, 8,000 + 2,000).
    """
    if name not in DATASETS:
        raise UsageError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "mnist":
        count = _check_n(n, name)
        if count > DATASETS[name][0]:
            raise UsageError(f"dataset 'mnist': n must be at most {DATASETS[name][0]} (the packaged test set), "
                             f"got {count}; the full set: symgrad data fetch mnist, then load_mnist(folder)")
        X, labels = packaged_mnist()
        return (X, labels) if count == X.shape[0] else (X[:count].copy(), labels[:count].copy())
    rng = np.random.default_rng(seed)
    if name == "xor":
        return _xor(None if n is None else _check_n(n, name), rng)
    count = _check_n(n, name)
    return _spirals(count, rng) if name == "spirals" else _blobs(count, rng)
