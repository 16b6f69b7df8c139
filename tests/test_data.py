"""Data: IDX files (the real MNIST test set and hostile small ones), arrays, generated sets."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from symgrad.errors import DataError, UsageError
from symgrad.store.data import (
    DATASETS,
    HOLDOUT,
    MNIST_GZ,
    as_arrays,
    check_finite,
    dataset,
    find_mnist,
    load_idx,
    load_mnist,
    one_hot,
    packaged_mnist,
    read_idx,
    split,
    to_columns,
)

#: The real MNIST test set shipped in the package, and its published sha256 sums (written out
#: here, not taken from the package, so that a changed table in the package fails this test).
PACKAGED = resources.files("symgrad.store").joinpath("datasets", "mnist")
SHA256 = {
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# The published class counts of the MNIST test set.
T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file's bytes for ``arr`` (big-endian header, then the data)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return header + np.asarray(arr).astype(dtype).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def small(n: int = 5, rows: int = 3, cols: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # the full pixel range occurs
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def small_files(tmp_path: Path, gz: bool = False, n: int = 5) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    images, labels = small(n)
    ip = write(tmp_path / "imgs", idx_bytes(images), gz)
    lp = write(tmp_path / "labs", idx_bytes(labels), gz)
    return ip, lp, images, labels


# ----------------------------------------------------------------- the real MNIST test set


@pytest.fixture(scope="module")
def mnist_files() -> Iterator[tuple[Path, Path]]:
    with resources.as_file(PACKAGED) as folder:
        images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
        assert images.is_file() and labels.is_file(), f"the MNIST test set is expected in {folder}"
        yield images, labels


def test_mnist_files_are_the_published_ones(mnist_files):
    for path in mnist_files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[path.name]
    assert MNIST_GZ["t10k-images-idx3-ubyte.gz"] == (1648877, SHA256["t10k-images-idx3-ubyte.gz"])
    assert MNIST_GZ["t10k-labels-idx1-ubyte.gz"] == (4542, SHA256["t10k-labels-idx1-ubyte.gz"])


def test_packaged_mnist_is_the_test_set(mnist_files):
    X, labels = packaged_mnist()
    Xf, yf = load_idx(*mnist_files)
    np.testing.assert_array_equal(X, Xf)
    np.testing.assert_array_equal(labels, yf)
    assert X.shape == (10000, 784) and labels.tolist()[:3] == [7, 2, 1]
    assert packaged_mnist(dtype=np.float32)[0].dtype == np.float32


def test_dataset_mnist(mnist_files):
    X, labels = dataset("mnist")
    assert X.shape == (10000, 784) and X.dtype == np.float64 and labels.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(labels).tolist() == T10K_COUNTS
    X5, y5 = dataset("mnist", n=5, seed=123)  # the first n; the seed changes nothing
    np.testing.assert_array_equal(X5, X[:5])
    np.testing.assert_array_equal(y5, labels[:5])
    np.testing.assert_array_equal(dataset("mnist", seed=9)[0], X)
    assert HOLDOUT["mnist"] == 2000 and DATASETS["mnist"] == (10000, 10)
    with pytest.raises(UsageError, match="at most 10000 .* symgrad data fetch mnist"):
        dataset("mnist", n=10001)
    with pytest.raises(UsageError, match="n must be"):
        dataset("mnist", n=0)


@pytest.mark.parametrize("damage, what", [
    (lambda b: b[:-10], "truncated"),
    (lambda b: b[:500] + bytes([b[500] ^ 0x40]) + b[501:], "one bit flipped"),
    (lambda b: b"", "empty"),
])
@pytest.mark.parametrize("which", [0, 1])
def test_packaged_mnist_checks_the_sha256(mnist_files, tmp_path, damage, what, which):
    for path in mnist_files:
        shutil.copyfile(path, tmp_path / path.name)
    name = mnist_files[which].name
    bad = tmp_path / name
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(DataError) as e:
        packaged_mnist(folder=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{bad}: sha256 {hashlib.sha256(bad.read_bytes()).hexdigest()}")
    assert SHA256[name] in msg and "damaged or altered" in msg, what
    np.testing.assert_array_equal(packaged_mnist(folder=mnist_files[0].parent)[1][:3], [7, 2, 1])


def test_packaged_mnist_missing_file(mnist_files, tmp_path):
    shutil.copyfile(mnist_files[0], tmp_path / mnist_files[0].name)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: no such file"):
        packaged_mnist(folder=tmp_path)


def test_real_mnist_test_set(mnist_files):
    X, labels = load_idx(*mnist_files)
    assert X.shape == (10000, 784) and X.dtype == np.float64
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == T10K_COUNTS
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    raw = read_idx(mnist_files[0])
    assert raw.shape == (10000, 28, 28) and raw.dtype == np.uint8
    np.testing.assert_array_equal(X[123], raw[123].reshape(-1) / 255.0)
    # The project's convention: 8,000 to train, the last 2,000 held out.
    (Xt, yt), (Xh, yh) = split(X, labels, 2000)
    assert Xt.shape == (8000, 784) and Xh.shape == (2000, 784)
    np.testing.assert_array_equal(yh, labels[8000:])


def test_real_mnist_plain_equals_gzip(mnist_files, tmp_path):
    plain = []
    for path in mnist_files:
        target = tmp_path / path.name.removesuffix(".gz")
        with gzip.open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        plain.append(target)
    Xg, yg = load_idx(*mnist_files)
    Xp, yp = load_idx(*plain)
    np.testing.assert_array_equal(Xg, Xp)
    np.testing.assert_array_equal(yg, yp)


def test_real_mnist_float32(mnist_files):
    X, _ = load_idx(*mnist_files, dtype=np.float32)
    assert X.dtype == np.float32 and X.max() == 1.0


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_small_files_round_trip_plain_and_gzip(tmp_path, gz):
    ip, lp, images, labels = small_files(tmp_path, gz)
    X, y = load_idx(ip, lp)
    assert X.shape == (5, 6) and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(5, 6) / 255.0)
    np.testing.assert_array_equal(y, labels)


def test_gzip_detected_by_magic_not_name(tmp_path):
    images, _ = small()
    misleading = write(tmp_path / "images.gz", idx_bytes(images))  # plain, despite .gz
    hidden = write(tmp_path / "images.idx", idx_bytes(images), gz=True)  # gzip, without .gz
    np.testing.assert_array_equal(read_idx(misleading), images)
    np.testing.assert_array_equal(read_idx(hidden), images)


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_every_idx_type(tmp_path, code):
    arr = np.arange(-3, 9).reshape(3, 4) if code != 0x08 else np.arange(12).reshape(3, 4)
    got = read_idx(write(tmp_path / "a", idx_bytes(arr, code)))
    np.testing.assert_array_equal(got, arr)
    assert got.dtype.isnative and got.flags.writeable


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    images, _ = small(n=4, rows=5, cols=6)
    data = idx_bytes(images)[:-7]
    path = write(tmp_path / "t10k-images.gz", data, gz)
    with pytest.raises(DataError) as e:
        read_idx(path)
    msg = str(e.value)
    assert "t10k-images.gz" in msg and "truncated" in msg
    assert "4×5×6 = 120 bytes" in msg and "found 113" in msg


def test_truncated_header(tmp_path):
    path = write(tmp_path / "head", bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(DataError, match=r"head: truncated header.*16 header bytes, found 8"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    images, _ = small()
    blob = gzip.compress(idx_bytes(images))
    path = write(tmp_path / "cut.gz", blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"cut\.gz: truncated gzip"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    images, _ = small()
    path = write(tmp_path / "trail", idx_bytes(images) + b"\x00\x01\x02")
    with pytest.raises(DataError, match=r"trail: 3 trailing bytes: header says 5×3×2 = 30 bytes, found 33"):
        read_idx(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not an IDX file: 0 bytes"),
        (b"\x00\x00", "not an IDX file: 2 bytes"),
        (
            b"label,pixel0,pixel1\n7,0,255\n",
            "not an IDX file: the magic number must start with two zero bytes",
        ),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown type code 0x07"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
    ],
)
def test_not_idx(tmp_path, content, match):
    path = write(tmp_path / "data.csv", content)
    with pytest.raises(DataError, match=match) as e:
        read_idx(path)
    assert "data.csv" in str(e.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="nope: no such file"):
        read_idx(tmp_path / "nope")
    with pytest.raises(DataError, match="is a directory"):
        read_idx(tmp_path)


def test_data_error_is_a_usage_error():
    assert issubclass(DataError, UsageError)


# --------------------------------------------------------------------------- load_idx


def test_wrong_magic_images_and_labels_swapped(tmp_path):
    ip, lp, _, _ = small_files(tmp_path)
    with pytest.raises(DataError) as e:
        load_idx(lp, ip)
    msg = str(e.value)
    assert msg.startswith(str(lp)) and "magic number 2049" in msg and "expected 2051" in msg


def test_wrong_magic_labels(tmp_path):
    ip, _, images, _ = small_files(tmp_path)
    bad = write(tmp_path / "labels-2d", idx_bytes(np.zeros((5, 1), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"labels-2d: magic number 2050 .* expected 2049"):
        load_idx(ip, bad)
    ints = write(tmp_path / "labels-int32", idx_bytes(np.zeros(5, dtype=np.int32), 0x0C))
    with pytest.raises(DataError, match=r"labels-int32: magic number 3073 .*int32.* expected 2049"):
        load_idx(ip, ints)


def test_count_mismatch_names_both_files(tmp_path):
    images, labels = small(n=5)
    ip = write(tmp_path / "train-images", idx_bytes(images))
    lp = write(tmp_path / "train-labels", idx_bytes(labels[:4]))
    with pytest.raises(DataError) as e:
        load_idx(ip, lp)
    msg = str(e.value)
    assert "train-images" in msg and "train-labels" in msg and "5 images" in msg and "4 labels" in msg


def test_labels_out_of_range(tmp_path):
    ip, _, _, labels = small_files(tmp_path)
    labels = labels.copy()
    labels[3] = 11
    lp = write(tmp_path / "bad-labels", idx_bytes(labels))
    with pytest.raises(DataError, match=r"bad-labels: label 11 at index 3 is out of range 0\.\.9"):
        load_idx(ip, lp)
    X, y = load_idx(ip, lp, max_label=11)
    assert y[3] == 11


def test_empty_images_file(tmp_path):
    ip = write(tmp_path / "imgs", idx_bytes(np.zeros((0, 2, 2), dtype=np.uint8)))
    lp = write(tmp_path / "labs", idx_bytes(np.zeros(0, dtype=np.uint8)))
    with pytest.raises(DataError, match="no examples"):
        load_idx(ip, lp)


# --------------------------------------------------------------------------- load_mnist


def make_mnist_folder(
    folder: Path, gz_names: set[str] = frozenset()
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(exist_ok=True)
    made = {}
    for split_, (iname, lname, n, seed) in {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 7, 1),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 3, 2),
    }.items():
        images, labels = small(n=n, rows=4, cols=4, seed=seed)
        for name, arr in ((iname, images), (lname, labels)):
            gz = name in gz_names
            write(folder / (name + (".gz" if gz else "")), idx_bytes(arr), gz)
        made[split_] = (images, labels)
    return made


@pytest.mark.parametrize("gz_names", [set(), {"train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}])
def test_load_mnist_folder(tmp_path, gz_names):
    made = make_mnist_folder(tmp_path / "mnist", gz_names)
    data = load_mnist(tmp_path / "mnist")
    assert set(data) == {"train", "test"}
    for split_, (images, labels) in made.items():
        X, y = data[split_]
        assert X.shape == (images.shape[0], 16)
        np.testing.assert_array_equal(X, images.reshape(-1, 16) / 255.0)
        np.testing.assert_array_equal(y, labels)


def test_load_mnist_finds_the_dotted_spelling(tmp_path):
    made = make_mnist_folder(tmp_path / "mnist", {"t10k-images-idx3-ubyte"})
    folder = tmp_path / "mnist"
    (folder / "train-images-idx3-ubyte").rename(folder / "train-images.idx3-ubyte")
    (folder / "t10k-images-idx3-ubyte.gz").rename(folder / "t10k-images.idx3-ubyte.gz")
    data = load_mnist(folder)
    np.testing.assert_array_equal(data["train"][0], made["train"][0].reshape(-1, 16) / 255.0)
    np.testing.assert_array_equal(data["test"][0], made["test"][0].reshape(-1, 16) / 255.0)
    found = find_mnist(folder)
    assert found["train-images-idx3-ubyte"] == folder / "train-images.idx3-ubyte"
    assert found["t10k-images-idx3-ubyte"] == folder / "t10k-images.idx3-ubyte.gz"
    assert found["train-labels-idx1-ubyte"] == folder / "train-labels-idx1-ubyte"


def test_load_mnist_missing_file_lists_what_was_looked_for(tmp_path):
    make_mnist_folder(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path / "mnist")
    msg = str(e.value)
    assert "missing MNIST file(s) t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images.idx3-ubyte" in msg and msg.endswith(f"symgrad data fetch mnist --dir {tmp_path / 'mnist'}")
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert name in msg


def test_load_mnist_no_folder(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_mnist(tmp_path / "absent")


def test_load_mnist_reports_the_bad_file(tmp_path):
    make_mnist_folder(tmp_path / "mnist")
    bad = tmp_path / "mnist" / "train-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(DataError, match="train-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path / "mnist")


# --------------------------------------------------------------------------- one_hot


def test_one_hot_columns_are_examples():
    y = one_hot([2, 0, 1, 2], 3)
    assert y.shape == (3, 4) and y.dtype == np.float64
    np.testing.assert_array_equal(y, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    assert one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize(
    "labels, match", [([0, 3, 1], "label 3 at index 1"), ([0, 1, -1], "label -1 at index 2")]
)
def test_one_hot_out_of_range(labels, match):
    with pytest.raises(DataError, match=match):
        one_hot(labels, 3)


def test_one_hot_bad_input():
    with pytest.raises(DataError, match=r"label 1\.5 at index 1 is not a whole number"):
        one_hot([0.0, 1.5], 3)
    with pytest.raises(DataError, match="1-D"):
        one_hot([[0, 1]], 3)
    with pytest.raises(UsageError, match="k must be"):
        one_hot([0], 0)
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0]), 2), [[0, 1], [1, 0]])


# ------------------------------------------------------------ arrays passed directly


def test_as_arrays_accepts_lists_and_images():
    X, y = as_arrays([[0, 1], [1, 0]], [1, 1])
    assert X.dtype == np.float64 and X.shape == (2, 2) and y.dtype == np.int64
    X, y = as_arrays(np.zeros((4, 3, 3), dtype=np.uint8), np.arange(4), n_inputs=9, n_classes=4)
    assert X.shape == (4, 9)
    assert to_columns(X).shape == (9, 4) and to_columns(X).flags.c_contiguous


def test_as_arrays_rejects_bad_arrays():
    with pytest.raises(DataError, match=r"3 examples \(rows\) but labels has 2"):
        as_arrays(np.zeros((3, 2)), [0, 1])
    with pytest.raises(
        DataError, match=r"examples have 2 features \(shape \(3, 2\)\), the network's input layer has 784"
    ):
        as_arrays(np.zeros((3, 2)), [0, 1, 0], n_inputs=784)
    with pytest.raises(DataError, match=r"X: NaN at index \(1, 0\)"):
        as_arrays([[0.0, 1.0], [np.nan, 1.0]], [0, 1])
    with pytest.raises(DataError, match=r"label 5 at index 0 is out of range 0\.\.1"):
        as_arrays(np.zeros((1, 2)), [5], n_classes=2)
    with pytest.raises(DataError, match="reshape"):
        as_arrays(np.zeros(3), [0, 1, 0])
    with pytest.raises(DataError, match="dtype"):
        as_arrays(np.array([["a", "b"]]), [0])


def test_check_finite():
    a = np.ones((3, 4))
    assert check_finite("X", a) is a
    assert check_finite("labels", np.arange(3)).shape == (3,)
    a[2, 1] = np.inf
    with pytest.raises(DataError, match=r"^weights: \+Inf at index \(2, 1\)$"):
        check_finite("weights", a)
    a[0, 3] = np.nan
    with pytest.raises(DataError, match=r"^weights: NaN at index \(0, 3\) \(2 non-finite values in all\)$"):
        check_finite("weights", a)
    with pytest.raises(DataError, match=r"^y: -Inf at index 1$"):
        check_finite("y", [0.0, -np.inf])


# --------------------------------------------------------------------------- split


def test_split_holds_out_the_last_examples():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    (Xt, yt), (Xh, yh) = split(X, y, 3)
    np.testing.assert_array_equal(yt, np.arange(7))
    np.testing.assert_array_equal(yh, [7, 8, 9])
    np.testing.assert_array_equal(Xh, X[7:])
    (Xt, yt), (Xh, yh) = split(X, y, 0)
    assert len(yt) == 10 and len(yh) == 0


@pytest.mark.parametrize(
    "holdout, exc", [(10, UsageError), (11, UsageError), (-1, UsageError), (2.5, UsageError)]
)
def test_split_validates_holdout(holdout, exc):
    with pytest.raises(exc, match="holdout"):
        split(np.zeros((10, 2)), np.zeros(10), holdout)


def test_split_length_mismatch():
    with pytest.raises(DataError, match="10 examples .* labels has 9"):
        split(np.zeros((10, 2)), np.zeros(9), 2)


# ------------------------------------------------------------------ generated datasets


def test_xor_is_the_four_points():
    X, y = dataset("xor")
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_noisy_xor_keeps_its_labels():
    X, y = dataset("xor", n=400, seed=3)
    assert X.shape == (400, 2) and np.bincount(y).tolist() == [200, 200]
    corner = np.round(X).astype(int)  # noise σ = 0.1 ≪ 0.5
    np.testing.assert_array_equal(y, corner[:, 0] ^ corner[:, 1])


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "mnist"])  # mnist: test_dataset_mnist
def test_datasets_deterministic_for_a_seed(name):
    X1, y1 = dataset(name, seed=7)
    X2, y2 = dataset(name, seed=7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert X1.dtype == np.float64 and y1.dtype == np.int64 and X1.ndim == 2
    n_default, k = DATASETS[name]
    assert X1.shape[0] == n_default and set(y1.tolist()) == set(range(k))
    if name != "xor":
        X3, _ = dataset(name, seed=8)
        assert not np.array_equal(X1, X3)
        Xn, yn = dataset(name, n=50, seed=7)
        assert Xn.shape == (50, 2) and yn.shape == (50,)


def test_spirals_interleave():
    X, y = dataset("spirals", n=400, seed=0)
    assert np.abs(X).max() < 1.2
    r = np.hypot(X[:, 0], X[:, 1])
    # Two arms turned by π: at the same radius the classes sit on opposite sides.
    a0, a1 = X[(y == 0) & (np.abs(r - 0.5) < 0.05)], X[(y == 1) & (np.abs(r - 0.5) < 0.05)]
    assert len(a0) and len(a1)
    assert np.allclose(a0.mean(axis=0), -a1.mean(axis=0), atol=0.1)


def test_unknown_dataset_and_bad_n():
    with pytest.raises(UsageError, match="unknown dataset 'moons'; choose one of xor, spirals, blobs, mnist"):
        dataset("moons")
    with pytest.raises(UsageError, match="n must be"):
        dataset("spirals", n=0)
    with pytest.raises(UsageError, match="n must be"):
        dataset("xor", n=2.5)


def test_a_wheel_carries_the_packaged_files():
    """pyproject.toml declares the data files as package data (an sdist/wheel install has them too)."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["symgrad.store"]
    folder = root / "symgrad" / "store" / "datasets" / "mnist"
    shipped = sorted(p.name for p in folder.iterdir())
    assert shipped == ["README.md", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for name in shipped:
        assert any(fnmatch.fnmatch(f"datasets/mnist/{name}", g) for g in globs), name
