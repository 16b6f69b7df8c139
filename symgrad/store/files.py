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
    "same_file",
    "symlink_target",
]


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def _existing_kind(target: Path) -> tuple[str | None, Path | None]:
    """`(what is in the way, the symlink's target)`: `(None, None)` when `target` is absent or a regular file,
    `(None, real)` for a symlink to a regular file `real`, else words saying what sits there."""
    try:
        st = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):  # absent; a file in the way of a folder is said below
        return None, None
    except OSError as e:
        return f"a path that cannot be examined ({e.strerror or e})", None
    if stat.S_ISREG(st.st_mode):
        return None, None
    if not stat.S_ISLNK(st.st_mode):
        return _kind(st.st_mode), None
    real = Path(os.path.realpath(target))
    try:
        rst = os.stat(real)
    except FileNotFoundError:
        return f"a dangling symbolic link (to {os.readlink(target)})", None
    except OSError as e:
        return f"a symbolic link that cannot be followed ({e.strerror or e})", None
    if not stat.S_ISREG(rst.st_mode):
        return f"a symbolic link to {_kind(rst.st_mode)} ({real})", None
    return None, real


def check_target(path: str | os.PathLike[str]) -> Path:
    """The path a file will be written at, after checking that a file can be created there.

    Only a regular file is ever replaced. An existing path that is anything else — a directory,
    a FIFO, a device (`/dev/null`), a socket, a dangling symbolic link or a link to one of
    those — is refused: replacing it would destroy what sits there (as root, `/dev/null`
    itself). A symbolic link to a regular file is followed on purpose, as editors do: the
    returned path is the link's target, which is replaced; the link itself stays as it was
    (see `symlink_target` to say so).
    """
    try:
        target = Path(os.fspath(path))
    except TypeError:
        raise UsageError(f"expected a file path, got {path!r}") from None
    if str(target) in ("", "."):
        raise UsageError("expected a file path, got an empty path")
    if "\0" in str(target):
        raise UsageError(f"expected a file path, got {str(target)!r} (it holds a NUL byte)")
    in_the_way, real = _existing_kind(target)
    if in_the_way == "a directory":
        raise UsageError(f"cannot write {target}: it is a directory (give a file name)")
    if in_the_way is not None:
        raise UsageError(f"cannot write {target}: it is {in_the_way}; only a regular file is ever replaced")
    if real is not None:
        target = real
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


def symlink_target(path: str | os.PathLike[str]) -> Path | None:
    """The regular file a symbolic link `path` points to (what writing `path` replaces), else `None`."""
    p = Path(os.fspath(path))
    return check_target(p) if p.is_symlink() else None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two output paths name the same file (after following symbolic links), existing or not."""
    ra, rb = os.path.realpath(os.fspath(a)), os.path.realpath(os.fspath(b))
    if ra == rb:
        return True
    try:
        return os.path.samefile(ra, rb)
    except OSError:
        return False


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
        # Checked again at the last moment: something else may have been put there meanwhile.
        in_the_way, _ = _existing_kind(target)
        if in_the_way is not None:
            raise UsageError(f"cannot write {target}: it is now {in_the_way}; only a regular file is ever replaced")
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
