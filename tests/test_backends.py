"""Backends are printers: the training program printed for NumPy and JAX, against the per-batch path and each other.

Agreement tolerances follow the exploration's measurements (docs/backends.md): float64 within 1e-10 abs after
3 epochs for SGD at any batch size, momentum and Adam at batch 100 (at batch 10 they are chaotic: correct
implementations drift apart); float32 loosely. JAX compiles each program once (≈1 s), so the JAX cases are few.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from extras_hidden import needs

import symgrad as sg
from symgrad import Graph
from symgrad.cli import main as cli_main
from symgrad.errors import CompileError, TrainingError, UsageError
from symgrad.numeric import compile, compile_training, train
from symgrad.numeric.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
SIZES = [12, 7, 4]


def _data(n=305, seed=0, d=SIZES[0], k=SIZES[-1]):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = rng.normal(0, 1.5, (k, d))
    return centres[labels] + rng.normal(0, 1.0, (n, d)), labels


def _trainer(optimizer, lr, bs, wd=0.0, backend="numpy", dtype="float64", cost="quadratic", devices=None):
    net = sg.mlp(SIZES, "sigmoid", cost, level="layer", seed=3)
    t = Trainer(net, lr, bs, optimizer, 0.9, wd, dtype, backend, devices)
    X, labels = _data()
    t.set_data(X.astype(dtype), np.eye(SIZES[-1], dtype=dtype)[labels])
    return t


def _perms(epochs, n=305, seed=11):
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def _maxdiff(a, b):
    return max(float(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64))))
               for x, y in zip(a, b))


LR = {"sgd": 3.0, "momentum": 0.5, "adam": 0.01}


# ------------------------------------------------------------------ NumPy: fused program vs the per-batch path
@pytest.mark.parametrize("optimizer,wd,bs", [
    ("sgd", 0.0, 10), ("sgd", 1e-3, 10), ("sgd", 0.0, 100),
    ("momentum", 0.0, 100), ("momentum", 1e-3, 100), ("adam", 0.0, 100), ("adam", 1e-3, 100),
])
def test_numpy_program_equals_the_per_batch_path(optimizer, wd, bs):
    fused, ref = _trainer(optimizer, LR[optimizer], bs, wd), _trainer(optimizer, LR[optimizer], bs, wd)
    assert fused.program.folded  # η/m went into the backward pass's seed terms
    for perm in _perms(3):
        fused.run_epoch(perm)
        ref.reference_epoch(perm)
    assert _maxdiff(fused.host_params(), ref.host_params()) < 1e-10
    assert fused.opt_state()["t"] == ref.opt_state()["t"]
    if optimizer != "sgd":
        key = "v" if optimizer == "momentum" else "m2"
        assert _maxdiff(fused.opt_state()[key].values(), ref.opt_state()[key].values()) < 1e-10


def test_numpy_program_source_is_one_readable_module(tmp_path):
    net = sg.mlp([4, 3, 2], "sigmoid", "quadratic", level="layer", seed=0)
    program = compile_training(net, "momentum", lr=0.5, weight_decay=1e-3)
    src = program.source
    for part in ("def init_state(params):", "def workspace(m):", "def step(params, state, x, y, ws=None, eta=LR):",
                 "def epoch(params, state, rows, perm, bs, ws=None, stop=None, eta=LR):",
                 "np.matmul(W2, x, out=_ws_z2)", "W2 += _v_W2", "_k = eta/_m", "LR = 0.5"):
        assert part in src, part
    assert "W2" not in program.source.split("def step")[0].split("PARAMS")[0]  # names: only in repr literals
    # the exported module runs on its own and gives the same epoch
    path = program.export(tmp_path / "prog.py")
    spec = importlib.util.spec_from_file_location("prog", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    X, labels = _data(50, d=4, k=2)
    rows = (X, np.eye(2)[labels])
    perm = np.random.default_rng(0).permutation(50)
    outs = []
    for epoch, init in ((program.epoch, program.init_state), (mod.epoch, mod.init_state)):
        params = [np.array(net.params()[p]) for p in program.params]
        params, state, cost = epoch(params, init(params), rows, perm, 8)
        outs.append((params, cost))
    assert _maxdiff(outs[0][0], outs[1][0]) == 0 and outs[0][1] == outs[1][1]


def test_a_graph_that_is_not_an_mlp_trains_through_the_same_program():
    """Generic over the leaves: other names, one parameter matrix and a vector, a tanh head, a Trace cost."""
    m = sp.Symbol("n", integer=True, positive=True)
    g = Graph("not an mlp")
    u = g.input("u", (3, m))
    t = g.target("t", (2, m))
    A = g.parameter("A", (2, 3), kind="W")
    c = g.parameter("c", (2, 1))
    h = g.add("h", sp.matrices.expressions.applyfunc.ElementwiseApplyFunction(sp.tanh, A * u + c * sp.OneMatrix(1, m)))
    g.add("L", sp.Trace((h - t).T * (h - t)) / 2, role="cost")
    program = compile_training(g, "sgd", cost="L", lr=0.1, weight_decay=0.01)
    assert program.params == ("A", "c") and program.data == ("u", "t") and program.decay == ("A",)
    grad = compile(g, cost="L")
    rng = np.random.default_rng(0)
    U, T = rng.normal(size=(40, 3)), rng.uniform(-0.5, 0.5, (40, 2))
    p0 = {"A": rng.normal(size=(2, 3)), "c": rng.normal(size=(2, 1))}
    params = [p0["A"].copy(), p0["c"].copy()]
    perm = rng.permutation(40)
    params, _, total = program.epoch(params, program.init_state(params), (U, T), perm, 16)
    ref = {k: v.copy() for k, v in p0.items()}
    cost = 0.0
    for s in range(0, 40, 16):
        idx = perm[s:s + 16]
        C, gr = grad(ref, U[idx].T, T[idx].T)
        cost += C
        k = 0.1 / len(idx)
        ref = {"A": ref["A"] - k * (gr["A"] + 0.02 * ref["A"]), "c": ref["c"] - k * gr["c"]}
    assert _maxdiff(params, [ref["A"], ref["c"]]) < 1e-13 and abs(total - cost) < 1e-12


def test_training_program_errors_name_the_culprit():
    net = sg.mlp([2, 2, 1], level="layer", seed=0)
    with pytest.raises(CompileError, match="Graph or a Network"):
        compile_training(42)
    with pytest.raises(UsageError, match="optimizer 'rmsprop'"):
        compile_training(net, "rmsprop")
    with pytest.raises(CompileError, match="decay: 'W9'"):
        compile_training(net, decay=["W9"])
    with pytest.raises(UsageError, match="backend must be one of numpy, jax"):
        compile_training(net, backend="torch")
    g = Graph("scalar")
    x, w = g.input("x"), g.parameter("w")
    g.add("C", (w * x) ** 2, role="cost")
    with pytest.raises(CompileError, match="node 'x'.*examples as columns"):
        compile_training(g)
    with pytest.raises(UsageError, match="several devices need `backend` jax"):
        train(net, np.zeros((4, 2)), [0, 1, 0, 1], epochs=1, devices=2)


# ------------------------------------------------------------------ JAX
@needs("jax")
@pytest.mark.parametrize("optimizer,wd,bs", [("sgd", 0.0, 10), ("momentum", 1e-3, 100), ("adam", 1e-3, 100)])
def test_jax_equals_numpy_and_the_per_batch_path(optimizer, wd, bs):
    jx = _trainer(optimizer, LR[optimizer], bs, wd, backend="jax")
    npy, ref = _trainer(optimizer, LR[optimizer], bs, wd), _trainer(optimizer, LR[optimizer], bs, wd)
    for perm in _perms(3):  # 305 rows: a partial last batch every epoch
        jx.run_epoch(perm)
        npy.run_epoch(perm)
        ref.reference_epoch(perm)
    assert _maxdiff(jx.host_params(), npy.host_params()) < 1e-10
    assert _maxdiff(jx.host_params(), ref.host_params()) < 1e-10
    assert int(jx.opt_state()["t"]) == int(ref.opt_state()["t"])


@needs("jax")
def test_jax_is_bit_reproducible_and_float32_stays_float32():
    runs = []
    for _ in range(2):
        t = _trainer("adam", 0.01, 10, 1e-3, backend="jax", dtype="float32")
        for perm in _perms(2):
            cost = t.run_epoch(perm)
        runs.append((t.host_params(), t.opt_state(), cost))
    (p1, s1, c1), (p2, s2, c2) = runs
    assert all(a.dtype == np.float32 and np.array_equal(a, b) for a, b in zip(p1, p2))
    assert all(a.dtype == np.float32 for a in s1["m1"].values()) and c1 == c2
    ref = _trainer("adam", 0.01, 10, 1e-3, dtype="float32")
    for perm in _perms(2):
        ref.run_epoch(perm)
    assert all(a.dtype == np.float32 for a in ref.host_params())
    assert _maxdiff(p1, ref.host_params()) < 1e-3  # float32 rounding, amplified by Adam at batch 10


@needs("jax")
def test_jax_gradient_function_equals_numpy():
    net = sg.mlp([5, 4, 3], "relu", "log_likelihood", level="layer", seed=2, init="he")
    x, y = np.random.default_rng(1).normal(size=(5, 9)), np.eye(3)[:, [0, 1, 2, 0, 1, 2, 0, 1, 2]]
    C, g = compile(net)(net.params(), x, y)
    Cj, gj = compile(net, backend="jax")(net.params(), x, y)
    assert abs(C - Cj) < 1e-12 and isinstance(gj["W2"], np.ndarray)
    assert _maxdiff(g.values(), gj.values()) < 1e-12
    assert "jnp.maximum" in compile(net, backend="jax").source


@needs("jax")
@pytest.mark.parametrize("first,second", [("numpy", "jax"), ("jax", "numpy")])
def test_resume_across_backends_is_exact_in_float64(tmp_path, first, second):
    X, labels = _data()
    ck = tmp_path / "ck.npz"
    kw = dict(batch_size=100, lr=0.01, optimizer="adam", weight_decay=1e-3, seed=5, progress=False)
    full = sg.mlp(SIZES, "sigmoid", "cross_entropy", level="layer", seed=1)
    h_full = train(full, X, labels, epochs=4, backend=first, **kw)
    part = sg.mlp(SIZES, "sigmoid", "cross_entropy", level="layer", seed=1)
    train(part, X, labels, epochs=2, checkpoint=ck, backend=first, **kw)
    again = sg.mlp(SIZES, "sigmoid", "cross_entropy", level="layer", seed=99)
    h = train(again, X, labels, epochs=4, resume=ck, backend=second, **kw)
    assert h.backend == second and len(h) == 4
    assert _maxdiff(again.params().values(), full.params().values()) < 1e-12
    assert abs(h[-1]["train_cost"] - h_full[-1]["train_cost"]) < 1e-12


@needs("jax")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_jax_divergence_is_named_by_a_replay_on_the_host():
    X, labels = _data(60)
    net = sg.mlp(SIZES, "identity", "quadratic", level="layer", seed=0)
    with pytest.raises(TrainingError, match=r"^epoch 1, (after )?step \d+.*(W|b)\d"):
        train(net, X * 1e150, labels, epochs=2, batch_size=10, lr=1e10, progress=False, backend="jax")
    net = sg.mlp(SIZES, "identity", "quadratic", level="layer", seed=0)
    h = train(net, X * 1e150, labels, epochs=2, batch_size=10, lr=1e10, progress=False, backend="jax",
              on_nonfinite="stop")
    assert h.stopped and len(h) == 0 and all(np.isfinite(v).all() for v in net.params().values())


@needs("jax")
def test_cli_jax_records_backend_dtype_devices(capsys):
    status = cli_main(["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "2", "--backend", "jax",
                       "--dtype", "float32", "--json", "--quiet"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (doc["backend"], doc["dtype"], doc["devices"]) == ("jax", "float32", 1)
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert cli_main(["train", "--dataset", "xor", "--sizes", "2,4,1", "--devices", "2"]) == 2
    assert "--devices 2: several devices need --backend jax" in capsys.readouterr().err


# ------------------------------------------------------------------ subprocesses: no JAX, two devices
_NO_JAX = """
import sys

