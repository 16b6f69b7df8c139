"""Examples in CSV and NumPy files: one example per row, and its label.

**CSV** (`.csv`, or `.csv.gz`): comma-separated numbers, one example per row. The first row
is a header when any of its fields is not a number. The label column is the one named
`label` in the header, else the first column; the other columns are the example's features,
in order (for MNIST: `label, pixel0, …, pixel783`, the layout of Kaggle's MNIST CSV files).
Without labels (`load_csv` with `labels=False`, for predicting), a `label` column is
dropped; a file without a header whose rows have one number more than the network has inputs
has its first column dropped, as a label column.

**NumPy**: an `.npy` file holds the examples `X` as an array (n, d), or (n, h, w) images
(flattened to rows); its labels, when needed, are another `.npy` file of shape (n,). An `.npz`
archive holds both: `X` (or `x`, `images`) and `y` (or `labels`). Files are read with
`allow_pickle=False`: an array of Python objects is refused, never unpickled.

Labels are whole numbers 0..c−1; how many classes there are is the network's business (its
output layer's size), checked by `check_labels`, which names the file and the row.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UsageError

__all__ = ["LABEL_COLUMN", "NPZ_LABELS", "NPZ_X", "check_labels", "load_csv", "load_npy"]

#: The name of the label column in a CSV header.
LABEL_COLUMN = "label"
#: The names an `.npz` archive's examples may have, and its labels', in the order they are looked for.
NPZ_X = ("X", "x", "images")
NPZ_LABELS = ("y", "labels")


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _open_text(path: Path) -> Any:
    return gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" else open(
        path, encoding="utf-8", newline="")


def _exists(path: Path, flag: str) -> None:
    if not path.exists():
        raise UsageError(f"{flag}{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{flag}{path}: not a file")


def load_csv(path: str | os.PathLike[str], *, labels: bool = True, n_inputs: int | None = None,
             outputs: int | None = None, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray | None]:
    """`(X, labels)` from a CSV file of examples, one per row (the layout is the module's).

    `X` is (n, d) in `dtype`, the values as written (no scaling); `labels` (n,) int64, or `None`
    with `labels=False`. `n_inputs` (the network's d), when given, lets a file without a header
    carry a label column that `labels=False` drops. A `DataError` names the
    file and the line of any value that is not a number, of a label that is not a whole number ≥ 0, and
    (given `outputs`, the network's n_L) of a label that is not one of its classes (`check_labels`).
    """
    p = Path(os.fspath(path))
    _exists(p, "")
    try:
        with _open_text(p) as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise DataError(f"{p}: cannot read as CSV text ({e})") from None
    fields = [s.strip() for s in first.strip().split(",")]
    if not first.strip():
        raise DataError(f"{p}: empty CSV file (one example per row expected)")
    header = None if all(_is_number(s) for s in fields) else fields
    try:
        table = np.loadtxt(p, delimiter=",", skiprows=1 if header else 0, ndmin=2, dtype=np.float64,
                           encoding="utf-8")
    except ValueError as e:  # NumPy's message names the row and the value
        raise DataError(f"{p}: not a table of numbers ({e})") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read ({e})") from None
    if table.shape[0] == 0:
        raise DataError(f"{p}: holds no examples (a header and no rows)")
    width = table.shape[1]
    if header is not None and len(header) != width:
        raise DataError(f"{p}: the header names {len(header)} columns but the rows have {width}")
    label_col: int | None
    if header is not None and LABEL_COLUMN in header:
        label_col = header.index(LABEL_COLUMN)
    elif labels or (header is None and n_inputs is not None and width == n_inputs + 1):
        label_col = 0
    else:
        label_col = None
    if labels and width < 2:
        raise DataError(f"{p}: rows of {width} number{'s' * (width != 1)}; expected a label column and features")
    y = None
    if label_col is not None:
        raw = table[:, label_col]
        table = np.delete(table, label_col, axis=1)
        if labels:
            def line(i: int) -> str:  # the file's line (blank lines, which NumPy skips, aside)
                return f"on line {i + 1 + (header is not None)}"

            y = _whole(raw, p, line)
            if outputs is not None:
                check_labels(y, outputs, str(p), position=line)
    return np.ascontiguousarray(table, dtype=dtype), y


def _at_index(i: int) -> str:
    return f"at index {i}"


def _whole(raw: np.ndarray, path: Path, position: Callable[[int], str] = _at_index) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)) | (raw < 0))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: label {raw[i]:g} {position(i)} is not a class number (a whole number ≥ 0)")
    return raw.astype(np.int64)


def _load_array(path: Path, flag: str) -> Any:
    _exists(path, flag)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise UsageError(f"{flag}{path}: cannot read: {e.strerror or e}") from None
    if not (magic.startswith(b"\x93NUMPY") or magic.startswith((b"PK\x03\x04", b"PK\x05\x06"))):
        raise DataError(f"{flag}{path}: not a NumPy .npy or .npz file")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise DataError(f"{flag}{path}: holds Python objects; refusing to unpickle them (numbers only)") from None
        raise DataError(f"{flag}{path}: corrupt NumPy file ({e})") from None
    except Exception as e:  # a damaged file's failure is the file's
        raise DataError(f"{flag}{path}: corrupt NumPy file ({e})") from None


def _member(archive: Any, names: tuple[str, ...], path: Path, what: str) -> np.ndarray | None:
    for name in names:
        if name in archive.files:
            try:
                return np.asarray(archive[name])
            except ValueError:
                raise DataError(f"{path}: array {name!r} holds Python objects; refusing to unpickle it") from None
            except Exception as e:
                raise DataError(f"{path}: corrupt array {name!r} ({e})") from None
    return None


def load_npy(path: str | os.PathLike[str], labels_path: str | os.PathLike[str] | None = None, *,
             labels: bool = True, outputs: int | None = None,
             dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray | None]:
    """`(X, labels)` from an `.npy` file (labels from `labels_path`, another `.npy`) or an `.npz`
    archive (`X` and `y`; the names the module lists); `labels=False` reads none.

    `X` comes back (n, d) in `dtype`, images (n, h, w) flattened to rows, the values as stored; labels
    (n,) int64, checked against `outputs` (the network's n_L) when given. Errors name the file (and the
    array, and the index of a bad label).
    """
    p = Path(os.fspath(path))
    loaded = _load_array(p, "")
    y_raw: np.ndarray | None = None
    y_where = p
    if isinstance(loaded, np.ndarray):
        X = loaded
    else:
        with loaded as archive:
            X = _member(archive, NPZ_X, p, "examples")
            if X is None:
                raise DataError(f"{p}: no examples: the archive has {', '.join(archive.files) or 'no arrays'}; "
                                f"expected one named {' or '.join(NPZ_X)}")
            if labels and labels_path is None:
                y_raw = _member(archive, NPZ_LABELS, p, "labels")
                if y_raw is None:
                    raise DataError(f"{p}: no labels: the archive has {', '.join(archive.files)}; expected an "
                                    f"array named {' or '.join(NPZ_LABELS)} (or give --labels FILE.npy)")
    if labels and labels_path is not None:
        y_where = Path(os.fspath(labels_path))
        got = _load_array(y_where, "")
        if not isinstance(got, np.ndarray):
            got.close()
            raise DataError(f"{y_where}: labels must be one .npy array of shape (n,), not an .npz archive")
        y_raw = got
    elif labels and y_raw is None:
        raise UsageError(f"{p}: an .npy file holds no labels: give --labels FILE.npy (or use an .npz with X and y)")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{p}: examples of dtype {X.dtype}; expected numbers")
    if X.ndim == 1 or X.ndim == 0:
        raise DataError(f"{p}: examples must be an array (n, d), one per row; got shape {X.shape}")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise DataError(f"{p}: holds no examples")
    y = None
    if y_raw is not None:
        if y_raw.ndim == 2 and y_raw.shape[1] == 1:
            y_raw = y_raw.reshape(-1)
        if y_raw.ndim != 1 or y_raw.dtype.kind not in "biuf":
            raise DataError(f"{y_where}: labels must be whole numbers of shape (n,); got {y_raw.dtype} of shape "
                            f"{y_raw.shape}")
        if y_raw.shape[0] != X.shape[0]:
            raise DataError(f"count mismatch: {p} holds {X.shape[0]} examples but {y_where} holds "
                            f"{y_raw.shape[0]} labels")
        y = _whole(y_raw.astype(np.float64), y_where)
        if outputs is not None:
            check_labels(y, outputs, str(y_where))
    return np.ascontiguousarray(X, dtype=dtype), y


def check_labels(labels: np.ndarray, outputs: int, source: str, *,
                 position: Callable[[int], str] = _at_index) -> None:
    """Every label is a class of a network with `outputs` output neurons (0..n_L−1; 0 or 1 for one neuron),
    else a one-line `DataError` naming `source` and where the first one at fault is
    (`position(i)` of its index i: `at index 7`, or for a CSV file `on line 9`)."""
    top = 1 if outputs == 1 else outputs - 1
    bad = np.flatnonzero((labels < 0) | (labels > top))
    if bad.size:
        i = int(bad[0])
        more = f"; {bad.size} labels are out of range" if bad.size > 1 else ""
        raise DataError(f"{source}: label {int(labels[i])} {position(i)} is not a class of the network: its "
                        f"output layer has {outputs} neuron{'s' * (outputs > 1)}, so the labels must be 0..{top}{more}")
