"""Fetching MNIST: against mirrors on a local HTTP server (127.0.0.1), never the network.

The server serves the two t10k files shipped in the package, each mirror (a path prefix) in a
way of its own: good, garbage, truncated, wrong hash, 404, stalled. Every test here runs
behind a guard that refuses any connection or name lookup beyond loopback.
"""

from __future__ import annotations

import hashlib
import http.server
import ipaddress
import socket
import threading
import time
from importlib import resources
from pathlib import Path

import pytest

from symgrad.cli import main as cli_main
from symgrad.errors import DataError, UsageError
from symgrad.store import fetch
from symgrad.store.data import MNIST_GZ, PACKAGED_MNIST, load_mnist
from symgrad.store.fetch import ConsoleProgress, check_file, default_data_dir, fetch_mnist

PACKAGED = {name: resources.files("symgrad.store").joinpath("datasets", "mnist", name).read_bytes()
            for name in PACKAGED_MNIST}
T10K = {name: MNIST_GZ[name] for name in PACKAGED_MNIST}  # the files served: name → (size, sha256)
FAST = (2.0, 0.5)  # (connect, read) timeouts for the tests


# ------------------------------------------------------------------ the loopback guard


def _loopback(host: object) -> bool:
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse every name lookup and connection beyond 127.0.0.1/::1, and any proxy."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    real_connect, real_getaddrinfo, real_create = socket.socket.connect, socket.getaddrinfo, socket.create_connection

    def connect(self, address):
        if not _loopback(address[0] if isinstance(address, tuple) else None):
            raise ConnectionRefusedError(f"test guard: no network beyond loopback ({address!r})")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            raise socket.gaierror(f"test guard: no name lookup beyond loopback ({host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if not _loopback(address[0]):
            raise ConnectionRefusedError(f"test guard: no network beyond loopback ({address!r})")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)


def test_the_guard_refuses_the_network():
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(OSError, match="test guard"):
        socket.getaddrinfo("example.com", 80)
    with socket.socket() as s, pytest.raises(OSError, match="test guard"):
        s.connect(("198.51.100.7", 443))


# ------------------------------------------------------------------ the mirrors


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        mode, _, name = self.path.strip("/").partition("/")
        body = PACKAGED.get(name)
        if mode == "missing" or body is None:
            self.send_error(404, "Not Found")
            return
        if mode == "garbage":  # a 200 with a web page instead of the file
            body = b"<html><body>Moved. Please sign in.</body></html>" * 3
        elif mode == "badhash":  # the right size, one byte changed
            body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "stall":  # headers, then nothing: the read timeout must fire
            server.release.wait(10)
            return
        if mode == "truncated":  # promises all the bytes, sends a third, hangs up
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        for i in range(0, len(body), 1 << 16):
            self.wfile.write(body[i : i + (1 << 16)])


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.requests = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = lambda mode: f"http://127.0.0.1:{httpd.server_address[1]}/{mode}/"
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def verified(path: Path) -> bool:
    return check_file(path, *MNIST_GZ[path.name]) is None


# ------------------------------------------------------------------ fetch_mnist


def test_success_then_loads(server, tmp_path):
    events = []
    got = fetch_mnist(tmp_path / "a" / "b", mirrors=[server.url("good")], files=T10K, timeout=FAST,
                      progress=lambda name, done, total: events.append((name, done, total)))
    folder = tmp_path / "a" / "b"
    assert files_in(folder) == sorted(T10K)
    assert [f.status for f in got] == ["downloaded", "downloaded"]
    assert all(verified(f.path) for f in got)
    assert got[0].url == server.url("good") + PACKAGED_MNIST[0]
    images = PACKAGED_MNIST[0]
    assert events[0] == (images, 0, T10K[images][0]) and events[-1][1] == events[-1][2]
    assert [e[1] for e in events if e[0] == images] == sorted(e[1] for e in events if e[0] == images)
    assert (folder / images).read_bytes() == PACKAGED[images]


def test_garbage_on_the_first_mirror_then_a_good_one(server, tmp_path):
    lines = []
    got = fetch_mnist(tmp_path, mirrors=[server.url("garbage"), server.url("good")], files=T10K,
                      timeout=FAST, log=lines.append)
    assert [f.url.split("/")[3] for f in got] == ["good", "good"]
    assert all(verified(f.path) for f in got) and files_in(tmp_path) == sorted(T10K)
    assert any("garbage" in line and "failed" in line and "expected 1648877" in line for line in lines)
    # the mirror that served the first file is asked first for the next
    assert server.requests == [f"/garbage/{PACKAGED_MNIST[0]}", f"/good/{PACKAGED_MNIST[0]}",
                               f"/good/{PACKAGED_MNIST[1]}"]


