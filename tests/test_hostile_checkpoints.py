"""Tampered checkpoints and resumes that do not fit (issue 14): every field is checked before it is used,
and ``symgrad train --resume`` says in one line which file and field are wrong (exit 2) — never an
OverflowError, a RecursionError or an AttributeError."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import main as cli_main
from symgrad.store.data import fingerprint

RUN = ["train", "--dataset", "spirals", "--sizes", "2,4,2", "--quiet", "--optimizer", "adam", "--lr", "0.01"]


@pytest.fixture
def ck(tmp_path: Path) -> Path:
    path = tmp_path / "ck.npz"
    assert cli_main([*RUN, "--epochs", "3", "--checkpoint", str(path)]) == 0
    return path


def _tamper(path: Path, **raw: str) -> Path:
    """Rewrite fields of the checkpoint's header ``extra`` with raw JSON text (``epoch="1e309"``)."""
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    header = json.loads(np.load(io.BytesIO(members["symgrad.npy"])).tobytes())
    for key in raw:
        header["extra"][key] = f"@@{key}@@"
    text = json.dumps(header)
    for key, value in raw.items():
        text = text.replace(f'"@@{key}@@"', value)
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(text.encode(), dtype=np.uint8))
    members["symgrad.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _resume(path: Path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli_main([*RUN, "--epochs", "5", "--resume", str(path), *extra])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("field, raw, words", [
    ("epoch", "1e309", "field 'epoch' is inf, expected a whole number"),
    ("epoch", "-1", "field 'epoch' is -1"),
    ("epoch", "true", "field 'epoch' is True"),
    ("epoch", '"3"', "field 'epoch' is '3'"),
    ("epoch", "3.0", "field 'epoch' is 3.0"),
    ("rng", json.dumps("[" * 100000 + "]" * 100000), "field 'rng' nests deeper than 8 levels"),
    ("rng", json.dumps('{"bit_generator": "MT19937", "state": {}}'), "field 'rng' is not a PCG64 generator state"),
    ("rng", json.dumps('{"bit_generator": "PCG64", "state": {"state": 1.5, "inc": 1}, "has_uint32": 0, '
                       '"uinteger": 0}'), "field 'rng' is not a PCG64 generator state"),
    ("rng", "12", "field 'rng' is int, expected JSON text"),
    ("rng", json.dumps("{not json"), "field 'rng' is not valid JSON"),
    ("history", json.dumps("[1,2,3]"), "field 'history' record 0 is int 1, expected a dictionary"),
    ("history", json.dumps("[" * 100000 + "]" * 100000), "field 'history' nests deeper than 8 levels"),
    ("history", json.dumps('{"a": 1}'), "field 'history' is dict, expected a list"),
    ("history", json.dumps("[]"), "field 'history' holds 0 records but field 'epoch' is 3"),
    ("history", json.dumps('[{"epoch": 1}, {"epoch": 1}, {"epoch": 3}]'), "record 1 is for epoch 1, expected 2"),
    ("history", json.dumps('[{"epoch": 1, "train_cost": "x"}, {"epoch": 2}, {"epoch": 3}]'),
     "record 0 has train_cost 'x', expected a number"),
])
def test_a_tampered_field_is_one_line_naming_file_and_field(ck, capsys, field, raw, words):
    _tamper(ck, **{field: raw})
    status, err = _resume(ck, capsys)
    assert status == 2, err
    assert err.count("\n") == 1 and len(err) < 300, err
    assert err.startswith(f"symgrad train: error: --resume {ck}: corrupt checkpoint: "), err
    assert words in err


def test_a_bad_adam_step_count_is_named(ck, capsys):
    with zipfile.ZipFile(ck) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    buf = io.BytesIO()
    np.save(buf, np.array(2.5))
    members["extra/optimizer/t.npy"] = buf.getvalue()
    with zipfile.ZipFile(ck, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    status, err = _resume(ck, capsys)
    assert status == 2 and "optimizer state 't'" in err, err


def test_resuming_on_other_data_is_refused_unless_forced(ck, capsys):
    other = ["--holdout", "20"]  # the training examples are now 180 of the 200
    status, err = _resume(ck, capsys, *other)
    assert status == 2
    assert f"--resume {ck}: the checkpoint was made on other training data (sha256 " in err
    assert "--force-resume resumes anyway" in err
    status, err = _resume(ck, capsys, *other, "--force-resume")
    assert status == 0, err
    status, err = _resume(ck, capsys)  # the same data: no need to force
    assert status == 0, err


def test_the_fingerprint_sees_values_shapes_and_dtypes():
    X, Y = np.zeros((4, 2)), np.eye(4)[:, :2]
    base = fingerprint(X, Y)
    assert base == fingerprint(X.copy(), Y.copy()) and len(base) == 64
    X2 = X.copy()
    X2[3, 1] = 1e-300
    assert fingerprint(X2, Y) != base
    assert fingerprint(X.astype(np.float32), Y) != base
    assert fingerprint(X.reshape(2, 4), Y) != base


def test_a_checkpoint_past_the_epochs_says_there_is_nothing_to_train(ck, capsys, tmp_path):
    capsys.readouterr()
    out = tmp_path / "m.npz"
    assert cli_main([*RUN, "--epochs", "2", "--resume", str(ck), "--save", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == (f"symgrad train: the checkpoint {ck} is at epoch 3, already past --epochs 2: nothing to train "
                   "(give --epochs above 3 to continue)\n")
    assert out.exists()  # the checkpoint's model, saved as asked
