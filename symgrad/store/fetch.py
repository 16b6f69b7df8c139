"""Fetching the full MNIST set (60,000 + 10,000 digits) from the public mirrors, verified.

`fetch_mnist` downloads the four official gzip files (`MNIST_GZ`)
into a folder with the standard library only (`urllib.request`). Each file is tried on the
mirrors in order; any failure — no connection, an HTTP error, a stalled transfer (connect and
read timeouts), the wrong size, the wrong sha256, bytes that are not the file — moves on to the
next mirror. The bytes are hashed while they stream into a temporary file beside the target,
which is fsync'ed and renamed over it only when size and sha256 are the published ones
(`symgrad.store.files.atomic_open`): a failure or Ctrl-C leaves no partial file, and
nothing is ever resumed. A file already present that verifies is kept without a request; one
that does not verify is downloaded again.

The default folder follows the platform's conventions for caches (`default_data_dir`):
`$SYMGRAD_DATA_DIR/mnist` when that variable is set, else `$XDG_CACHE_HOME/symgrad/mnist`
(`~/.cache/symgrad/mnist`) on Linux and other Unix systems, `~/Library/Caches/symgrad/mnist`
on macOS and `%LOCALAPPDATA%\\symgrad\\mnist` on Windows.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import DataError, UsageError
from .files import atomic_open
from .names import FETCHABLE, MIRRORS, MNIST_GZ

__all__ = [
    "CHUNK",
    "FETCHABLE",
    "MIRRORS",
    "TIMEOUT",
    "ConsoleProgress",
    "Fetched",
    "check_file",
    "default_data_dir",
    "fetch_mnist",
]

#: Seconds to wait for a connection, and for each read of the transfer, before trying the next mirror.
TIMEOUT: tuple[float, float] = (10.0, 30.0)
#: Bytes read (and hashed) at a time.
CHUNK = 1 << 16


@dataclass(frozen=True)
class Fetched:
    """One file of a fetch: where it is, `"present"` (kept, verified) or `"downloaded"`, and from where."""

    name: str
    path: Path
    status: str
    url: str | None = None


def default_data_dir(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The folder `symgrad data fetch mnist` downloads to when no `--dir` is given.

    `$SYMGRAD_DATA_DIR/mnist` when set; else the user's cache folder + `symgrad/mnist`:
    `$XDG_CACHE_HOME` (an absolute path, else `~/.cache`) on Linux and other Unix systems,
    `~/Library/Caches` on macOS, `%LOCALAPPDATA%` (else `~\\AppData\\Local`) on Windows.
    `platform` and `environ` default to `sys.platform` and `os.environ`.
    """
    # Hand-written on purpose (a few lines; platformdirs would be a new dependency for one path).
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get("SYMGRAD_DATA_DIR"):
        return Path(env["SYMGRAD_DATA_DIR"]).expanduser() / "mnist"
    home = Path(env.get("USERPROFILE" if plat == "win32" else "HOME") or Path.home())
    if plat == "win32":
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
    elif plat == "darwin":
        base = home / "Library" / "Caches"
    else:  # the XDG base directory spec: a relative $XDG_CACHE_HOME is to be ignored
        xdg = env.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / "symgrad" / "mnist"


def check_file(path: Path, size: int, sha256: str) -> str | None:
    """`None` when `path` has exactly `size` bytes with this sha256; else what is wrong."""
    try:
        found = path.stat().st_size
        if found != size:
            return f"{found} bytes, expected {size}"
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    got = digest.hexdigest()
    return None if got == sha256 else f"sha256 {got[:12]}…, expected {sha256[:12]}…"


# ------------------------------------------------------------------ transport


def _read_timeout(base: type[http.client.HTTPConnection], read: float) -> type[http.client.HTTPConnection]:
    """`base` whose socket, once connected, waits at most `read` seconds for each read.

    `urllib` gives a connection one timeout, for connecting (the connect timeout here) and
    reading alike; a mirror that accepts the connection and then stalls must fail sooner.
    """

    class Connection(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read: float) -> None:
        super().__init__()
        self._connection = _read_timeout(http.client.HTTPConnection, read)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read: float) -> None:
        super().__init__()
        self._connection = _read_timeout(http.client.HTTPSConnection, read)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self._context)


class _MirrorFailed(Exception):
    """This mirror could not give this file (the reason is the message); try the next one.

    Not an OSError: `atomic_open` must pass it on (after removing its temporary file).
    """


def _reason(e: BaseException, timeout: tuple[float, float]) -> str:
    """A mirror's failure in a few words."""
    if isinstance(e, urllib.error.HTTPError):
        e.close()
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        if not isinstance(e.reason, BaseException):
            return str(e.reason)
        e = e.reason
    if isinstance(e, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out (limits: connect {timeout[0]:g} s, read {timeout[1]:g} s)"
    if isinstance(e, http.client.IncompleteRead):
        return f"transfer cut short after {len(e.partial)} bytes"
    if isinstance(e, OSError):
        return e.strerror or str(e) or type(e).__name__
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _stream(
    opener: urllib.request.OpenerDirector, url: str, out: IO[bytes], name: str, size: int, sha256: str,
    timeout: tuple[float, float], progress: Callable[[str, int, int], None] | None,
) -> None:
    """Copy `url` into `out`, hashing as it goes; `_MirrorFailed` unless it is exactly the file."""
    request = urllib.request.Request(url, headers={"User-Agent": "symgrad", "Accept-Encoding": "identity"})
    digest, done = hashlib.sha256(), 0
    try:
        with opener.open(request, timeout=timeout[0]) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) != size:
                raise _MirrorFailed(f"it offers {int(length)} bytes, expected {size}")
            if progress is not None:
                progress(name, 0, size)
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                done += len(block)
                if done > size:
                    raise _MirrorFailed(f"more than the expected {size} bytes")
                digest.update(block)
                out.write(block)
                if progress is not None:
                    progress(name, done, size)
    except _MirrorFailed:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:
        # URLError/HTTPError/timeouts are OSErrors; a cut transfer is an HTTPException (IncompleteRead)
        raise _MirrorFailed(_reason(e, timeout)) from None
    if done != size:
        raise _MirrorFailed(f"transfer cut short after {done} of {size} bytes")
    got = digest.hexdigest()
    if got != sha256:
        raise _MirrorFailed(f"sha256 {got[:12]}… does not match the published {sha256[:12]}…")