@pytest.mark.parametrize("bad, reason", [
    ("truncated", "cut short"),
    ("missing", "HTTP 404"),
    ("stall", "timed out"),
    ("badhash", "sha256"),
])
def test_a_failing_mirror_moves_on(server, tmp_path, bad, reason):
    lines = []
    start = time.perf_counter()
    got = fetch_mnist(tmp_path, mirrors=[server.url(bad), server.url("good")], files=T10K, timeout=FAST,
                      log=lines.append)
    assert time.perf_counter() - start < 8  # a stalled mirror costs the read timeout, not forever
    assert all(verified(f.path) for f in got) and files_in(tmp_path) == sorted(T10K)
    failed = [line for line in lines if f"/{bad}/ failed" in line]
    assert failed and reason in failed[0], lines


def test_every_mirror_wrong_is_one_error_and_no_file(server, tmp_path):
    mirrors = [server.url("badhash"), server.url("garbage"), server.url("missing"), server.url("truncated")]
    with pytest.raises(DataError) as e:
        fetch_mnist(tmp_path, mirrors=mirrors, files=T10K, timeout=FAST)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"cannot download {PACKAGED_MNIST[0]} into {tmp_path}")
    for url, reason in zip(mirrors, ["sha256", "expected 1648877", "HTTP 404", "cut short"]):
        assert f"{url}: " in msg and reason in msg.split(f"{url}: ")[1].split(";")[0], msg
    assert files_in(tmp_path) == []  # no partial file, no temporary file


def test_a_present_good_file_is_kept_without_a_request(server, tmp_path):
    images, labels = PACKAGED_MNIST
    (tmp_path / images).write_bytes(PACKAGED[images])
    before = (tmp_path / images).stat().st_mtime_ns
    got = fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, timeout=FAST)
    assert [(f.name, f.status) for f in got] == [(images, "present"), (labels, "downloaded")]
    assert server.requests == [f"/good/{labels}"]
    assert (tmp_path / images).stat().st_mtime_ns == before
    assert fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K)[1].status == "present"
    assert len(server.requests) == 1


@pytest.mark.parametrize("damage", [
    lambda b: b[: len(b) // 2],  # truncated: a download cut short by some other tool
    lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # the right size, one bit flipped
])
def test_a_present_damaged_file_is_downloaded_again(server, tmp_path, damage):
    images = PACKAGED_MNIST[0]
    (tmp_path / images).write_bytes(damage(PACKAGED[images]))
    lines = []
    got = fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, timeout=FAST, log=lines.append)
    assert got[0].status == "downloaded" and verified(tmp_path / images)
    assert any("does not verify" in line for line in lines)
    assert files_in(tmp_path) == sorted(T10K)


def test_a_damaged_file_that_cannot_be_replaced_is_named(server, tmp_path):
    images = PACKAGED_MNIST[0]
    (tmp_path / images).write_bytes(b"junk")
    with pytest.raises(DataError, match="damaged file there is left as it was"):
        fetch_mnist(tmp_path, mirrors=[server.url("missing")], files=T10K, timeout=FAST)
    assert files_in(tmp_path) == [images] and (tmp_path / images).read_bytes() == b"junk"


def test_ctrl_c_mid_download_leaves_nothing(server, tmp_path):
    def progress(name, done, total):
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, timeout=FAST, progress=progress)
    assert files_in(tmp_path) == []


def test_ctrl_c_keeps_the_old_file(server, tmp_path):
    images = PACKAGED_MNIST[0]
    (tmp_path / images).write_bytes(b"an old, damaged copy")

    def progress(name, done, total):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, timeout=FAST, progress=progress)
    assert files_in(tmp_path) == [images] and (tmp_path / images).read_bytes() == b"an old, damaged copy"


def test_unreachable_mirrors(tmp_path):
    # the public mirrors, behind the guard: each fails (fast, without the network) and is named
    with pytest.raises(DataError) as e:
        fetch_mnist(tmp_path, files=T10K, timeout=FAST)
    for url in fetch.MIRRORS:
        assert url in str(e.value)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="refused"):
        fetch_mnist(tmp_path / "new" / "mnist", mirrors=[f"http://127.0.0.1:{port}/"], files=T10K, timeout=FAST)
    assert files_in(tmp_path) == ["new"] and files_in(tmp_path / "new") == []  # the folder it made is gone