class NoJax:
    def find_spec(self, name, path=None, target=None):
        if name == "jax" or name.startswith("jax.") or name == "jaxlib" or name.startswith("jaxlib."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoJax())
if sys.argv[1:] == ["compile"]:
    import symgrad as sg
    from symgrad.errors import UsageError
    from symgrad.numeric import compile
    try:
        compile(sg.mlp([2, 2, 1], level="layer", seed=0), backend="jax")
    except UsageError as e:
        print(e)
    sys.exit(0)
from symgrad.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_jax_the_backend_is_a_one_line_error_naming_the_extra(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", _NO_JAX, "train", "--dataset", "xor", "--sizes", "2,4,1",
                          "--backend", "jax", "--save", str(tmp_path / "m.npz")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == ("symgrad train: error: --backend jax needs jax: install symgrad[jax] "
                                  "(pip install 'symgrad[jax]')")
    assert res.stdout == "" and not (tmp_path / "m.npz").exists()
    res = subprocess.run([sys.executable, "-c", _NO_JAX, "compile"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env=env)
    assert res.stdout.strip() == "backend='jax' needs jax: install symgrad[jax] (pip install 'symgrad[jax]')"


_TWO_DEVICES = """
import json, os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"   # before JAX starts
import numpy as np
import jax
import symgrad as sg
from symgrad.errors import UsageError
from symgrad.numeric.train import Trainer

out = {"devices": len(jax.devices()), "x64_before": bool(jax.config.jax_enable_x64)}
rng = np.random.default_rng(0)
X = rng.normal(size=(305, 12))
Y = np.eye(4)[rng.integers(0, 4, 305)]
perms = [rng.permutation(305) for _ in range(3)]
for dtype in ("float32", "float64"):   # float32 first: JAX's 64-bit mode still off
    runs = []
    for devices in (1, 2):
        t = Trainer(sg.mlp([12, 7, 4], level="layer", seed=3), 3.0, 10, "momentum", 0.9, 1e-3, dtype, "jax", devices)
        t.set_data(X.astype(dtype), Y.astype(dtype))
        for p in perms:
            t.run_epoch(p)
        runs.append(t.host_params())
        if devices == 2:  # the batch really is split: XLA reduces the gradients across the devices
            idx = jax.device_put(perms[0][:300].reshape(-1, 10), jax.sharding.NamedSharding(
                t.mesh, jax.sharding.PartitionSpec(None, "batch")))
            hlo = t.program.namespace["epoch_fn"](t.mesh).lower(t.params, t.state, t.rows, idx, t.lr).compile().as_text()
            out[dtype + " all-reduce"] = "all-reduce" in hlo
    out[dtype] = max(float(np.max(np.abs(a.astype(float) - b))) for a, b in zip(*runs))
    out[dtype + " dtypes"] = sorted({str(a.dtype) for r in runs for a in r})
try:
    Trainer(sg.mlp([12, 7, 4], level="layer", seed=3), 3.0, 5, backend="jax", devices=2)
except UsageError as e:
    out["indivisible"] = str(e)
print(json.dumps(out))
"""


@needs("jax")
def test_two_host_devices_shard_the_batch_and_equal_one_device():
    res = subprocess.run([sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, timeout=300,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2 and out["x64_before"] is False
    assert out["float64"] < 1e-12 and out["float64 dtypes"] == ["float64"]
    assert out["float32"] < 1e-4 and out["float32 dtypes"] == ["float32"]
    assert out["float64 all-reduce"] and out["float32 all-reduce"]
    assert out["indivisible"].startswith("batch_size 5 does not divide over 2 devices")
    assert "switched on JAX's 64-bit mode" in res.stderr


# ------------------------------------------------------------------ names cannot inject code (issue 14)
def test_a_latex_like_node_name_compiles():
    m = sp.Symbol("m", integer=True, positive=True)
    g = Graph(r"\Upsilon graph")
    x = g.input(r"\upsilon", (2, m))
    W = g.parameter(r"\omega", (1, 2))
    g.add("C", sp.Trace((W * x).T * (W * x)) / 2, role="cost")
    model = compile(g)  # was: SyntaxError (unicode error) from the docstring
    C, grads = model({r"\omega": np.ones((1, 2)), r"\upsilon": np.ones((2, 3))})
    assert C == 6.0 and np.array_equal(grads[r"\omega"], np.full((1, 2), 6.0))


_SENTINEL_NAMES = [
    'a"""; import os; os.system("echo PWNED >&2"); """',
    "a'''; open(SENTINEL, 'w').write('x'); '''",
    "x\nimport os\nos.system('echo PWNED >&2')\n",
    "b\\u0022\\u0022\\u0022; print('PWNED')",
    "\\upsilon",
    "ﬁ", "fi", "𝐖", "W²", "#", "'", '"', "\\", "\u2028", "_t1", "np", "jnp", "ws", "step",
]

SENTINEL = Path(os.environ.get("TMPDIR", "/tmp")) / f"symgrad-sentinel-{os.getpid()}"
_PAYLOADS = [n for n in _SENTINEL_NAMES] + [f"q'''; open({str(SENTINEL)!r}, 'w').write('x'); '''",
                                            f'q"""; open({str(SENTINEL)!r}, "w").write("x"); """',
                                            f"q')\nopen({str(SENTINEL)!r}, 'w').write('x')\n#"]


def _tiny(names):
    """x (2, m) → z = W x + b 1ᵀ → a = σ(z) → C = ½‖a − y‖², every node and the graph named from ``names``."""
    gname, xn, yn, wn, bn, zn, an, cn = names
    m = sp.Symbol("m", integer=True, positive=True)
    g = Graph(gname)
    x = g.input(xn, (2, m))
    y = g.target(yn, (3, m))
    W = g.parameter(wn, (3, 2), kind="W")
    b = g.parameter(bn, (3, 1))
    z = g.add(zn, W * x + b * sp.OneMatrix(1, m))
    a = g.add(an, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction(sg.sigmoid, z))
    g.add(cn, sp.Trace((a - y).T * (a - y)) / 2, role="cost")
    return g


PLAIN = ("plain", "x", "y", "W", "b", "z", "a", "C")
_RNG = np.random.default_rng(7)
_X, _Y = _RNG.normal(size=(9, 2)), _RNG.uniform(0.1, 0.9, (9, 3))
_P = [_RNG.normal(size=(3, 2)), _RNG.normal(size=(3, 1))]


def _run(names, backend="numpy"):
    g = _tiny(names)
    model = compile(g, cost=names[7], backend=backend)
    values = {names[3]: _P[0], names[4]: _P[1], names[1]: _X[:4].T, names[2]: _Y[:4].T}
    C, grads = model(values)
    program = compile_training(g, "momentum", cost=names[7], lr=0.5, weight_decay=0.01, backend=backend)
    params = program.to_backend(_P)
    rows = tuple(program.to_backend([_X, _Y])) if backend == "jax" else (_X, _Y)
    params, _, total = program.epoch(params, program.init_state(params), rows, np.arange(9)[::-1], 4)
    return C, [grads[names[3]], grads[names[4]]], program.to_host(params), float(total), model, program


def _check_names(names, backend, capfd):
    from symgrad.errors import GraphError

    try:
        got = _run(names, backend)
    except GraphError:  # not a valid graph (a duplicate name, one that backprop's dC/dx names take): refused
        assert not SENTINEL.exists()
        return
    want = _run(PLAIN, backend)
    assert not SENTINEL.exists()
    captured = capfd.readouterr()
    assert "PWNED" not in captured.out + captured.err
    assert np.isclose(got[0], want[0], rtol=1e-12, atol=0)
    assert _maxdiff(got[1], want[1]) < 1e-12 and _maxdiff(got[2], want[2]) < 1e-12
    assert np.isclose(got[3], want[3], rtol=1e-12, atol=0)
    for text in (got[4].source, got[5].source):  # every name in the source is inside a string literal
        import ast

        tree = ast.parse(text)
        code_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert all(n.isascii() for n in code_names)  # identifiers derived, never copied


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_name = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(_PAYLOADS))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_name, min_size=8, max_size=8))
def test_any_unicode_names_compile_safely_and_equal_plain_names(names, capfd):
    _check_names(tuple(names), "numpy", capfd)


@needs("jax")
def test_hostile_names_are_safe_in_the_jax_program_too(capfd):
    names = (_PAYLOADS[0], _PAYLOADS[-1], _PAYLOADS[-2], _PAYLOADS[2], "ﬁ", "fi", r"\upsilon", _PAYLOADS[3])
    _check_names(names, "jax", capfd)


@needs("jax")
def test_sigterm_with_jax_keeps_the_last_complete_checkpoint(tmp_path):
    ck = tmp_path / "ck.npz"
    code = (
        "import os, signal, sys, importlib\n"
        "T = importlib.import_module('symgrad.numeric.train')\n"
        "orig = T.save_checkpoint\n"
        "def save(*a, **k):\n"
        "    orig(*a, **k)\n"
        "    if a[4] == 2: os.kill(os.getpid(), signal.SIGTERM)\n"
        "T.save_checkpoint = save\n"
        "from symgrad.cli import main\n"
        f"sys.exit(main(['train', '--dataset', 'spirals', '--sizes', '2,8,2', '--epochs', '50', '--lr', '1.0', "
        f"'--backend', 'jax', '--dtype', 'float32', '--checkpoint', {str(ck)!r}, '--quiet']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 143, res.stderr
    assert "interrupted during epoch 3; the checkpoint" in res.stderr and "holds epoch 2" in res.stderr
    from symgrad.store.model_file import load_checkpoint

    _, params, extra = load_checkpoint(ck)
    assert extra["epoch"] == 2 and extra["config"]["backend"] == "jax" and params["W2"].dtype == np.float32