# ------------------------------------------------------------------ fetch


def _folder(directory: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The target folder, created if need be, and whether it was created now."""
    root = default_data_dir() if directory is None else Path(os.fspath(directory)).expanduser()
    if root.exists():
        if not root.is_dir():
            raise UsageError(f"{root}: is a file, not a folder for the MNIST files")
        return root, False
    try:
        root.mkdir(parents=True)
    except OSError as e:
        raise UsageError(f"cannot create the folder {root}: {e.strerror or e}") from None
    return root, True


def fetch_mnist(
    directory: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    files: Mapping[str, tuple[int, str]] = MNIST_GZ,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
    timeout: tuple[float, float] = TIMEOUT,
) -> list[Fetched]:
    """Download the MNIST files into `directory` (default `default_data_dir`), each verified.

    `files` maps each file name to its size in bytes and sha256 (default: the four official
    gzip files, `MNIST_GZ`); `mirrors` are base URLs tried in order
    for each file (the one that served the last file is tried first for the next). A file
    already in `directory` with the right size and sha256 is kept and nothing is requested;
    any other is downloaded into a temporary file in `directory` and renamed over the target
    only once its size and sha256 match. `timeout` is (connect, read) in seconds.

    `progress(name, done, total)` is called with the bytes received so far (`done = 0` when
    a transfer starts); `log(message)` with one line per event (a file kept, a mirror
    failing, a file downloaded). `ConsoleProgress` draws both on stderr.

    Returns one `Fetched` per file. When every mirror fails for a file, raises
    `DataError` naming the file and each mirror's reason; the files
    fetched before it stay (they are complete and verified), and no partial file is left.
    """
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    if not mirrors:
        raise UsageError("fetch_mnist: give at least one mirror URL")
    root, created = _folder(directory)
    try:
        return _fetch_all(root, mirrors, files, progress, log, timeout)
    except BaseException:
        if created and not any(root.iterdir()):  # leave no trace of a fetch that got nothing
            root.rmdir()
        raise


def _fetch_all(
    root: Path, mirrors: Sequence[str], files: Mapping[str, tuple[int, str]],
    progress: Callable[[str, int, int], None] | None, log: Callable[[str], None] | None,
    timeout: tuple[float, float],
) -> list[Fetched]:
    say = log or (lambda message: None)
    opener = urllib.request.build_opener(_HTTPHandler(timeout[1]), _HTTPSHandler(timeout[1]))
    order = list(mirrors)
    results: list[Fetched] = []
    for name, (size, sha256) in files.items():
        target = root / name
        if target.exists():
            problem = check_file(target, size, sha256)
            if problem is None:
                say(f"{name}: present, verified ({size:,} bytes)")
                results.append(Fetched(name, target, "present"))
                continue
            say(f"{name}: present but does not verify ({problem}); downloading it again")
        reasons: list[str] = []
        for base in list(order):
            url = base if base.endswith(name) else base.rstrip("/") + "/" + name
            try:
                with atomic_open(target, "wb") as out:
                    _stream(opener, url, out, name, size, sha256, timeout, progress)
            except _MirrorFailed as e:
                reasons.append(f"{base}: {e}")
                say(f"{name}: {base} failed: {e}")
                continue
            order.remove(base)
            order.insert(0, base)
            say(f"{name}: downloaded from {base}, verified ({size:,} bytes, sha256 {sha256[:12]}…)")
            results.append(Fetched(name, target, "downloaded", url))
            break
        else:
            kept = " (the damaged file there is left as it was)" if target.exists() else ""
            raise DataError(f"cannot download {name} into {root}{kept}: every mirror failed: " + "; ".join(reasons))
    return results


class ConsoleProgress:
    """Progress on a terminal: a tqdm bar per file when tqdm is installed (the `progress` extra)
    and `stream` is a terminal, else plain lines, one per file and event.

    Pass the object as `progress` and its `log` as `log` to `fetch_mnist`.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.bar: Any = None
        self._tqdm: Any = None
        if getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm
            except ImportError:  # the bar is an optional extra: plain lines instead
                tqdm = None
            self._tqdm = tqdm

    def __call__(self, name: str, done: int, total: int) -> None:
        if self._tqdm is None:
            return
        if done == 0:
            self.close()
            self.bar = self._tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                                  leave=False, file=self.stream)
        elif self.bar is not None:
            self.bar.update(done - self.bar.n)

    def log(self, message: str) -> None:
        """One line on the stream (the bar, if any, is closed first)."""
        self.close()
        print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
