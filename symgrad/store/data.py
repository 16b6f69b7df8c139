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
import io
import math
import os
import stat
import zlib
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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
    "check_regular",
    "dataset",
    "find_mnist",
    "fingerprint",
    "load_idx",
    "load_idx_images",
    "load_mnist",
    "memory_limit",
    "one_hot",
    "packaged_mnist",
    "read_idx",
    "size_text",
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


#: Chunk size of the streaming reader: memory grows with the data actually there, never with a promise.
_CHUNK = 1 << 22


def memory_limit() -> int:
    """The bytes a single input may unpack to: this machine's physical memory (a bound, not a guess of what is free).

    Used to refuse an IDX header or a model file that promises more than could ever be held.
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): a generous fixed bound
        return 64 << 30


def size_text(n: int) -> str:
    """A byte count for a message, short whatever its size: `1,234 bytes (1.2 KiB)`, `a 600-digit number`."""
    if n >= 10**21:
        return f"about 10^{len(str(n)) - 1} bytes"
    if n < 1024:
        return f"{n:,} bytes"
    value, i = n / 1024, 0
    while value >= 1024 and i < 5:
        value, i = value / 1024, i + 1
    return f"{n:,} bytes ({value:.1f} {('KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')[i]})"


def _shape_text(dims: tuple[int, ...]) -> str:
    """`10×28×28`; a long shape (a hostile header may give 255 sizes) shortened so an error stays one short line."""
    if len(dims) <= 6:
        return "×".join(map(str, dims))
    return "×".join(map(str, dims[:3])) + "×…×" + "×".join(map(str, dims[-2:])) + f" ({len(dims)} dimensions)"


def check_regular(path: Path, what: str = "an IDX file", *, pipes: bool = True) -> None:
    """`path` exists and is a regular file, or a pipe (read as a bounded stream) when `pipes`; a device such as
    `/dev/zero`, a directory or a socket is refused (`DataError` naming the file)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a directory, not {what}")
    if not (stat.S_ISREG(st.st_mode) or (pipes and stat.S_ISFIFO(st.st_mode))):
        kind = ("a character device" if stat.S_ISCHR(st.st_mode) else "a block device" if stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "not a regular file")
        raise DataError(f"{path}: is {kind}, not {what}; refusing to read it")


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    """`n` bytes, or fewer only where the stream ends; read in chunks, so memory follows the data actually there
    (a pipe or a gzip stream may return less than asked before its end)."""
    parts, got = [], 0
    while got < n:
        chunk = stream.read(min(_CHUNK, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (plain or gzip) into an array of its native shape and type.

    Checks the magic number (two zero bytes, a known type code, D ≥ 1), that the
    header is complete, and that the data are exactly ∏ sizes × item size bytes —
    neither truncated nor followed by trailing bytes. Errors are
    `DataError` naming the file and what is wrong.
    The result is a writable array in native byte order (uint8 for MNIST).

    Hostile files stay cheap: the file is read as a stream (gzip decompressed as it
    goes), the header first; no more than the ∏ sizes × item size bytes it promises
    are read, plus one to detect trailing data, so a gzip bomb stops after its header's
    worth. A header promising more than this machine's memory (`memory_limit`),
    or a plain file whose size disagrees with its header, is refused before any data
    are read. A device (`/dev/zero`), a directory or a socket is refused; a pipe
    is read as a bounded stream.
    """
    path = Path(os.fspath(path))
    check_regular(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            regular = stat.S_ISREG(st.st_mode)
            start = f.read(2)
            raw: IO[bytes] = f
            if regular:
                f.seek(0)
            else:  # a pipe cannot seek: put the two bytes back in front
                raw = io.BufferedReader(_Prefixed(start, f))
            if start == _GZIP_MAGIC:
                return _idx_stream(path, gzip.GzipFile(fileobj=raw, mode="rb"), None)
            return _idx_stream(path, raw, st.st_size if regular else None)
    except EOFError:
        raise DataError(f"{path}: truncated gzip data (the compressed stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


class _Prefixed(io.RawIOBase):
    """A pipe with the bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _idx_stream(path: Path | Traversable, stream: IO[bytes], size: int | None) -> np.ndarray:
    """The IDX array read from `stream` (`size`: the plain file's size, else unknown), header first."""
    head = _read_exactly(stream, 4)
    magic, ndim, dtype = _check_magic(path, head)
    header = 4 + 4 * ndim
    rest = _read_exactly(stream, header - 4)
    dims = _check_header(path, head + rest, magic, ndim)
    expected = math.prod(dims) * dtype.itemsize
    what = _what(dims, dtype, expected)
    if size is not None:  # a plain file: its size says it all before any data are read
        found = size - header
        if found < expected:
            raise DataError(f"{path}: truncated: header says {what}, found {found:,}")
        if found > expected:
            raise DataError(f"{path}: {found - expected:,} trailing bytes: header says {what}, found {found:,}")
    limit = memory_limit()
    if expected > limit:
        raise DataError(f"{path}: header says {what}, more than this machine's memory ({size_text(limit)})")
    body = _read_exactly(stream, expected + 1)  # one more byte than promised: trailing data?
    found = len(body)
    if found < expected:
        raise DataError(f"{path}: truncated: header says {what}, found {found:,}")
    if found > expected:
        raise DataError(f"{path}: trailing data: header says {what}, and the data go on after them")
    arr = np.frombuffer(body, dtype=dtype, count=math.prod(dims)).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _check_magic(path: Path | Traversable, head: bytes) -> tuple[int, int, np.dtype]:
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file: {len(head)} bytes, too short for the 4-byte magic number")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, found {head[:4]!r}"
        )
    magic = int.from_bytes(head[:4], "big")
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {t.name}" for c, t in IDX_TYPES.items())
        raise DataError(
            f"{path}: bad magic number {magic} (0x{magic:08X}): unknown type code 0x{code:02X} ({known})"
        )
    if ndim == 0:
        raise DataError(f"{path}: bad magic number {magic} (0x{magic:08X}): zero dimensions")
    return magic, ndim, IDX_TYPES[code]


def _check_header(path: Path | Traversable, data: bytes, magic: int, ndim: int) -> tuple[int, ...]:
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: truncated header: magic {_describe_magic(magic)} needs {header} header bytes, found {len(data)}"
        )
    return tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