def test_bad_arguments(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        fetch_mnist(tmp_path / "file", files=T10K)
    with pytest.raises(UsageError, match="at least one mirror"):
        fetch_mnist(tmp_path, mirrors=[], files=T10K)


def test_default_data_dir_follows_the_platform(tmp_path):
    home = str(tmp_path)
    linux = default_data_dir("linux", {"HOME": home})
    assert linux == tmp_path / ".cache" / "symgrad" / "mnist"
    assert default_data_dir("linux", {"HOME": home, "XDG_CACHE_HOME": "/var/cache/me"}) == Path(
        "/var/cache/me/symgrad/mnist")
    assert default_data_dir("linux", {"HOME": home, "XDG_CACHE_HOME": "relative"}) == linux  # XDG: ignored
    assert default_data_dir("darwin", {"HOME": home}) == tmp_path / "Library" / "Caches" / "symgrad" / "mnist"
    assert default_data_dir("win32", {"USERPROFILE": home, "LOCALAPPDATA": "C:/Users/me/AppData/Local"}) == Path(
        "C:/Users/me/AppData/Local/symgrad/mnist")
    assert default_data_dir("win32", {"USERPROFILE": home}) == tmp_path / "AppData" / "Local" / "symgrad" / "mnist"
    assert default_data_dir("linux", {"HOME": home, "SYMGRAD_DATA_DIR": "/data"}) == Path("/data/mnist")
    assert default_data_dir("win32", {"SYMGRAD_DATA_DIR": "D:/data"}) == Path("D:/data/mnist")


def test_console_progress_without_a_terminal_prints_lines(server, tmp_path, capsys):
    import io

    stream = io.StringIO()
    console = ConsoleProgress(stream)
    fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, progress=console, log=console.log)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all("downloaded from" in line and "verified" in line for line in lines)


# ------------------------------------------------------------------ the command line


@pytest.fixture
def t10k_only(monkeypatch):
    """``symgrad data fetch mnist`` asks for the two files the loopback server has."""
    monkeypatch.setitem(fetch.FETCHABLE, "mnist", T10K)


def test_cli_fetch_then_list(server, tmp_path, capsys, t10k_only):
    folder = tmp_path / "my mnist"
    assert cli_main(["data", "fetch", "mnist", "--dir", str(folder), "--mirror", server.url("missing"),
                     "--mirror", server.url("good")]) == 0
    out, err = capsys.readouterr()
    assert f"next: symgrad train --mnist '{folder}'" in out
    assert "2 downloaded" in out and "HTTP 404" in err
    assert files_in(folder) == sorted(T10K)
    assert cli_main(["data", "fetch", "mnist", "--dir", str(folder), "--quiet", "--mirror", server.url("good")]) == 0
    out, err = capsys.readouterr()
    assert "0 downloaded, 2 already there" in out and err == ""
    assert cli_main(["data", "list", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "10,000 digits" in out
    assert out.count("verified") == 2 and out.count("missing") == 2


def test_cli_fetch_default_folder_follows_symgrad_data_dir(server, tmp_path, capsys, t10k_only, monkeypatch):
    monkeypatch.setenv("SYMGRAD_DATA_DIR", str(tmp_path))
    assert cli_main(["data", "fetch", "mnist", "--quiet", "--mirror", server.url("good")]) == 0
    assert files_in(tmp_path / "mnist") == sorted(T10K)
    assert f"{tmp_path / 'mnist'}" in capsys.readouterr().out


def test_cli_fetch_failure_is_one_line(server, tmp_path, capsys, t10k_only):
    status = cli_main(["data", "fetch", "mnist", "--dir", str(tmp_path), "--quiet",
                       "--mirror", server.url("missing"), "--mirror", server.url("garbage")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("symgrad data: error: cannot download")
    assert "HTTP 404" in err[0] and "garbage" in err[0]
    assert files_in(tmp_path) == []


def test_cli_fetch_ctrl_c(server, tmp_path, capsys, t10k_only, monkeypatch):
    def interrupt(self, name, done, total):
        if done:
            raise KeyboardInterrupt

    monkeypatch.setattr(ConsoleProgress, "__call__", interrupt)
    assert cli_main(["data", "fetch", "mnist", "--dir", str(tmp_path), "--mirror", server.url("good")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("argv, culprit", [
    (["data"], "give an action: fetch or list"),
    (["data", "fetch"], "name"),
    (["data", "fetch", "cifar"], "invalid choice: 'cifar'"),
])
def test_cli_data_usage_errors(argv, culprit, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and culprit in err[0]


def test_load_mnist_missing_files_says_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match=f"symgrad data fetch mnist --dir {tmp_path}"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="symgrad data fetch mnist"):
        load_mnist(tmp_path / "absent")


def test_packaged_files_are_the_pinned_ones():
    for name, raw in PACKAGED.items():
        size, sha = MNIST_GZ[name]
        assert len(raw) == size and hashlib.sha256(raw).hexdigest() == sha
    readme = resources.files("symgrad.store").joinpath("datasets", "mnist", "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and all(sha in readme for _, sha in T10K.values())


def test_console_progress_on_a_terminal_draws_a_bar(server, tmp_path):
    import io

    pytest.importorskip("tqdm", reason="the progress bar needs the progress extra (tqdm)")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    console = ConsoleProgress(stream)
    fetch_mnist(tmp_path, mirrors=[server.url("good")], files=T10K, progress=console, log=console.log)
    console.close()
    text = stream.getvalue()
    assert "t10k-images-idx3-ubyte.gz" in text and "1.57M" in text  # tqdm's bar: 1,648,877 B = 1.57 MiB
    assert text.count("downloaded from") == 2
