r"""Saving and loading models and checkpoints: one `.npz` file, no pickle.

A model file is a NumPy `.npz` archive holding

* `symgrad`: a uint8 array, the UTF-8 bytes of a JSON header
  `{"format": "symgrad-model", "version": 1, "spec": {...}, "params": [...],
  "extra": {...}, "extra_arrays": [...]}`;
* `params/W2`, `params/b2`, …, `params/WL`, `params/bL`: the parameters,
  `W^l` of shape `(n_l, n_{l−1})` and `b^l` of shape `(n_l, 1)` (Nielsen's notation);
* `extra/<key>` (optional): further arrays, e.g. an optimiser's moments for a
  checkpoint; nested dictionaries give keys such as `extra/m/W2`.

Everything loads with `np.load(..., allow_pickle=False)`: no object arrays are
written and none are read. The spec is the network's specification
(`symgrad.networks.Network.spec`): `sizes`, `activation`, `cost` and
optionally `output`, `level`, `weight_decay`; `load_model` returns it
with every key filled in, so `mlp(**spec, params=params)` rebuilds the network.
Other metadata (epoch, seeds, the generator's state) goes in `extra`.

Files are written atomically (`symgrad.store.files`). A training checkpoint is a
model file whose `extra` holds the epoch, the optimizer's state and the shuffling
generator's (`symgrad.numeric.checkpoint` says what goes in it).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from ..errors import UsageError
from ..networks import check_spec, param_shapes
from .data import check_regular, memory_limit, size_text
from .files import atomic_open, check_target

__all__ = ["FORMAT", "VERSION", "load_checkpoint", "load_model", "save_model"]

FORMAT = "symgrad-model"
VERSION = 1
HEADER_KEY = "symgrad"
PARAM_PREFIX = "params/"
EXTRA_PREFIX = "extra/"
_FLOAT_KINDS = "f"


# ------------------------------------------------------------------ validation


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_spec(spec: Any, where: str) -> dict[str, Any]:
    """The spec with defaults filled in (`symgrad.networks.check_spec`), errors prefixed by `where`."""
    try:
        return check_spec(spec)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None


def _check_param(where: str, key: str, arr: np.ndarray, shape: tuple[int, int], sizes: list[int]) -> None:
    if arr.dtype.kind not in _FLOAT_KINDS:
        raise UsageError(f"{where}: parameter {key!r} has dtype {arr.dtype}, expected a float array")
    if arr.shape != shape:
        raise UsageError(
            f"{where}: parameter {key!r} has shape {arr.shape}, the spec (sizes {sizes}) implies {shape}"
        )
    ok = np.isfinite(arr)
    if not ok.all():
        j, k = (int(i) for i in np.argwhere(~ok)[0])
        raise UsageError(
            f"{where}: parameter {key!r} holds a non-finite value ({arr[j, k]}) at index ({j}, {k})"
        )


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key or "/" in key:
        raise UsageError(f"{where}: extra keys must be non-empty strings without '/', got {key!r}")
    return key


def _split_extra(
    extra: Mapping[str, Any], prefix: str, arrays: dict[str, np.ndarray], where: str
) -> dict[str, Any]:
    """Arrays of `extra` into `arrays` (keys `extra/a/b`); the rest as a JSON-able tree."""
    meta: dict[str, Any] = {}
    for key, value in extra.items():
        _check_key(key, where)
        path = f"{prefix}/{key}" if prefix else key
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject or value.dtype.kind not in "biufcSU":
                raise UsageError(
                    f"{where}: extra array {path!r} has dtype {value.dtype}, which cannot be saved without pickle"
                )
            arrays[EXTRA_PREFIX + path] = value
        elif isinstance(value, Mapping):
            meta[key] = _split_extra(value, path, arrays, where)
        else:
            meta[key] = _jsonable(value, path, where)
    return meta


def _jsonable(value: Any, path: str, where: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(
                f"{where}: extra value {path!r} is {value}, which JSON cannot hold (store it in an array)"
            )
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{path}[{i}]", where) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UsageError(f"{where}: extra value {path!r} has a non-string key {k!r}")
            out[k] = _jsonable(v, f"{path}.{k}", where)
        return out
    raise UsageError(
        f"{where}: extra value {path!r} of type {type(value).__name__} is neither an array nor JSON"
    )


# ------------------------------------------------------------------ save / load


def save_model(
    path: str | os.PathLike[str],
    spec: Mapping[str, Any],
    params: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save a network's `spec` and `params` (`{"W2": ..., "b2": ...}`) to one `.npz` file.

    The file is written exactly at `path` (no suffix is added), atomically: on
    any error the previous file is left as it was and nothing half-written
    remains. Parameters must have the shapes the spec implies — `W^l` `(n_l, n_{l−1})`,
    `b^l` `(n_l, 1)` (a `b^l` of shape `(n_l,)` is accepted and stored as a column) — and
    finite float values (float32 or float64 are kept as they are).

    `extra` (for checkpoints) maps names to NumPy arrays (stored as
    `extra/<name>`), to nested dictionaries of the same, or to JSON values
    (numbers, strings, lists, dictionaries — e.g. the epoch or a generator's
    `bit_generator.state`); `load_checkpoint` gives it back.
    """
    target = check_target(path)
    where = f"cannot save {target}"
    clean = _check_spec(spec, where)
    if not isinstance(params, Mapping):
        raise UsageError(f"{where}: params must be a dictionary {{'W2': array, 'b2': array, ...}}")
    shapes = param_shapes(clean["sizes"])
    unexpected = [k for k in params if k not in shapes]
    if unexpected:
        raise UsageError(
            f"{where}: unexpected parameter(s) {', '.join(map(repr, unexpected))} for sizes {clean['sizes']} "
            f"(expected {', '.join(shapes)})"
        )
    arrays: dict[str, np.ndarray] = {}
    for key, shape in shapes.items():
        if key not in params:
            raise UsageError(
                f"{where}: parameter {key!r} is missing (sizes {clean['sizes']} need {', '.join(shapes)})"
            )
        arr = np.asarray(params[key])
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)
        if key.startswith("b") and arr.shape == (shape[0],):
            arr = arr.reshape(shape)
        _check_param(where, key, arr, shape, clean["sizes"])
        arrays[PARAM_PREFIX + key] = np.ascontiguousarray(arr)
    if extra is not None and not isinstance(extra, Mapping):
        raise UsageError(f"{where}: extra must be a dictionary, got {type(extra).__name__}")
    extra_arrays: dict[str, np.ndarray] = {}
    meta = _split_extra(extra or {}, "", extra_arrays, where)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "spec": clean,
        "params": list(shapes),
        "extra": meta,
        "extra_arrays": [k[len(EXTRA_PREFIX) :] for k in extra_arrays],
    }
    text = json.dumps(header, allow_nan=False, ensure_ascii=False)
    arrays[HEADER_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    arrays.update(extra_arrays)
    with atomic_open(target, "wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    return target


#: The most bytes the JSON header may hold (a checkpoint's history of a very long run stays well under it).
HEADER_LIMIT = 64 << 20
#: Extra arrays (an optimizer's moments: Adam keeps two per parameter) may declare at most this many times the
#: parameters' float64 bytes, plus one MiB.
EXTRA_FACTOR = 4


def _declared(path: Path, zf: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype member `name` declares in its `.npy` header, read without reading its data."""
    try:
        with zf.open(name + ".npy") as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version} (symgrad writes 1.0)")
    except Exception as e:  # any parse failure of hostile bytes is the file's fault
        raise UsageError(f"{path}: truncated or corrupt archive: cannot read the header of array {name!r} ({e})") from None
    if dtype.hasobject:
        raise UsageError(
            f"{path}: array {name!r} holds pickled Python objects; refusing to unpickle it "
            "(a symgrad model file never contains objects)"
        )
    return tuple(int(n) for n in shape), dtype


def _check_declared(path: Path, zf: zipfile.ZipFile, names: list[str]) -> dict[str, np.ndarray]:
    """Every member's declared shape and dtype checked against the header's spec before any data are read
    (a deflated member may unpack to gigabytes): returns the header member, read."""
    members = set(zf.namelist())
    for name in names:
        if name + ".npy" not in members:
            raise UsageError(f"{path}: corrupt archive: member {name!r} is not a NumPy array")
    if HEADER_KEY not in names:
        raise UsageError(
            f"{path}: not a symgrad model file (no {HEADER_KEY!r} header; arrays: {', '.join(names) or 'none'})"
        )
    shape, dtype = _declared(path, zf, HEADER_KEY)
    if dtype != np.uint8 or len(shape) != 1:
        raise UsageError(
            f"{path}: corrupt header: {HEADER_KEY!r} must be 1-D uint8 bytes, got {dtype} of shape {shape}"
        )
    if shape[0] > HEADER_LIMIT:
        raise UsageError(f"{path}: corrupt header: {HEADER_KEY!r} declares {shape[0]:,} bytes (at most "
                         f"{HEADER_LIMIT:,})")
    raw = _read_member(path, zf, HEADER_KEY)
    header = _read_header(path, {HEADER_KEY: raw})
    spec = _check_spec(header.get("spec"), str(path))
    shapes = param_shapes(spec["sizes"])
    n_params = sum(r * c for r, c in shapes.values())
    limit = memory_limit()
    if n_params * 8 > limit:
        raise UsageError(f"{path}: the spec (sizes {spec['sizes']}) implies {n_params:,} parameters = "
                         f"{size_text(n_params * 8)}, more than this machine's memory ({size_text(limit)})")
    listed = header.get("extra_arrays", [])
    extras = set(listed) if isinstance(listed, list) and all(isinstance(k, str) for k in listed) else set()
    budget = EXTRA_FACTOR * n_params * 8 + (1 << 20)
    used = 0
    for name in names:
        if name == HEADER_KEY:
            continue
        shape, dtype = _declared(path, zf, name)
        nbytes = math.prod(shape) * dtype.itemsize
        if name.startswith(PARAM_PREFIX) and name[len(PARAM_PREFIX):] in shapes:
            key = name[len(PARAM_PREFIX):]
            if dtype.kind not in _FLOAT_KINDS:
                raise UsageError(f"{path}: parameter {key!r} has dtype {dtype}, expected a float array")
            if shape != shapes[key]:
                raise UsageError(f"{path}: parameter {key!r} has shape {shape}, the spec (sizes {spec['sizes']}) "
                                 f"implies {shapes[key]}")
        elif name.startswith(EXTRA_PREFIX) and name[len(EXTRA_PREFIX):] in extras:
            used += nbytes
            if used > budget:
                raise UsageError(f"{path}: extra array {name[len(EXTRA_PREFIX):]!r} declares shape {shape} "
                                 f"({size_text(nbytes)}): the extra arrays would exceed {size_text(budget)}, "
                                 f"{EXTRA_FACTOR}× the parameters' size (tampered file?)")
        else:
            raise UsageError(f"{path}: unexpected array(s) {name!r} (tampered file?)")
    return {HEADER_KEY: raw}


def _unreadable(path: Path, name: str, e: Exception) -> UsageError:
    """The one-line error for array `name` that NumPy could not read: pickled objects, corrupt, or truncated."""
    if isinstance(e, ValueError):
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            return UsageError(
                f"{path}: array {name!r} holds pickled Python objects; refusing to unpickle it "
                "(a symgrad model file never contains objects)"
            )
        return UsageError(f"{path}: corrupt array {name!r} ({e})")
    return UsageError(f"{path}: truncated or corrupt archive: cannot read array {name!r} ({e})")


def _read_member(path: Path, zf: zipfile.ZipFile, name: str) -> np.ndarray:
    try:
        with zf.open(name + ".npy") as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except Exception as e:
        raise _unreadable(path, name, e) from None


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read without pickle; a UsageError naming the file otherwise.

    Each member's declared shape and dtype (its `.npy` header) is checked against the header's
    spec before its data are read, so a small file whose deflated member would unpack to
    gigabytes is refused at once (`_check_declared`).
    """
    try:
        check_regular(path, "a symgrad model file", pipes=False)
    except UsageError as e:
        raise UsageError(str(e)) from None
    try:
        with open(path, "rb") as f:
            start = f.read(6)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    # Decide from the magic bytes, so np.load never takes its pickle path.
    if start.startswith(b"\x93NUMPY"):
        raise UsageError(f"{path}: not a symgrad model file (a single .npy array, not an .npz archive)")
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        what = "an empty file" if not start else f"starts with {start[:4]!r}"
        raise UsageError(f"{path}: not a symgrad model file (not an .npz archive: {what})")
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except Exception as e:  # any parse failure of hostile bytes is the file's fault
        raise UsageError(f"{path}: truncated or corrupt .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UsageError(f"{path}: not a symgrad model file (not an .npz archive)")
    arrays: dict[str, np.ndarray] = {}
    with archive:
        try:
            names = list(archive.files)
        except Exception as e:
            raise UsageError(f"{path}: corrupt archive ({e})") from None
        _check_declared(path, archive.zip, names)
        for name in names:
            try:
                arrays[name] = archive[name]
            except Exception as e:
                raise _unreadable(path, name, e) from None
            if not isinstance(arrays[name], np.ndarray):
                raise UsageError(f"{path}: corrupt archive: member {name!r} is not a NumPy array")
    return arrays


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _read_header(path: Path, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays.get(HEADER_KEY)
    if raw is None:
        raise UsageError(
            f"{path}: not a symgrad model file (no {HEADER_KEY!r} header; arrays: {', '.join(arrays) or 'none'})"
        )
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise UsageError(
            f"{path}: corrupt header: {HEADER_KEY!r} must be 1-D uint8 bytes, got {raw.dtype} of shape {raw.shape}"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UsageError(f"{path}: corrupt header: not valid JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise UsageError(f"{path}: not a symgrad model file (format {found!r}, expected {FORMAT!r})")
    version = header.get("version")
    if not _is_int(version) or version < 1:
        raise UsageError(f"{path}: corrupt header: version {version!r}")
    if version > VERSION:
        raise UsageError(
            f"{path}: made by a newer symgrad (format version {version}; this one reads up to {VERSION})"
        )
    return header


@overload
def load_model(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...
@overload
def load_model(
    path: str | os.PathLike[str], *, with_extra: Literal[False]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...
@overload
def load_model(
    path: str | os.PathLike[str], *, with_extra: Literal[True]
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]: ...


def load_model(path: str | os.PathLike[str], *, with_extra: bool = False) -> Any:
    """Load `(spec, params)` saved by `save_model` (`(spec, params, extra)` with `with_extra`).

    Reads with `allow_pickle=False` and validates everything: the file is a
    symgrad model of a known version; the spec's keys and types (sizes whole
    numbers ≥ 1, known activation, cost, output and level); every W^l, b^l is
    present with the shape the spec implies, float, finite; no array is missing
    or unexpected. Any problem is a `UsageError` naming the file (and the
    parameter, with the expected and found shapes). `params` are float arrays
    in the dtype they were saved with; `spec` has every key filled in.
    """
    p = Path(os.fspath(path))
    arrays = _read_archive(p)
    header = _read_header(p, arrays)
    where = str(p)
    spec = _check_spec(header.get("spec"), where)
    shapes = param_shapes(spec["sizes"])
    listed = header.get("params")
    if listed != list(shapes):
        raise UsageError(
            f"{where}: header lists parameters {listed!r}, the spec (sizes {spec['sizes']}) implies {list(shapes)}"
        )
    params: dict[str, np.ndarray] = {}
    for key, shape in shapes.items():
        arr = arrays.get(PARAM_PREFIX + key)
        if arr is None:
            raise UsageError(f"{where}: parameter {key!r} is missing (expected shape {shape})")
        _check_param(where, key, arr, shape, spec["sizes"])
        params[key] = arr
    extra_keys = header.get("extra_arrays", [])
    meta = header.get("extra", {})
    if not isinstance(extra_keys, list) or not all(isinstance(k, str) and k for k in extra_keys):
        raise UsageError(f"{where}: corrupt header: 'extra_arrays' must be a list of names")
    if not isinstance(meta, dict):
        raise UsageError(f"{where}: corrupt header: 'extra' must be a dictionary")
    expected = {HEADER_KEY, *(PARAM_PREFIX + k for k in shapes), *(EXTRA_PREFIX + k for k in extra_keys)}
    stray = [k for k in arrays if k not in expected]
    if stray:
        raise UsageError(f"{where}: unexpected array(s) {', '.join(map(repr, stray))} (tampered file?)")
    if not with_extra:
        return spec, params
    extra: dict[str, Any] = json.loads(json.dumps(meta))  # a private copy
    for key in extra_keys:
        if EXTRA_PREFIX + key not in arrays:
            raise UsageError(f"{where}: extra array {key!r} listed in the header is missing")
        node = extra
        *parents, leaf = key.split("/")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"{where}: corrupt header: extra array {key!r} clashes with a value")
            node = child
        if leaf in node:
            raise UsageError(f"{where}: corrupt header: extra array {key!r} clashes with a value")
        node[leaf] = arrays[EXTRA_PREFIX + key]
    return spec, params, extra


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """`(spec, params, extra)` from a file written by `save_model` with `extra`."""
    return load_model(path, with_extra=True)