def _what(dims: tuple[int, ...], dtype: np.dtype, expected: int) -> str:
    shape_txt = _shape_text(dims)
    return f"{shape_txt} = {size_text(expected)}" if dtype.itemsize == 1 else (
        f"{shape_txt} {dtype.name} = {size_text(expected)}")


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


def _parse_idx(path: Path | Traversable, data: bytes) -> np.ndarray:
    """The IDX array held by `data` (the bytes of `path`, gunzipped), checked as `read_idx` says."""
    return _idx_stream(path, io.BytesIO(data), len(data))


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


def load_idx_images(images_path: str | os.PathLike[str], *, dtype: Any = np.float64) -> np.ndarray:
    """An IDX images file alone (to predict, no labels): `X` (n, rows·cols), pixels scaled to [0, 1]."""
    ipath = Path(os.fspath(images_path))
    images = read_idx(ipath)
    _expect_magic(ipath, images, IDX_IMAGES, "an images file")
    if images.shape[0] == 0:
        raise DataError(f"{ipath}: holds no examples")
    X = images.reshape(images.shape[0], -1).astype(dtype)
    X /= 255.0
    return X


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


def fingerprint(*arrays: Any) -> str:
    """The sha256 (hex) of arrays: each one's dtype, shape and bytes in C order, in turn.

    Two runs on the same examples (same values, same dtype) have the same fingerprint, whatever
    file they came from; a saved model records it (`provenance["data"]`).
    """
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(a)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


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
