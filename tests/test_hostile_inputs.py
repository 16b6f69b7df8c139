"""Hostile input files (issue 14, "Bounded memory and time"): a gzip bomb, a zip bomb in a model file,
an endless device or pipe, an IDX header of 255 dimensions — each refused in one short line, quickly,
with memory bounded.

Every run that could blow up is a subprocess under ``resource.setrlimit(RLIMIT_AS, …)`` and a timeout,
so a regression fails the test instead of taking the machine down. Special files are made in
temporary folders (a device with ``mknod`` as root, else a stat that says "device").
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from symgrad.errors import DataError, UsageError
from symgrad.store.data import read_idx
from symgrad.store.model_file import load_model, save_model

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits and special files")

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 1 << 30  # 1 GiB of address space: several times what these runs need, far below what the bombs ask
TIMEOUT = 60


def _limited(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python under the address-space limit; print its peak RSS (VmHWM) last on stderr."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    tail = ("\nimport atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('peak ' + [l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0] + ' kB\\n'))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", tail + code], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=cwd, env=env, preexec_fn=cap)


def _cli(argv: list[str], cwd: Path) -> tuple[int, list[str], int]:
    """``symgrad ARGV`` under the limit: (exit status, the error lines (peak line apart), peak RSS in kB)."""
    res = _limited(f"from symgrad.cli import main\nraise SystemExit(main({argv!r}))\n", cwd)
    lines = res.stderr.splitlines()
    peak = [int(line.split()[1]) for line in lines if line.startswith("peak ")]
    return res.returncode, [line for line in lines if not line.startswith("peak ")], peak[0] if peak else -1


def _idx_header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def _labels(path: Path, n: int) -> Path:
    path.write_bytes(_idx_header(0x08, (n,)) + bytes(n))
    return path


def _gzip_bomb(path: Path, n_images: int, gib: int) -> Path:
    """A .gz whose IDX header says ``n_images`` 28×28 images, followed by ``gib`` GiB of zeros (members repeated:
    a few MB on disk, built in a second)."""
    chunk = 64 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip member
    zeros = co.compress(bytes(chunk)) + co.flush()
    with open(path, "wb") as f:
        f.write(gzip.compress(_idx_header(0x08, (n_images, 28, 28)) + bytes(n_images * 784)))
        for _ in range(gib * (1 << 30) // chunk):
            f.write(zeros)
    return path


def test_a_gzip_bomb_stops_after_what_the_header_promises(tmp_path):
    bomb = _gzip_bomb(tmp_path / "bomb-images.gz", 10, 4)
    assert bomb.stat().st_size < 8 << 20
    _labels(tmp_path / "labels", 10)
    status, err, peak = _cli(["train", "--images", bomb.name, "--labels", "labels", "--sizes", "784,10,10",
                              "--epochs", "1", "--quiet"], tmp_path)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"symgrad train: error: {bomb.name}: trailing data: header says 10×28×28"), err
    assert 0 < peak < 400_000  # kB: the header's 7,840 bytes and a few chunks, not 4 GiB


def test_a_truncated_gzip_and_a_trailing_byte_are_still_named(tmp_path):
    body = _idx_header(0x08, (3,)) + bytes(3)
    (tmp_path / "ok.gz").write_bytes(gzip.compress(body))
    assert read_idx(tmp_path / "ok.gz").shape == (3,)
    (tmp_path / "short.gz").write_bytes(gzip.compress(body[:-1]))
    with pytest.raises(DataError, match=r"short\.gz: truncated: header says 3 = 3 bytes, found 2"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "long.gz").write_bytes(gzip.compress(body + b"\x00"))
    with pytest.raises(DataError, match=r"long\.gz: trailing data"):
        read_idx(tmp_path / "long.gz")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(body)[:-6])
    with pytest.raises(DataError, match=r"cut\.gz: truncated gzip data"):
        read_idx(tmp_path / "cut.gz")


def test_a_plain_file_whose_size_disagrees_with_its_header_is_refused_before_reading(tmp_path):
    p = tmp_path / "big"
    p.write_bytes(_idx_header(0x08, (60000, 28, 28)) + bytes(10))
    with pytest.raises(DataError, match=r"truncated: header says 60000×28×28 = 47,040,000 bytes \(44\.9 MiB\), "
                                         r"found 10"):
        read_idx(p)


def test_a_header_promising_more_than_the_machine_holds_is_refused(tmp_path):
    p = tmp_path / "huge.gz"
    p.write_bytes(gzip.compress(_idx_header(0x0E, (1 << 31, 1 << 31))))
    with pytest.raises(DataError, match=r"header says 2147483648×2147483648 float64 = .*more than this machine's "
                                         "memory"):
        read_idx(p)


def test_an_idx_header_of_255_dimensions_gives_one_short_line(tmp_path):
    p = tmp_path / "dims"
    p.write_bytes(_idx_header(0x08, (0xFFFFFFFF,) * 255))
    assert p.stat().st_size == 1024
    _labels(tmp_path / "labels", 1)
    status, err, _ = _cli(["train", "--images", "dims", "--labels", "labels", "--epochs", "1"], tmp_path)
    assert status == 2 and len(err) == 1, err
    assert len(err[0]) < 250, err[0]
    assert "(255 dimensions)" in err[0] and "about 10^" in err[0]


def _device(path: Path, minor: int) -> str:
    """A character device node in tmp (``mknod``, as root), else code that makes symgrad's stat say so."""
    try:
        os.mknod(path, 0o666 | 0o020000, os.makedev(1, minor))
        return ""
    except (PermissionError, OSError):
        path.write_bytes(b"")
        return ("import os, stat, symgrad.store.data as D\n"
                "real = os.stat\n"
                "class St:\n"
                "    def __init__(s, st): s._st = st; s.st_mode = stat.S_IFCHR | 0o666\n"
                "    def __getattr__(s, n): return getattr(s._st, n)\n"
                f"D.os = type('os', (), {{**{{k: getattr(os, k) for k in dir(os) if not k.startswith('__')}}, "
                f"'stat': staticmethod(lambda p, *a, **k: St(real(p)) if str(p).endswith({path.name!r}) "
                "else real(p, *a, **k))})\n")


