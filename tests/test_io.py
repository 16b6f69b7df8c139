"""Saving and loading models without pickle, atomically; hostile and tampered files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import symgrad.store.model_file as sio
from symgrad import init_params, mlp
from symgrad.errors import UsageError
from symgrad.networks import param_shapes
from symgrad.store.files import atomic_open, atomic_write_bytes, atomic_write_text
from symgrad.store.model_file import load_checkpoint, load_model, save_model

SPEC = {"sizes": [3, 4, 2], "activation": "sigmoid", "cost": "quadratic"}


def params_for(sizes=(3, 4, 2), dtype=np.float64, seed=0):
    return init_params(list(sizes), "normal", seed, dtype)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def archive(path: Path, arrays: dict[str, np.ndarray], allow_pickle: bool = False) -> Path:
    """Write an .npz by hand (how a tampered or foreign file is made)."""
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=allow_pickle, **arrays)
    return path


def header(**changes) -> np.ndarray:
    h = {
        "format": "symgrad-model",
        "version": 1,
        "spec": dict(SPEC),
        "params": ["W2", "b2", "W3", "b3"],
        "extra": {},
        "extra_arrays": [],
    }
    h.update(changes)
    return np.frombuffer(json.dumps(h).encode(), dtype=np.uint8)


def good_arrays(**changes) -> dict[str, np.ndarray]:
    arrays = {"symgrad": header(), **{f"params/{k}": v for k, v in params_for().items()}}
    arrays.update(changes)
    return arrays


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip(tmp_path, dtype):
    params = params_for(dtype=dtype)
    path = save_model(tmp_path / "model.npz", SPEC, params)
    assert path == tmp_path / "model.npz" and leftovers(tmp_path) == []
    spec, loaded = load_model(path)
    assert spec == {**SPEC, "output": "sigmoid", "level": "layer", "weight_decay": None}
    assert list(loaded) == ["W2", "b2", "W3", "b3"]
    for key, value in params.items():
        assert loaded[key].dtype == dtype
        np.testing.assert_array_equal(loaded[key], value)


def test_file_loads_with_plain_numpy_and_no_pickle(tmp_path):
    save_model(tmp_path / "m.npz", SPEC, params_for())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["params/W2", "params/W3", "params/b2", "params/b3", "symgrad"]
        meta = json.loads(z["symgrad"].tobytes())
    assert meta["format"] == "symgrad-model" and meta["version"] == 1


def test_network_spec_round_trip_rebuilds_the_network(tmp_path):
    net = mlp([2, 3, 3], "tanh", "log_likelihood", level="layer", weight_decay=0.01, seed=4)
    save_model(tmp_path / "net.npz", net.spec(), net.params())
    spec, params = load_model(tmp_path / "net.npz")
    assert spec == net.spec()
    again = mlp(**spec, params=params)
    for key, value in net.params().items():
        np.testing.assert_array_equal(again.params()[key], value)


def test_bias_vector_is_stored_as_a_column(tmp_path):
    params = params_for()
    params["b2"] = params["b2"].ravel()
    save_model(tmp_path / "m.npz", SPEC, params)
    assert load_model(tmp_path / "m.npz")[1]["b2"].shape == (4, 1)


def test_no_suffix_is_added(tmp_path):
    save_model(tmp_path / "model", SPEC, params_for())
    assert (tmp_path / "model").is_file() and not (tmp_path / "model.npz").exists()
    load_model(tmp_path / "model")


def test_checkpoint_extra_round_trip(tmp_path):
    params = params_for()
    rng = np.random.default_rng(11)
    rng.standard_normal(5)
    extra = {
        "epoch": 7,
        "lr": np.float64(0.5),
        "rng": rng.bit_generator.state,
        "history": [{"epoch": 1, "cost": 0.25}],
        "m": {k: v * 0.1 for k, v in params.items()},
        "v": {k: np.full_like(v, 2.0, dtype=np.float32) for k, v in params.items()},
        "order": np.arange(10),
    }
    save_model(tmp_path / "ckpt.npz", SPEC, params, extra=extra)
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as z:
        assert "extra/m/W2" in z.files and "extra/order" in z.files
    spec, loaded, back = load_checkpoint(tmp_path / "ckpt.npz")
    assert back["epoch"] == 7 and back["lr"] == 0.5 and back["history"] == [{"epoch": 1, "cost": 0.25}]
    np.testing.assert_array_equal(back["order"], np.arange(10))
    for k in params:
        np.testing.assert_array_equal(back["m"][k], params[k] * 0.1)
        assert back["v"][k].dtype == np.float32
    restored = np.random.default_rng()
    restored.bit_generator.state = back["rng"]
    np.testing.assert_array_equal(restored.standard_normal(4), rng.standard_normal(4))
    # load_model without extra still works on a checkpoint
    assert list(load_model(tmp_path / "ckpt.npz")[1]) == list(params)


@pytest.mark.parametrize(
    "extra, match",
    [
        ({"a/b": 1}, "without '/'"),
        ({"best": float("nan")}, "JSON cannot hold"),
        ({"f": print}, "neither an array nor JSON"),
        ({"objs": np.array([{}], dtype=object)}, "cannot be saved without pickle"),
    ],
)
def test_bad_extra_is_rejected_before_writing(tmp_path, extra, match):
    with pytest.raises(UsageError, match=match):
        save_model(tmp_path / "m.npz", SPEC, params_for(), extra=extra)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ saving: bad input


@pytest.mark.parametrize(
    "spec, match",
    [
        ({**SPEC, "sizes": [3, 0, 2]}, "at least one neuron"),
        ({**SPEC, "sizes": [3, "4", 2]}, "whole numbers"),
        ({**SPEC, "sizes": [3, 4.0, 2]}, "whole numbers"),
        ({**SPEC, "sizes": [3]}, "at least two layers"),
        ({**SPEC, "activation": "swish"}, "unknown activation 'swish'"),
        ({**SPEC, "cost": "hinge"}, "unknown cost 'hinge'"),
        ({**SPEC, "cost": "log_likelihood", "output": "sigmoid"}, "log_likelihood"),
        ({**SPEC, "level": "atom"}, "unknown level"),
        ({**SPEC, "weight_decay": -1.0}, "weight_decay"),
        ({**SPEC, "epochs": 3}, "unknown spec key"),
        ({"sizes": [3, 4, 2], "activation": "sigmoid"}, "lacks 'cost'"),
    ],
)
def test_save_rejects_bad_spec(tmp_path, spec, match):
    with pytest.raises(UsageError, match=match):
        save_model(tmp_path / "m.npz", spec, params_for())
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_bad_params(tmp_path):
    params = params_for()
    with pytest.raises(
        UsageError,
        match=r"parameter 'W3' has shape \(4, 2\), the spec \(sizes \[3, 4, 2\]\) implies \(2, 4\)",
    ):
        save_model(tmp_path / "m.npz", SPEC, {**params, "W3": params["W3"].T})
    with pytest.raises(UsageError, match="parameter 'b3' is missing"):
        save_model(tmp_path / "m.npz", SPEC, {k: v for k, v in params.items() if k != "b3"})
    with pytest.raises(UsageError, match="unexpected parameter.*'W4'"):
        save_model(tmp_path / "m.npz", SPEC, {**params, "W4": np.zeros((1, 2))})
    bad = params["W2"].copy()
    bad[1, 2] = np.nan
    with pytest.raises(
        UsageError, match=r"parameter 'W2' holds a non-finite value \(nan\) at index \(1, 2\)"
    ):
        save_model(tmp_path / "m.npz", SPEC, {**params, "W2": bad})
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_directory(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match=r"out: it is a directory"):
        save_model(tmp_path / "out", SPEC, params_for())
    assert list((tmp_path / "out").iterdir()) == []


def test_save_under_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    target = tmp_path / "notes.txt" / "model.npz"
    with pytest.raises(UsageError) as e:
        save_model(target, SPEC, params_for())
    assert str(target) in str(e.value) and "is a file, not a directory" in str(e.value)
    deeper = tmp_path / "notes.txt" / "sub" / "model.npz"
    with pytest.raises(UsageError, match="notes.txt is a file, not a directory"):
        save_model(deeper, SPEC, params_for())
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(UsageError, match=r"directory .*absent does not exist"):
        save_model(tmp_path / "absent" / "m.npz", SPEC, params_for())


def test_unwritable_directory(tmp_path, monkeypatch):
    # Running as root ignores chmod, so the OS refusal is simulated where the file is created.
    real_open = os.open

    def refuse(path, flags, mode=0o777, **kw):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(sio.os, "open", refuse)
    with pytest.raises(UsageError, match=r"cannot write .*m\.npz: Permission denied"):
        save_model(tmp_path / "m.npz", SPEC, params_for())
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ atomicity


def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_model(tmp_path / "m.npz", SPEC, params_for(seed=1))
    before = path.read_bytes()

    def half_then_crash(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half an archive")
        raise RuntimeError("disk yanked")

    monkeypatch.setattr(sio.np, "savez", half_then_crash)
    with pytest.raises(RuntimeError, match="disk yanked"):
        save_model(path, SPEC, params_for(seed=2))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    np.testing.assert_array_equal(load_model(path)[1]["W2"], params_for(seed=1)["W2"])


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_model(tmp_path / "m.npz", SPEC, params_for(seed=1))
    before = path.read_bytes()

    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio.os, "replace", no_space)
    with pytest.raises(UsageError, match=r"m\.npz: No space left on device .*unchanged"):
        save_model(path, SPEC, params_for(seed=2))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_interrupt_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    atomic_write_text(path, '{"old": true}')

    class Interrupted(BaseException):
        pass

    with pytest.raises(Interrupted):
        with atomic_open(path, "w") as f:
            f.write('{"new": ')
            raise Interrupted
    assert path.read_text() == '{"old": true}'
    assert leftovers(tmp_path) == []


def test_atomic_write_helpers(tmp_path):
    text = tmp_path / "out.txt"
    assert atomic_write_text(text, "δ^l = ∂C/∂z^l\n") == text
    assert text.read_text(encoding="utf-8") == "δ^l = ∂C/∂z^l\n"
    os.chmod(text, 0o640)
    atomic_write_text(text, "second\n")
    assert text.read_text() == "second\n"
    assert os.stat(text).st_mode & 0o777 == 0o640  # permissions of the replaced file kept
    blob = tmp_path / "out.bin"
    atomic_write_bytes(blob, b"\x00\x01\xff")
    assert blob.read_bytes() == b"\x00\x01\xff"
    with pytest.raises(UsageError, match="is a directory"):
        atomic_write_text(tmp_path, "x")
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ loading: hostile files


def test_load_missing_and_directory(tmp_path):
    with pytest.raises(UsageError, match=r"nothing\.npz: no such file"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(UsageError, match="is a directory"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not a symgrad model file .*an empty file"),
        (b"hello, I am a text file\n", "not a symgrad model file .*starts with b'hell'"),
        (b"\x80\x04\x95 pickle-ish", "not a symgrad model file .*not an .npz archive"),
        (b"PK\x03\x04" + b"\x00" * 40, "truncated or corrupt .npz archive"),
    ],
)
def test_non_npz_bytes(tmp_path, content, match):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=r"model\.npz: " + match):
        load_model(path)


def test_zip_member_that_is_not_an_array(tmp_path):
    path = archive(tmp_path / "m.npz", good_arrays())
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(UsageError, match=r"m\.npz: corrupt archive: member 'notes.txt' is not a NumPy array"):
        load_model(path)


def test_single_npy_is_not_a_model(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(UsageError, match="a single .npy array"):
        load_model(tmp_path / "a.npy")


def test_foreign_npz(tmp_path):
    archive(tmp_path / "other.npz", {"weights": np.zeros(3)})
    with pytest.raises(
        UsageError, match=r"other\.npz: not a symgrad model file \(no 'symgrad' header; arrays: weights\)"
    ):
        load_model(tmp_path / "other.npz")


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, cut):
    path = save_model(tmp_path / "m.npz", SPEC, params_for())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(UsageError, match=r"m\.npz: truncated or corrupt"):
        load_model(path)


def test_flipped_byte_in_data(tmp_path):
    path = save_model(tmp_path / "m.npz", SPEC, params_for())
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("params/W3.npy")
    # the last byte of W3's data, inside the stored (uncompressed) member
    pos = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size - 1
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UsageError, match=r"m\.npz: .*corrupt.*'params/W3'"):
        load_model(path)


class _Trap:
    """Unpickling this would create a directory: proof that loading ran pickle."""

    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.mkdir, (str(self.sentinel),))


@pytest.mark.parametrize("key", ["params/W2", "symgrad"])
def test_pickled_object_array_is_rejected_not_unpickled(tmp_path, key):
    sentinel = tmp_path / "UNPICKLED"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(sentinel)
    path = archive(tmp_path / "evil.npz", good_arrays(**{key: trap}), allow_pickle=True)
    with pytest.raises(UsageError, match=rf"evil\.npz: array '{key}' holds pickled Python objects; refusing"):
        load_model(path)
    assert not sentinel.exists()


def test_wrong_shape_names_parameter_and_shapes(tmp_path):
    path = archive(tmp_path / "m.npz", good_arrays(**{"params/b3": np.zeros((3, 1))}))
    with pytest.raises(UsageError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: parameter 'b3' has shape (3, 1), the spec (sizes [3, 4, 2]) implies (2, 1)"
    )


def test_mismatched_spec_and_params(tmp_path):
    # parameters of a 3-5-2 network under the header of a 3-4-2 one
    arrays = good_arrays(**{f"params/{k}": v for k, v in params_for((3, 5, 2)).items()})
    with pytest.raises(
        UsageError,
        match=r"parameter 'W2' has shape \(5, 3\), the spec \(sizes \[3, 4, 2\]\) implies \(4, 3\)",
    ):
        load_model(archive(tmp_path / "m.npz", arrays))


def test_missing_parameter(tmp_path):
    arrays = good_arrays()
    del arrays["params/W3"]
    with pytest.raises(UsageError, match=r"parameter 'W3' is missing \(expected shape \(2, 4\)\)"):
        load_model(archive(tmp_path / "m.npz", arrays))


def test_unexpected_array(tmp_path):
    with pytest.raises(UsageError, match=r"unexpected array\(s\) 'params/W9'"):
        load_model(archive(tmp_path / "m.npz", good_arrays(**{"params/W9": np.zeros((1, 1))})))


def test_non_finite_and_non_float_parameters(tmp_path):
    W2 = params_for()["W2"].copy()
    W2[0, 1] = np.inf
    with pytest.raises(
        UsageError, match=r"parameter 'W2' holds a non-finite value \(inf\) at index \(0, 1\)"
    ):
        load_model(archive(tmp_path / "a.npz", good_arrays(**{"params/W2": W2})))
    with pytest.raises(UsageError, match=r"parameter 'W2' has dtype int64"):
        load_model(
            archive(tmp_path / "b.npz", good_arrays(**{"params/W2": np.zeros((4, 3), dtype=np.int64)}))
        )


@pytest.mark.parametrize(
    "hdr, match",
    [
        (np.frombuffer(b"{not json", dtype=np.uint8), "not valid JSON"),
        (np.frombuffer(b"\xff\xfe", dtype=np.uint8), "not valid JSON"),
        (np.zeros((2, 2), dtype=np.uint8), "must be 1-D uint8"),
        (np.frombuffer(b"[1, 2]", dtype=np.uint8), "format 'list'"),
        (header(format="other-tool"), "format 'other-tool'"),
        (header(version=99), "newer symgrad"),
        (
            np.frombuffer(b'{"format": "symgrad-model", "version": NaN}', dtype=np.uint8),
            "NaN is not valid JSON",
        ),
        (header(version="1"), "version '1'"),
        (header(spec={**SPEC, "sizes": [3, -4, 2]}), "at least one neuron"),
        (header(spec={**SPEC, "activation": "__import__('os')"}), "unknown activation"),
        (header(spec="sizes=3,4,2"), "must be a dictionary"),
        (header(params=["W2", "b2"]), "header lists parameters"),
        (header(extra_arrays=["ghost"]), "unexpected|missing"),
    ],
)
def test_tampered_header(tmp_path, hdr, match):
    path = archive(tmp_path / "m.npz", good_arrays(symgrad=hdr))
    with pytest.raises(UsageError, match=match) as e:
        load_checkpoint(path)
    assert str(path) in str(e.value)


def test_param_shapes():
    assert param_shapes([784, 30, 10]) == {"W2": (30, 784), "b2": (30, 1), "W3": (10, 30), "b3": (10, 1)}
