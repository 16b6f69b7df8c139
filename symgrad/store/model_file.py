r"""Saving and loading models and checkpoints — one ``.npz`` file, no pickle — and atomic writes.

A model file is a NumPy ``.npz`` archive holding

* ``symgrad``: a uint8 array, the UTF-8 bytes of a JSON header
  ``{"format": "symgrad-model", "version": 1, "spec": {...}, "params": [...],
  "extra": {...}, "extra_arrays": [...]}``;
* ``params/W2``, ``params/b2``, …, ``params/WL``, ``params/bL``: the parameters,
  W^l of shape (n_l, n_{l−1}) and b^l of shape (n_l, 1) (Nielsen's notation);
* ``extra/<key>`` (optional): further arrays, e.g. an optimiser's moments for a
  checkpoint; nested dictionaries give keys such as ``extra/m/W2``.

Everything loads with ``np.load(..., allow_pickle=False)``: no object arrays are
written and none are read. The spec is the network's specification
(:meth:`symgrad.networks.Network.spec`): ``sizes``, ``activation``, ``cost`` and
optionally ``output``, ``level``, ``weight_decay``; :func:`load_model` returns it
with every key filled in, so ``mlp(**spec, params=params)`` rebuilds the network.
Other metadata (epoch, seeds, the generator's state) goes in ``extra``.

Files are written atomically: to a temporary file in the same directory, flushed
and fsync'ed, then renamed over the target with :func:`os.replace`, so a reader
(or a crash) sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Literal, overload

import numpy as np

from ..core.functions import ACTIVATIONS
from ..errors import UsageError
from ..networks import COSTS, LEVELS

__all__ = [
    "FORMAT",
    "VERSION",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_checkpoint",
    "load_model",
    "param_shapes",
    "save_model",
]

FORMAT = "symgrad-model"
VERSION = 1
HEADER_KEY = "symgrad"
PARAM_PREFIX = "params/"
EXTRA_PREFIX = "extra/"
SPEC_KEYS = ("sizes", "activation", "cost", "output", "level", "weight_decay")
_FLOAT_KINDS = "f"


# ------------------------------------------------------------------ atomic writes


def _check_target(path: str | os.PathLike[str]) -> Path:
    """The target as a Path, after checking that a file can be created there."""
    try:
        target = Path(os.fspath(path))
    except TypeError:
        raise UsageError(f"expected a file path, got {path!r}") from None
    if str(target) in ("", "."):
        raise UsageError("expected a file path, got an empty path")
    if target.is_dir():
        raise UsageError(f"cannot write {target}: it is a directory (give a file name)")
    parent = target.parent
    if not parent.exists():
        # Walk up to say *which* component is wrong: a missing folder or a file in the way.
        p = parent
        while not p.exists() and p != p.parent:
            p = p.parent
        if p.exists() and not p.is_dir():
            raise UsageError(f"cannot write {target}: {p} is a file, not a directory")
        raise UsageError(f"cannot write {target}: directory {parent} does not exist")
    if not parent.is_dir():
        raise UsageError(f"cannot write {target}: {parent} is a file, not a directory")
    return target


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows).
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    ``with atomic_open("out.json", "w") as f: f.write(...)`` — if the block raises,
    the temporary file is removed and ``path`` is left as it was. The new file
    keeps the permissions of the file it replaces (else the umask's default).
    OS errors (no permission, disk full) become :class:`UsageError` naming the path.
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open: mode must be 'w', 'wt' or 'wb', got {mode!r}")
    target = _check_target(path)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        with suppress(OSError):
            os.chmod(fd, stat.S_IMODE(os.stat(target).st_mode))
        if "b" in mode:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline="")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        with suppress(OSError):
            os.unlink(tmp)
        raise UsageError(
            f"cannot write {target}: {e.strerror or e} (the previous file, if any, is unchanged)"
        ) from e
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, :func:`os.replace`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(os.fspath(path))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, :func:`os.replace`)."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(os.fspath(path))


# ------------------------------------------------------------------ validation


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_spec(spec: Any, where: str) -> dict[str, Any]:
    """The spec with defaults filled in, or a UsageError prefixed by ``where``."""
    if not isinstance(spec, Mapping):
        raise UsageError(f"{where}: the spec must be a dictionary, got {type(spec).__name__}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise UsageError(
            f"{where}: unknown spec key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(SPEC_KEYS)}; put other metadata in extra)"
        )
    for key in ("sizes", "activation", "cost"):
        if key not in spec:
            raise UsageError(f"{where}: the spec lacks {key!r}")
    sizes = spec["sizes"]
    if not isinstance(sizes, (list, tuple)) or not all(_is_int(s) for s in sizes):
        raise UsageError(f"{where}: spec 'sizes' must be a list of whole numbers, got {sizes!r}")
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise UsageError(
            f"{where}: spec 'sizes' needs at least two layers of at least one neuron, got {list(sizes)}"
        )
    act, cost = spec["activation"], spec["cost"]
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise UsageError(f"{where}: unknown activation {act!r}; known: {', '.join(ACTIVATIONS)}")
    if not isinstance(cost, str) or cost not in COSTS:
        raise UsageError(f"{where}: unknown cost {cost!r}; known: {', '.join(COSTS)}")
    output = spec.get("output")
    if output is None:
        output = "softmax" if cost == "log_likelihood" else act
    if not isinstance(output, str) or (output != "softmax" and output not in ACTIVATIONS):
        raise UsageError(f"{where}: unknown output {output!r}; known: softmax, {', '.join(ACTIVATIONS)}")
    if (cost == "log_likelihood") != (output == "softmax"):
        raise UsageError(
            f"{where}: the log_likelihood cost goes with output 'softmax' (got cost {cost!r}, output {output!r})"
        )
    level = spec.get("level")
    level = "layer" if level is None else level
    if not isinstance(level, str) or level not in LEVELS:
        raise UsageError(f"{where}: unknown level {level!r}; known: {', '.join(LEVELS)}")
    wd = spec.get("weight_decay")
    if wd is not None:
        if isinstance(wd, bool) or not isinstance(wd, (int, float, np.integer, np.floating)):
            raise UsageError(f"{where}: spec 'weight_decay' must be a number or null, got {wd!r}")
        if not math.isfinite(float(wd)) or wd < 0:
            raise UsageError(f"{where}: spec 'weight_decay' must be finite and ≥ 0, got {wd!r}")
        wd = float(wd)
    return {
        "sizes": [int(s) for s in sizes],
        "activation": act,
        "cost": cost,
        "output": output,
        "level": level,
        "weight_decay": wd,
    }


def param_shapes(sizes: list[int] | tuple[int, ...]) -> dict[str, tuple[int, int]]:
    """The parameter shapes a network of ``sizes`` implies: W^l (n_l, n_{l−1}), b^l (n_l, 1)."""
    shapes: dict[str, tuple[int, int]] = {}
    for l in range(2, len(sizes) + 1):
        shapes[f"W{l}"] = (int(sizes[l - 1]), int(sizes[l - 2]))
        shapes[f"b{l}"] = (int(sizes[l - 1]), 1)
    return shapes


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
    """Arrays of ``extra`` into ``arrays`` (keys ``extra/a/b``); the rest as a JSON-able tree."""
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
    """Save a network's ``spec`` and ``params`` (``{"W2": ..., "b2": ...}``) to one ``.npz`` file.

    The file is written exactly at ``path`` (no suffix is added), atomically: on
    any error the previous file is left as it was and nothing half-written
    remains. Parameters must have the shapes the spec implies — W^l (n_l, n_{l−1}),
    b^l (n_l, 1) (a b^l of shape (n_l,) is accepted and stored as a column) — and
    finite float values (float32 or float64 are kept as they are).

    ``extra`` (for checkpoints) maps names to NumPy arrays (stored as
    ``extra/<name>``), to nested dictionaries of the same, or to JSON values
    (numbers, strings, lists, dictionaries — e.g. the epoch or a generator's
    ``bit_generator.state``); :func:`load_checkpoint` gives it back.
    """
    target = _check_target(path)
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


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, read without pickle; a UsageError naming the file otherwise."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a symgrad model file")
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
        for name in names:
            try:
                arrays[name] = archive[name]
            except ValueError as e:
                if "allow_pickle" in str(e) or "Object arrays" in str(e):
                    raise UsageError(
                        f"{path}: array {name!r} holds pickled Python objects; refusing to unpickle it "
                        "(a symgrad model file never contains objects)"
                    ) from None
                raise UsageError(f"{path}: corrupt array {name!r} ({e})") from None
            except Exception as e:
                raise UsageError(
                    f"{path}: truncated or corrupt archive: cannot read array {name!r} ({e})"
                ) from None
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
    """Load ``(spec, params)`` saved by :func:`save_model` (``(spec, params, extra)`` with ``with_extra``).

    Reads with ``allow_pickle=False`` and validates everything: the file is a
    symgrad model of a known version; the spec's keys and types (sizes whole
    numbers ≥ 1, known activation, cost, output and level); every W^l, b^l is
    present with the shape the spec implies, float, finite; no array is missing
    or unexpected. Any problem is a :class:`UsageError` naming the file (and the
    parameter, with the expected and found shapes). ``params`` are float arrays
    in the dtype they were saved with; ``spec`` has every key filled in.
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
    """``(spec, params, extra)`` from a file written by :func:`save_model` with ``extra``."""
    return load_model(path, with_extra=True)