def test_dev_zero_as_images_is_refused_at_once(tmp_path):
    zero = tmp_path / "zero"
    patch = _device(zero, 5)  # a twin of /dev/zero, in tmp
    _labels(tmp_path / "labels", 1)
    res = _limited(patch + "from symgrad.cli import main\n"
                   "raise SystemExit(main(['train', '--images', 'zero', '--labels', 'labels']))\n", tmp_path)
    err = [line for line in res.stderr.splitlines() if not line.startswith("peak ")]
    assert res.returncode == 2 and len(err) == 1, res.stderr
    assert err[0] == "symgrad train: error: zero: is a character device, not an IDX file; refusing to read it"


def test_an_endless_pipe_is_read_no_further_than_its_header_promises(tmp_path):
    os.mkfifo(tmp_path / "images")
    code = (
        "import os, struct, sys, threading\n"
        "from symgrad.store.data import read_idx\n"
        "sent = [0]\n"
        "def writer():  # a header for 2 images, then zeros forever\n"
        "    try:\n"
        "        with open('images', 'wb') as f:\n"
        "            f.write(bytes([0, 0, 8, 3]) + struct.pack('>III', 2, 28, 28))\n"
        "            while True:\n"
        "                f.write(bytes(1 << 16)); sent[0] += 1 << 16\n"
        "    except OSError:\n"
        "        pass\n"
        "threading.Thread(target=writer, daemon=True).start()\n"
        "try:\n"
        "    read_idx('images')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e, sent[0] < (64 << 20))\n"
    )
    res = _limited(code, tmp_path)
    assert res.stdout.startswith("DataError images: trailing data: header says 2×28×28"), res.stdout + res.stderr
    assert res.stdout.rstrip().endswith("True")  # less than 64 MiB was ever written to the pipe


def _npz_bomb(path: Path, shape: tuple[int, int], real_mib: int = 64) -> Path:
    """A model file for sizes 3,4,2 whose params/W2 member, deflated, declares ``shape`` (float64) and holds
    ``real_mib`` MiB of zeros: small on disk, gigabytes once read."""
    good = save_model(path.with_name("good.npz"), {"sizes": [3, 4, 2], "activation": "sigmoid", "cost": "quadratic"},
                      {"W2": np.zeros((4, 3)), "b2": np.zeros((4, 1)), "W3": np.zeros((2, 4)), "b3": np.zeros((2, 1))})
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "params/W2.npy":
                dst.writestr(info.filename, src.read(info))
                continue
            with dst.open("params/W2.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f8", "fortran_order": False, "shape": shape})
                block = bytes(1 << 20)
                for _ in range(real_mib):
                    f.write(block)
    return path


def test_a_zip_bomb_in_a_model_file_is_refused_from_its_declared_shape(tmp_path):
    bomb = _npz_bomb(tmp_path / "bomb.npz", (16384, 16384))  # 2 GiB declared
    assert bomb.stat().st_size < 1 << 20
    status, err, peak = _cli(["explain", "--weights", "bomb.npz", "--out", "step.md"], tmp_path)
    assert status == 2 and len(err) == 1, err
    assert err[0].endswith("bomb.npz: parameter 'W2' has shape (16384, 16384), the spec (sizes [3, 4, 2]) "
                           "implies (4, 3)"), err
    assert 0 < peak < 400_000
    assert not (tmp_path / "step.md").exists()


def test_extra_arrays_are_bounded_by_the_parameters(tmp_path):
    spec = {"sizes": [3, 4, 2], "activation": "sigmoid", "cost": "quadratic"}
    params = {"W2": np.zeros((4, 3)), "b2": np.zeros((4, 1)), "W3": np.zeros((2, 4)), "b3": np.zeros((2, 1))}
    ok = save_model(tmp_path / "ok.npz", spec, params, extra={"m": {k: v.copy() for k, v in params.items()}})
    assert load_model(ok, with_extra=True)[2]["m"]["W2"].shape == (4, 3)
    big = save_model(tmp_path / "big.npz", spec, params, extra={"blob": np.zeros(1 << 18)})  # 2 MiB > budget
    with pytest.raises(UsageError, match=r"extra array 'blob' declares shape \(262144,\).*would exceed"):
        load_model(big, with_extra=True)


def test_a_model_file_that_is_a_pipe_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "m.npz")  # opening a FIFO without a writer would block: a subprocess with a timeout
    res = _limited("from symgrad.store.model_file import load_model\n"
                   "try:\n    load_model('m.npz')\nexcept Exception as e:\n    print(type(e).__name__, e)\n", tmp_path)
    assert res.stdout.strip() == "UsageError m.npz: is a FIFO (named pipe), not a symgrad model file; refusing to read it"
