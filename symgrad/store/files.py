"""Writing files atomically: a reader, or a crash, sees the old file or the new one, never half of one.

A file is written to a temporary file in the same directory, flushed and fsync'ed, then
renamed over the target with `os.replace` (and the directory fsync'ed where the
platform allows). This is the leaf of the store: it imports nothing of symgrad but the errors.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError

__all__ = [
    "atomic_open",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "check_writable",
]


def check_target(path: str | os.PathLike[str]) -> Path:
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
    """Open a temporary file next to `path`; on success it replaces `path` atomically.

    `with atomic_open("out.json", "w") as f: f.write(...)` — if the block raises,
    the temporary file is removed and `path` is left as it was. The new file
    keeps the permissions of the file it replaces (else the umask's default).
    OS errors (no permission, disk full) become `UsageError` naming the path.
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open: mode must be 'w', 'wt' or 'wb', got {mode!r}")
    target = check_target(path)
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
    """Write `data` to `path` atomically (temporary file, fsync, `os.replace`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(os.fspath(path))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically (temporary file, fsync, `os.replace`)."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(os.fspath(path))


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically; the permissions follow the umask."""
    return atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail now, before any work, if `path` cannot be written: a directory, no folder, no permission.

    A probe file is created next to it and removed again.
    """
    target = check_target(path)
    probe = target.parent / f".{target.name}.{secrets.token_hex(6)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"cannot write in {target.parent}: {e.strerror or e}") from None
    return target
