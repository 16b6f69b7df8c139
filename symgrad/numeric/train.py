r"""Training compiled networks: mini-batch SGD (Nielsen), momentum, Adam.

The cost of a mini-batch of m examples is summed over its examples, so the
update of Nielsen's `network.py` is

    w → w − (η/m) Σ_x ∂C_x/∂w,    b → b − (η/m) Σ_x ∂C_x/∂b,

with the gradients computed by the code `symgrad.numeric.compile` generates from
the derivative graph. Momentum keeps a velocity v → μv − (η/m)∇C, w → w + v;
Adam (Kingma & Ba) uses the mean gradient g = ∇C/m. L2 weight decay λ adds
λ Σ_l ‖W^l‖² to each mini-batch's cost (so 2λW to ∂C/∂W).

The hot loop is what an expert writes by hand: examples shuffled once per
epoch (`np.random.default_rng(seed).permutation`), each mini-batch a view of
the shuffled rows (columns are examples), the generated function called with
positional arrays, parameters updated in place. Nothing is validated or
copied per step; NaN/Inf is detected once per epoch, and the epoch is then
replayed from its start with checks to name the step and the parameter.
The optimizers are in `symgrad.numeric.optim`, checkpoints in
`symgrad.numeric.checkpoint`; the `symgrad train` command in `symgrad.cli.commands`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from ..core.backprop import backprop
from ..core.graph import Graph, as_graph
from ..errors import TrainingError, UsageError
from ..networks import Network, init_params, mlp, param_shapes
from ..store.data import check_finite, fingerprint
from ..store.model_file import load_model
from .backend import check_backend, check_devices, jax_modules, mesh
from .checkpoint import Snapshot, restore, save_checkpoint, snapshot
from .checkpoint import resume as resume_from
from .compile import DTYPES, compile_graph
from .names import MONITORS, NONFINITE, OVERRIDABLE
from .optim import OPTIMIZERS, Optimizer, OptimizerConfig
from .program import compile_training
from .schedule import SCHEDULES, Schedule, as_schedule
from .threads import THREAD_CHOICES, blas_threads, check_threads, choose_threads

__all__ = ["MONITORS", "NONFINITE", "OPTIMIZERS", "OVERRIDABLE", "SCHEDULES", "History", "Schedule", "Stop", "Trainer",
           "TrainingError", "check_settings", "train",
           "train_graph"]


class History(list):
    """The per-epoch records of a training run (a list of dicts).

    Each record has `epoch` (1-based), `seconds` (training time of that
    epoch, evaluation excluded), `train_cost` and `train_accuracy` (mean
    cost per example and fraction correct on the training set, measured after
    the epoch), `holdout_cost`, `holdout_accuracy` (`None` without a
    held-out set) and `lr`, the epoch's learning rate η (the schedule's). `interrupted` is set when a signal stopped the run. `backend`, `dtype` and
    `devices` say where it computed, `notices` what it switched on for itself (JAX's 64-bit
    mode); `to_json` (`symgrad train --json`) records them all.
    """

    interrupted: bool = False
    #: the run's settings (η as `lr`, epochs, batch size, optimizer, μ, λ, seed, dtype, init, backend, devices)
    config: dict[str, Any]
    #: the examples trained on and held out: `{"train": {"examples": n, "sha256": ...}, "holdout": ...}`
    data: dict[str, Any]
    #: why training stopped early on NaN/Inf with `on_nonfinite="stop"` (else `None`)
    stopped: str | None = None
    #: where the run computed: `"numpy"` or `"jax"`, the dtype and the number of devices
    backend: str = "numpy"
    dtype: str = "float64"
    devices: int = 1
    #: the BLAS thread count the run asked for (`None`: BLAS's default) and the learning-rate schedule
    threads: int | None = None
    schedule: dict | None = None
    #: why early stopping ended the run (else `None`), and the best epoch (early stopping or keep-best)
    early_stopped: str | None = None
    best_epoch: int | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.notices: list[str] = []  # what the run switched on for itself (JAX's 64-bit mode)
        self.config = {}
        self.data = {}

    def column(self, key: str) -> list[Any]:
        return [r.get(key) for r in self]

    def to_json(self) -> str:
        def clean(v: Any) -> Any:  # NaN/Inf (on_nonfinite="ignore") are not JSON: null
            return None if isinstance(v, float) and not math.isfinite(v) else v

        epochs = [{k: clean(v) for k, v in r.items()} for r in self]
        return json.dumps({"epochs": epochs, "interrupted": self.interrupted, "stopped": self.stopped,
                           "backend": self.backend, "dtype": self.dtype, "devices": self.devices,
                           "threads": self.threads, "schedule": self.schedule, "early_stopped": self.early_stopped,
                           "best_epoch": self.best_epoch, "notices": self.notices, "config": self.config,
                           "data": self.data})


# ------------------------------------------------------------------ data prep
def _targets(labels_or_Y: Any, n: int, k: int, dtype: Any, what: str = "labels") -> tuple[np.ndarray, np.ndarray | None]:
    """(Y (n, k) float rows, labels (n,) or None) from labels or a target array."""
    arr = np.asarray(labels_or_Y)
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{what}: expected numbers, got an array of dtype {arr.dtype}")
    check_finite(what, arr)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1 and k > 1):
        labels = arr.reshape(-1)
        if labels.shape[0] != n:
            raise UsageError(f"{what}: X has {n} examples but there are {labels.shape[0]} labels")
        frac = np.flatnonzero(labels != np.round(labels)) if labels.dtype.kind == "f" else ()
        if len(frac):
            raise UsageError(f"{what}: label {labels[frac[0]]} at index {int(frac[0])} is not a whole number "
                             "(class indices)")
        labels = labels.astype(np.int64)
        lo, hi = int(labels.min()), int(labels.max())
        if k == 1:
            if lo < 0 or hi > 1:
                raise UsageError(f"{what}: a network with one output neuron (sizes ending in 1) needs labels 0 or 1, "
                                 f"found {lo}..{hi}")
            return labels.reshape(-1, 1).astype(dtype), labels
        if lo < 0 or hi >= k:
            raise UsageError(f"{what} span {lo}..{hi} but the output layer (last of sizes) has {k} neurons "
                             f"(classes 0..{k - 1})")
        Y = np.zeros((n, k), dtype=dtype)
        Y[np.arange(n), labels] = 1
        return Y, labels
    if arr.ndim != 2 or arr.shape != (n, k):
        raise UsageError(f"{what}: targets must be labels (n,) or an array of shape (n, {k}) = ({n}, {k}), "
                         f"got {arr.shape}")
    Y = np.ascontiguousarray(arr, dtype=dtype)
    labels = np.argmax(Y, axis=1) if k > 1 else (Y[:, 0] > 0.5).astype(np.int64)
    return Y, labels


def _inputs(X: Any, d: int, dtype: Any, what: str = "X") -> np.ndarray:
    a = np.asarray(X)
    if a.dtype.kind not in "biuf":
        raise UsageError(f"{what}: expected numbers, got an array of dtype {a.dtype}")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    if a.ndim != 2:
        raise UsageError(f"{what} must have one example per row, shape (n, {d}); got shape {a.shape}")
    if a.shape[1] != d and a.shape[0] == d:
        raise UsageError(f"{what} has shape {a.shape}: examples as columns, as compiled calls take them; train() "
                         f"takes one example per row, shape (n, {d}): pass {what}.T")
    if a.shape[1] != d:
        raise UsageError(f"{what}: examples have {a.shape[1]} features (shape {a.shape}), the network's input "
                         f"layer (first of sizes) has {d}")
    if a.shape[0] == 0:
        raise UsageError(f"{what}: no examples")
    check_finite(what, a)  # before the cast: names the first NaN/Inf by its index
    with np.errstate(over="ignore"):  # a value too large for float32 is named just below
        out = np.ascontiguousarray(a, dtype=dtype)
    if out.dtype != a.dtype:
        check_finite(f"{what} (as {np.dtype(dtype).name}: too large)", out)
    return out


@dataclass
class _Data:
    """The training examples as rows (`X` (n, d), targets `Y` (n, k), `labels`) and the held-out set."""

    X: np.ndarray
    Y: np.ndarray
    labels: np.ndarray
    hold: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    @property
    def n(self) -> int:
        return self.X.shape[0]


def _data(net: Network, X: Any, labels_or_Y: Any, holdout: Any, dtype: np.dtype) -> _Data:
    sizes = net.sizes
    Xtr = _inputs(X, sizes[0], dtype)
    Ytr, labels_tr = _targets(labels_or_Y, Xtr.shape[0], sizes[-1], dtype)
    hold = None
    if holdout is not None:
        if not isinstance(holdout, (tuple, list)) or len(holdout) != 2:
            raise UsageError("holdout must be a pair (X_holdout, labels_holdout)", arg="holdout")
        Xh = _inputs(holdout[0], sizes[0], dtype, "holdout X")
        Yh, lh = _targets(holdout[1], Xh.shape[0], sizes[-1], dtype, "holdout labels")
        hold = (Xh, Yh, lh)
    return _Data(Xtr, Ytr, labels_tr, hold)


# ------------------------------------------------------------------- training
class Stop:
    """Set by a signal handler: the run stops after the current mini-batch."""

    def __init__(self) -> None:
        self.flag = [False]
        self.signum: int | None = None


def _layer_twin(net: Network) -> Network:
    if net.level == "layer":
        return net
    return mlp(net.sizes, net.activation, net.cost, level="layer", output=net.output,
               weight_decay=net.weight_decay)


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the progress bar is an optional extra
        return None
    return tqdm(total=total, initial=initial, unit="epoch", leave=False, file=sys.stderr)


class Trainer:
    """A network's training program on one backend, its parameters and optimizer state: one epoch at a time.

    The program (`symgrad.numeric.program.compile_training`) holds the forward pass,
    backprop and the update; the parameters and state live where the backend computes (NumPy
    arrays updated in place, or JAX device arrays, replicated over `devices`). Evaluation and
    the replay that names a diverged step run on the host in NumPy, through the gradient
    function and the unfused `Optimizer` (the per-batch path).
    `train` drives it; the benchmark times `run_epoch` itself.
    """

    def __init__(self, net: Network, lr: float, batch_size: int, optimizer: str = "sgd", momentum: float = 0.9,
                 weight_decay: float = 0.0, dtype: str = "float64", backend: str = "numpy",
                 devices: int | None = None) -> None:
        layer = _layer_twin(net)
        table = layer.backprop()
        self.config = OptimizerConfig(optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.batch_size = int(batch_size)
        self.lr = float(lr)  # η of the coming epoch: train() sets it from the schedule
        self.devices = check_devices(devices, backend, self.batch_size)
        self.program = compile_training(layer, self.config, backend=backend, dtype=dtype)
        self.pnames = list(self.program.params)
        self.backend, self.dtype = backend, dtype
        self._layer, self._grads = layer, [table[p] for p in self.pnames]
        self._grad_model: Any = None
        self.wd_mask = [p in self.program.decay for p in self.pnames]
        # evaluation: the data cost (no decay term: it is not a per-example cost) and a^L
        plain = mlp(net.sizes, layer.activation, layer.cost, level="layer", output=layer.output)
        self.eval_model = compile_graph(plain, dtype=dtype, outputs=["C", f"a{len(net.sizes)}"])
        self.shapes = {p: tuple(np.shape(v)) for p, v in net.params().items()}
        self.mesh = mesh(self.devices) if self.devices > 1 else None
        self.rows: tuple[Any, ...] | None = None
        start = net.params()
        self.load([start[p] for p in self.pnames], None)
        self.ws = self.program.workspace(self.batch_size)

    @property
    def grad_fn(self) -> Any:
        """The per-batch path's gradient function on the host (compiled when first needed: the replay that names
        a NaN step, the reference epoch)."""
        if self._grad_model is None:
            self._grad_model = compile_graph(self._layer, dtype=self.dtype, outputs=self._grads)
        return self._grad_model.fn

    # ------------------------------------------------------------ state
    def _place(self, arrays: Any) -> Any:
        """Backend arrays placed for the run: replicated over the mesh when there is one."""
        if self.mesh is None:
            return arrays
        jax, _ = jax_modules()
        rep = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())
        return jax.device_put(arrays, rep)

    def load(self, params: list[np.ndarray], opt_state: Mapping[str, Any] | None) -> None:
        """Put host parameters and a state dict (`None`: a fresh optimizer) where the backend computes."""
        program = self.program
        if self.backend == "numpy" and hasattr(self, "params"):
            for p, v in zip(self.params, params):  # in place: the arrays stay the same objects
                p[...] = v
        else:
            self.params = self._place(program.to_backend(params))
        if opt_state is None:
            state = program.init_state(self.params)
        else:
            state = program.load_state(opt_state, self.shapes)
        self.state = self._place(state)

    def host_params(self) -> list[np.ndarray]:
        """The parameters on the host: NumPy's own arrays, or copies of JAX's."""
        return list(self.params) if self.backend == "numpy" else self.program.to_host(self.params)

    def opt_state(self) -> dict[str, Any]:
        """The optimizer state as a checkpoint holds it (copies; the same for both backends)."""
        return self.program.state_dict(self.state)

    def set_data(self, X: np.ndarray, Y: np.ndarray) -> None:
        """The training rows, where the backend computes (for JAX on the device once, replicated over the mesh)."""
        if self.backend == "numpy":
            self.rows = (X, Y)
        else:
            self.rows = self._place(tuple(self.program.to_backend([X, Y])))

    # ------------------------------------------------------------ epochs
    def run_epoch(self, perm: np.ndarray, flag: list | None = None) -> float:
        """One pass over the training rows in the order `perm` (mini-batches of `batch_size`); the summed cost.

        NumPy stops after the current step when `flag[0]` is set (a signal); JAX after the epoch.
        """
        if self.rows is None:
            raise UsageError("Trainer.run_epoch: no data (call set_data(X, Y) first)")
        if self.backend == "numpy":
            _, _, cost = self.program.epoch(self.params, self.state, self.rows, perm, self.batch_size, self.ws,
                                            flag, self.lr)
        else:
            self.params, self.state, cost = self.program.epoch(self.params, self.state, self.rows, perm,
                                                               self.batch_size, self.mesh, self.lr)
        return float(cost)

    def reference_epoch(self, perm: np.ndarray) -> None:
        """The same epoch by the per-batch path on the host (gradient function, then the unfused optimizer).

        What `train` did before the update was printed into the program; kept as the
        reference the printed step is tested against, and for `_diagnose`'s replay.
        """
        X, Y = (np.asarray(r) for r in self.rows)
        params = [np.array(p) for p in self.host_params()]
        opt = Optimizer(self.config.kind, params, self.lr, self.config.momentum)
        opt.load(self.opt_state(), self.pnames)
        step = opt.step_fn(params, self.wd_mask, self.config.weight_decay)
        Xe, Ye = X[perm], Y[perm]
        for s in range(0, Xe.shape[0], self.batch_size):
            xb = Xe[s : s + self.batch_size].T
            step(self.grad_fn(*params, xb, Ye[s : s + self.batch_size].T), xb.shape[1])
        self.load(params, opt.state(self.pnames))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_settings(epochs: Any = 1, batch_size: Any = 1, lr: Any = 1.0, momentum: Any = 0.0,
                   weight_decay: Any = 0.0, on_nonfinite: str = "raise", dtype: str = "float64",
                   backend: str = "numpy", devices: Any = None, *, threads: Any = "auto") -> None:
    """The training settings (see `train`) checked before any work; a `UsageError` names the one at fault.

    For `backend="jax"` this imports JAX (a one-line error naming the `jax` extra when it is
    missing), switches on its 64-bit mode for float64 and checks `devices` against those JAX sees.
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        low = 0 if name == "epochs" else 1
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise UsageError(f"{name} must be a whole number ≥ {low}, got {v!r}", arg=name)
    if not (_is_number(lr) and math.isfinite(lr) and lr > 0):
        raise UsageError(f"lr (η) must be a positive finite number, got {lr!r}", arg="lr")
    if not (_is_number(momentum) and 0 <= momentum < 1):
        raise UsageError(f"momentum (μ) must be a number in [0, 1), got {momentum!r}", arg="momentum")
    if not (_is_number(weight_decay) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise UsageError(f"weight_decay (λ) must be a finite number ≥ 0, got {weight_decay!r}", arg="weight_decay")
    if on_nonfinite not in NONFINITE:
        raise UsageError(f"on_nonfinite must be one of {', '.join(NONFINITE)}, got {on_nonfinite!r}",
                         arg="on_nonfinite")
    if dtype not in DTYPES:
        raise UsageError(f"dtype must be {' or '.join(DTYPES)}, got {dtype!r}", arg="dtype")
    check_threads(threads)
    check_backend(backend, dtype)
    check_devices(devices, backend, int(batch_size))


def train(
    net: Network,
    X: Any,
    labels_or_Y: Any,
    epochs: int = 30,
    batch_size: int = 10,
    lr: float = 3.0,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int | None = 0,
    dtype: str = "float64",
    holdout: tuple[Any, Any] | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    *,
    init: str = "normal",
    checkpoint: Any = None,
    resume: Any = None,
    stop: Stop | None = None,
    on_nonfinite: str = "raise",
    backend: str = "numpy",
    devices: int | None = None,
    threads: int | str = "auto",
    schedule: Schedule | str | Mapping[str, Any] | None = None,
    early_stop: str | None = None,
    patience: int = 5,
    min_delta: float = 0.0,
    keep_best: bool | str = False,
    init_from: Any = None,
    override: Sequence[str] = (),
    force: bool = False,
) -> History:
    """Train `net` on examples `X` (n, d) with labels (n,) or targets (n, k); return the `History`.

    `net` is a `Network` (`mlp`); any other graph (a `symgrad.layers` model) goes to `train_graph`.

    Parameters start from the network's values (or `init_params` with
    `init` and `seed` when it has none) and end in the network
    (`net.params()`). `holdout=(X_h, labels_h)` is evaluated after every
    epoch. `callback(record)` is called after every epoch; returning `False`
    stops training (what it prints does not garble the progress bar: the bar is
    cleared while it runs). `checkpoint=PATH` saves parameters, optimizer state,
    epoch and the shuffling generator's state after every epoch (atomically);
    `resume=PATH` continues such a run exactly; the checkpoint records a fingerprint of the training
    data (`fingerprint`), and resuming on other data is refused unless `force`. A checkpoint already at
    or past `epochs` trains nothing, and `history.notices` says so. A signal (`stop`) ends the run after the current
    mini-batch with the network back at the parameters of the last completed epoch.

    `on_nonfinite` says what happens when the parameters or the cost become
    NaN or Inf (divergence): `"raise"` (default) raises `TrainingError`
    naming the epoch, the step and the parameter; `"stop"` ends training with
    the parameters of the last finite epoch and sets `history.stopped` to the
    reason; `"ignore"` carries on (no checkpoint is written for non-finite
    parameters).

    `backend` is `"numpy"` (default) or `"jax"` (the `jax` extra: the epoch is one jitted
    `lax.scan`); `devices=N` splits every mini-batch over N JAX devices (default 1; the batch
    size must divide by N). Shuffling is NumPy's seeded permutation on the host for both, so both
    see the same order, and a checkpoint written by one backend resumes in the other.

    `threads`: BLAS threads for the run (`symgrad.numeric.threads`): a whole number,
    `"auto"` (default: the measured best, one thread) or `"default"` (BLAS's own choice).

    `schedule`: the learning rate of each epoch from η₀ = `lr` (`Schedule` or its name:
    `"constant"`, `"step"`, `"exponential"`, `"cosine"`); every record holds its `lr`.

    `early_stop="cost"` or `"accuracy"` stops when the held-out cost (accuracy) has not
    improved by more than `min_delta` for `patience` epochs (`history.early_stopped` says
    why). `keep_best=True` ends with the parameters of the best epoch by that measure (by
    held-out cost without `early_stop`; or name the measure: `keep_best="accuracy"`);
    `history.best_epoch` records which. Both need `holdout`.

    `init_from=PATH` starts from a saved model's parameters (fine-tuning): its network must be
    this one (sizes, activation, output, cost), else a UsageError names the difference. A resumed
    run must have the checkpoint's settings; `override=("lr",)` (or `"schedule"`) lets this
    run's learning rate (schedule) replace the checkpoint's, and a notice records it.
    """
    if not isinstance(net, Network):
        return train_graph(net, X, labels_or_Y, epochs, batch_size, lr, optimizer, momentum, weight_decay, seed,
                           dtype, holdout, callback, backend=backend)
    check_settings(epochs, batch_size, lr, momentum, weight_decay, on_nonfinite, dtype, backend, devices,
                   threads=threads)
    sched = as_schedule(schedule)
    sched.check(float(lr))
    best = _tracker(early_stop, patience, min_delta, keep_best, holdout is not None)
    override = _overrides(override, resume)
    if init_from is not None and resume is not None:
        raise UsageError("init_from and resume both say where the parameters come from: give one", arg="init_from")
    if weight_decay and net.weight_decay is not None:
        raise UsageError("weight decay given twice: the network's cost already has it (mlp(weight_decay=...))")
    data = _data(net, X, labels_or_Y, holdout, np.dtype(dtype))
    if init_from is not None:
        _init_from(net, init_from)
    _start_params(net, init, seed, resumed=resume is not None)
    trainer = Trainer(net, lr, batch_size, optimizer, momentum, weight_decay, dtype, backend, devices)
    pnames = trainer.pnames
    rng = np.random.default_rng(seed)
    history = History()
    history.backend, history.dtype, history.devices = backend, dtype, trainer.devices
    history.threads = choose_threads(threads)
    history.schedule = sched.to_dict()
    if backend == "jax" and dtype == "float64":
        history.notices.append("float64 with JAX: JAX's 64-bit mode (jax_enable_x64) is on for this process")
    spec = net.spec()
    config = {"batch_size": int(batch_size), "lr": float(lr), "optimizer": optimizer, "momentum": float(momentum),
              "weight_decay": float(weight_decay), "seed": seed, "dtype": dtype, "backend": backend,
              "devices": trainer.devices, "schedule": sched.to_dict()}
    history.config = {**config, "epochs": int(epochs), "init": init}
    history.data = {"train": {"examples": data.n, "sha256": fingerprint(data.X, data.labels)}}
    if data.hold is not None:
        history.data["holdout"] = {"examples": int(data.hold[0].shape[0]),
                                   "sha256": fingerprint(data.hold[0], data.hold[2])}
    config["data"] = fingerprint(data.X, data.Y)  # a checkpoint resumes only on the same data
    first_epoch = 1
    if resume is not None:
        done, params, opt_state, extra = resume_from(resume, spec, config, pnames, trainer.shapes, rng, history,
                                                     override=override, data=config["data"], force=force)
        trainer.load(params, opt_state)
        first_epoch = done + 1
        for key in override:
            history.notices.append(f"resumed with this run's {key} {config[key]!r}, not the checkpoint's "
                                   f"{extra['config'].get(key)!r} (override)")
        if best is not None:
            best.replay(history, extra.get("best"), pnames, history.notices)
            if best.patience is not None and best.wait >= best.patience:  # it had stopped early: nothing to train
                history.early_stopped = best.reason(done)
                first_epoch = epochs + 1
        if done >= epochs:
            history.notices.append(f"the checkpoint {resume} is at epoch {done}, already past `epochs` {epochs}: "
                                   f"nothing to train (give `epochs` above {done} to continue)")
    if init_from is not None:
        history.notices.append(f"started from the parameters of {init_from}")
    trainer.set_data(data.X, data.Y)
    flag = (stop or Stop()).flag
    bar = _progress(epochs, first_epoch - 1, progress)
    explicit = threads not in THREAD_CHOICES
    try:
        with blas_threads(history.threads, history.notices if explicit else None):
            _loop(trainer, data, range(first_epoch, epochs + 1), epochs, rng, flag, on_nonfinite, history, sched,
                  best, checkpoint, spec, config, bar, callback)
    finally:
        if bar is not None:
            bar.close()
        if best is not None and best.keep and best.params is not None:
            net.set_params(dict(zip(pnames, best.params)))
        else:
            net.set_params(dict(zip(pnames, trainer.host_params())))
    if best is not None:
        history.best_epoch = best.epoch
    return history


def _loop(trainer: Trainer, data: _Data, epochs_left: range, epochs: int, rng: np.random.Generator, flag: list,
          on_nonfinite: str, history: History, sched: Schedule, best: _Best | None, checkpoint: Any,
          spec: Mapping[str, Any], config: Mapping[str, Any], bar: Any, callback: Callable | None) -> None:
    """The epochs of `train`: η from the schedule, train, record, track the best, checkpoint, report."""
    pnames = trainer.pnames
    for epoch in epochs_left:
        trainer.lr = sched.lr(config["lr"], epoch, epochs)
        done = _epoch(trainer, data, epoch, rng, flag, on_nonfinite, history)
        if done is None:
            break
        record, finite = done
        history.append(record)
        stop_now = False
        if best is not None:
            stop_now = best.update(record, trainer.host_params() if best.keep else None)
            if stop_now:
                history.early_stopped = best.reason(epoch)
        if checkpoint is not None and (finite or on_nonfinite != "ignore"):
            save_checkpoint(checkpoint, spec, dict(zip(pnames, trainer.host_params())), trainer.opt_state(),
                            epoch, rng, history, config, best=best.state(pnames) if best is not None else None)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cost=f"{record['train_cost']:.4g}", acc=record.get("holdout_accuracy"), refresh=False)
        if callback is not None:
            if bar is not None:  # the bar is cleared while the callback prints, then drawn again below it
                with bar.external_write_mode(file=sys.stdout):
                    answer = callback(record)
            else:
                answer = callback(record)
            if answer is False:
                break
        if stop_now:
            break


class _Best:
    """The best epoch by the held-out cost or accuracy, and patience for early stopping."""

    def __init__(self, metric: str, patience: int | None, min_delta: float, keep: bool) -> None:
        self.metric, self.patience, self.min_delta, self.keep = metric, patience, min_delta, keep
        self.key = f"holdout_{metric}"
        self.value: float | None = None
        self.epoch: int | None = None
        self.wait = 0
        self.params: list[np.ndarray] | None = None

    def better(self, v: Any) -> bool:
        if v is None or not math.isfinite(v):
            return False
        if self.value is None:
            return True
        return v > self.value + self.min_delta if self.metric == "accuracy" else v < self.value - self.min_delta

    def update(self, record: Mapping[str, Any], params: list[np.ndarray] | None) -> bool:
        """Take the epoch's record (and its parameters, to keep); whether patience has run out."""
        v = record.get(self.key)
        if self.better(v):
            self.value, self.epoch, self.wait = float(v), int(record["epoch"]), 0
            if params is not None:
                self.params = [np.array(p, copy=True) for p in params]
        else:
            self.wait += 1
        return self.patience is not None and self.wait >= self.patience

    def reason(self, epoch: int) -> str:
        return (f"early stop after epoch {epoch}: the held-out {self.metric} has not improved by more than "
                f"{self.min_delta:g} for {self.patience} epochs (best {self.value:.6g} at epoch {self.epoch})")

    def state(self, pnames: list[str]) -> dict[str, Any] | None:
        """What a checkpoint keeps to resume keep-best: the best epoch and its parameters."""
        if not self.keep or self.params is None:
            return None
        return {"epoch": int(self.epoch or 0), "params": dict(zip(pnames, self.params))}

    def replay(self, history: list, saved: Any, pnames: list[str], notices: list[str]) -> None:
        """A resumed run: the best and the patience from the history so far, the best parameters from the checkpoint."""
        for r in history:
            self.update(r, None)
        if not self.keep or self.epoch is None:
            return
        if isinstance(saved, Mapping) and saved.get("epoch") == self.epoch and isinstance(saved.get("params"), Mapping):
            self.params = [np.array(saved["params"][n]) for n in pnames]
        else:  # a checkpoint written without keep_best: the best from here on
            notices.append(f"keep_best: the checkpoint does not hold epoch {self.epoch}'s parameters; "
                           "the best epoch from the resumed run on is kept")
            self.value, self.epoch = None, None


def _tracker(early_stop: str | None, patience: Any, min_delta: Any, keep_best: bool | str,
             has_holdout: bool) -> _Best | None:
    if early_stop is not None and early_stop not in MONITORS:
        raise UsageError(f"early_stop must be one of {', '.join(MONITORS)} (the held-out measure), got {early_stop!r}",
                         arg="early_stop")
    if not isinstance(keep_best, bool) and keep_best not in MONITORS:
        raise UsageError(f"keep_best must be True, False or one of {', '.join(MONITORS)}, got {keep_best!r}",
                         arg="keep_best")
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        raise UsageError(f"patience must be a whole number ≥ 1 (epochs), got {patience!r}", arg="patience")
    if not (_is_number(min_delta) and math.isfinite(min_delta) and min_delta >= 0):
        raise UsageError(f"min_delta must be a finite number ≥ 0, got {min_delta!r}", arg="min_delta")
    if early_stop is None and keep_best is False:
        return None
    what = "early_stop" if early_stop is not None else "keep_best"
    if not has_holdout:
        raise UsageError(f"{what} measures the held-out set: give holdout=(X, labels)", arg=what)
    metric = early_stop or (keep_best if isinstance(keep_best, str) else "cost")
    if isinstance(keep_best, str) and early_stop is not None and keep_best != early_stop:
        raise UsageError(f"keep_best={keep_best!r} and early_stop={early_stop!r} measure different things: "
                         "give one measure", arg="keep_best")
    return _Best(metric, int(patience) if early_stop is not None else None, float(min_delta), keep_best is not False)


def _overrides(override: Any, resume: Any) -> tuple[str, ...]:
    names = (override,) if isinstance(override, str) else tuple(override)
    bad = [n for n in names if n not in OVERRIDABLE]
    if bad:
        raise UsageError(f"override: {bad[0]!r} cannot change on resume; choose from {', '.join(OVERRIDABLE)}",
                         arg="override")
    if names and resume is None:
        raise UsageError(f"override {', '.join(names)} changes a resumed run's settings: it needs resume=PATH",
                         arg="override")
    return names


def _init_from(net: Network, path: Any) -> None:
    """Fine-tuning: the parameters of the saved model at `path`, whose network must be `net`'s."""
    try:
        spec, params = load_model(path)
    except UsageError as e:
        raise UsageError(f"init_from {e}", arg="init_from") from None
    mine = net.spec()
    for key in ("sizes", "activation", "output", "cost"):  # λ may change: fine-tuning with another decay
        a, b = mine.get(key), spec.get(key)
        if key == "sizes":
            a, b = list(a or []), list(b or [])
        if a != b:
            raise UsageError(f"init_from {path}: the saved model's network has `{key}` {b!r}, this run has {a!r}",
                             arg="init_from")
    names = list(param_shapes(net.sizes))
    missing = [p for p in names if p not in params]
    if missing:
        raise UsageError(f"init_from {path}: the saved model has no parameter {missing[0]!r}", arg="init_from")
    net.set_params({p: params[p] for p in names})


def _start_params(net: Network, init: str, seed: int | None, resumed: bool) -> None:
    """Parameters for a network that has none (`init_params`); else its own, which must be finite."""
    if any(p.value is None for p in net.graph.parameters):
        net.set_params(init_params(net.sizes, init, seed))
    elif not resumed:  # a resumed run takes the checkpoint's parameters
        for name, value in net.params().items():
            check_finite(f"initial parameter {name}", value)


def _epoch(trainer: Trainer, data: _Data, epoch: int, rng: np.random.Generator, flag: list, on_nonfinite: str,
           history: History) -> tuple[dict[str, Any], bool] | None:
    """Train one epoch and measure it: `(record, parameters finite)`, or `None` when the run stops here
    (a signal came, or it diverged with `on_nonfinite="stop"`: then back to the epoch's start)."""
    saved = snapshot(trainer, rng)
    perm = rng.permutation(data.n)  # on the host, for every backend: the same order everywhere
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is checked below
        trainer.run_epoch(perm, flag)
    seconds = time.perf_counter() - t0
    if flag[0]:  # back to the last completed epoch: the network ends with parameters that mean something
        restore(saved, trainer, rng)
        history.interrupted = True
        return None
    params = trainer.host_params()
    finite = all(np.isfinite(p).all() for p in params)
    try:
        if not finite and on_nonfinite != "ignore":
            _diagnose(epoch, saved, data, trainer)
        record = {"epoch": epoch, "seconds": seconds, "lr": trainer.lr}
        record.update(_evaluate(trainer.eval_model, params, data.X, data.Y, data.labels, "train"))
        if data.hold is not None:
            record.update(_evaluate(trainer.eval_model, params, *data.hold, "holdout"))
        else:
            record.update(holdout_cost=None, holdout_accuracy=None)
        if finite and not math.isfinite(record["train_cost"]) and on_nonfinite != "ignore":
            raise TrainingError(_overflow(epoch, data, trainer, params, record["train_cost"]))
    except TrainingError as e:
        if on_nonfinite == "raise":
            raise
        restore(saved, trainer, rng)
        history.stopped = str(e)
        return None
    return record, finite


def _overflow(epoch: int, data: _Data, trainer: Trainer, params: list[np.ndarray], cost: float) -> str:
    """Finite but huge parameters: the cost itself overflowed (divergence, e.g. too large an η)."""
    pnames = trainer.pnames
    big = max(range(len(params)), key=lambda i: float(np.max(np.abs(params[i]))))
    j = np.unravel_index(int(np.argmax(np.abs(params[big]))), params[big].shape)
    return (f"epoch {epoch}, after step {-(-data.n // trainer.batch_size)} (its last): the training cost is "
            f"{cost} although the parameters are finite; parameter {pnames[big]} reached {params[big][j]:.3g} "
            f"at index {tuple(int(i) for i in j)} (diverged: try a smaller `lr`)")


def _evaluate(model: Any, params: list[np.ndarray], X: np.ndarray, Y: np.ndarray, labels: np.ndarray,
              prefix: str, chunk: int = 2000) -> dict[str, float]:
    fn = model.fn
    cost, correct, n = 0.0, 0, X.shape[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverged cost reports as inf/nan
        for s in range(0, n, chunk):
            C, aL = fn(*params, X[s : s + chunk].T, Y[s : s + chunk].T)
            cost += float(C)
            pred = np.argmax(aL, axis=0) if aL.shape[0] > 1 else (aL[0] > 0.5).astype(np.int64)
            correct += int(np.count_nonzero(pred == labels[s : s + chunk]))
    return {f"{prefix}_cost": cost / n, f"{prefix}_accuracy": correct / n}


def _diagnose(epoch: int, saved: Snapshot, data: _Data, trainer: Trainer) -> None:
    """Replay the epoch from its start on the host, step by step with checks, to name the step and parameter
    that went non-finite (the per-batch path: gradient function, then the unfused optimizer)."""
    pnames, bs = trainer.pnames, trainer.batch_size
    arrays, opt_state, rng_state = saved
    params = [np.array(a, copy=True) for a in arrays]
    cfg = trainer.config
    opt = Optimizer(cfg.kind, params, trainer.lr, cfg.momentum)
    opt.load(opt_state, pnames)
    step = opt.step_fn(params, trainer.wd_mask, cfg.weight_decay)
    rng = np.random.default_rng()  # the run's own generator goes on from where the epoch ended
    rng.bit_generator.state = rng_state
    perm = rng.permutation(data.n)
    Xe, Ye = data.X[perm], data.Y[perm]
    with np.errstate(all="ignore"):
        for i, s in enumerate(range(0, data.n, bs), start=1):
            xb, yb = Xe[s : s + bs].T, Ye[s : s + bs].T
            grads = trainer.grad_fn(*params, xb, yb)
            for name, g in zip(pnames, grads):
                if not np.isfinite(g).all():
                    raise TrainingError(
                        f"epoch {epoch}, step {i}: the gradient ∂C/∂{name} is NaN or Inf "
                        "(diverged: try a smaller `lr` or another cost/activation)"
                    )
            step(grads, xb.shape[1])
            for name, p in zip(pnames, params):
                if not np.isfinite(p).all():
                    raise TrainingError(f"epoch {epoch}, step {i}: parameter {name} became NaN or Inf (try a smaller `lr`)")
    raise TrainingError(f"epoch {epoch}: parameters became NaN or Inf")  # pragma: no cover - replay is exact


# ------------------------------------------------------------------ any graph
def _graph_leaf(g: Graph, key: str, role: str) -> str:
    """The graph's data leaf of `role` (`meta[key]`, else its only `role` leaf without a value)."""
    name = g.meta.get(key)
    if name is not None:
        return g.node(name).name
    found = [n.name for n in g.nodes(role) if n.value is None]
    if len(found) != 1:
        raise UsageError(f"graph {g.name!r}: train() needs one {role} node to feed (found {found or 'none'}); "
                         f"name it in graph.meta[{key!r}]")
    return found[0]


def _columns(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The examples `idx` side by side as columns: rows (n, d) → (d, b); (n, d, T) → (d, b·T)."""
    batch = a[idx]
    if batch.ndim == 2:
        return batch.T
    return batch.transpose(1, 0, 2).reshape(batch.shape[1], -1)


def train_graph(
    model: Any,
    X: Any,
    labels_or_Y: Any,
    epochs: int = 30,
    batch_size: int = 10,
    lr: float = 3.0,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int | None = 0,
    dtype: str = "float64",
    holdout: tuple[Any, Any] | None = None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    *,
    backend: str = "numpy",
    cost: str | None = None,
) -> History:
    """Train any graph with parameters, a cost and data leaves (a `symgrad.layers` model, say); the `History`.

    The graph's input x gets `X`: rows (n, d), one column per example, or (n, d, T), T columns
    per example (a sequence of T tokens) laid side by side; its target y gets `labels_or_Y`
    (labels (n,), one-hot as columns, or targets (n, k)). The names come from `graph.meta`
    (`input`, `target`, `cost`, `prediction`; `symgrad.layers.sequential` sets them)
    or, for a bare graph, its one input and one target without a value; inputs with a value (a
    mask, a pooling matrix) are constants; a dropout mask (`symgrad.layers.dropout` with p) is drawn
    for every mini-batch, entries 0 or 1/(1 − p), and is all ones to evaluate. When the graph's batch is a number (B examples as
    columns) `batch_size` must be B and each epoch skips the n mod B examples left over after
    shuffling; with a symbolic batch m the last mini-batch is smaller. The update is
    `symgrad.numeric.optim.Optimizer`'s (SGD w → w − (η/m)(∇C + 2λW), momentum, Adam; the decay on
    the parameters of kind W), with ∇C from the graph's derivative nodes compiled for `backend`.
    Parameters start from their values (`symgrad.layers.init_values` draws those missing) and end
    there. Accuracy (argmax of the prediction per column) is reported when the graph has one.
    """
    g = as_graph(model)
    check_settings(epochs, batch_size, lr, momentum, weight_decay, "raise", dtype, backend, None)
    cost = g.node(cost or g.meta.get("cost") or "C").name
    x_name, y_name = _graph_leaf(g, "input", "input"), _graph_leaf(g, "target", "target")
    pred = g.meta.get("prediction")
    pnames = [p.name for p in g.parameters]
    if not pnames:
        raise UsageError(f"graph {g.name!r} has no parameters to train")
    missing = [p for p in pnames if g.node(p).value is None]
    if missing:
        raise UsageError(f"parameter {missing[0]!r} has no value: give every parameter one "
                         "(symgrad.layers.init_values(graph, seed) draws them)")
    dt = np.dtype(dtype)
    xnode, ynode = g.node(x_name), g.node(y_name)
    d, k = int(xnode.shape[0]), int(ynode.shape[0])
    cols = xnode.shape[1]
    Xa = np.asarray(X, dtype=dt) if np.asarray(X).dtype.kind in "biuf" else None
    if Xa is None or Xa.ndim not in (2, 3) or Xa.shape[1] != d:
        raise UsageError(f"X: input {x_name!r} has {d} rows: give examples as (n, {d}) or (n, {d}, T), "
                         f"got shape {np.shape(X)}")
    check_finite("X", Xa)
    per = 1 if Xa.ndim == 2 else Xa.shape[2]
    n = Xa.shape[0]
    Ya, labels = _targets(labels_or_Y, n, k, dt)
    hold = None
    if holdout is not None:
        if not isinstance(holdout, (tuple, list)) or len(holdout) != 2:
            raise UsageError("holdout must be a pair (X_holdout, labels_holdout)", arg="holdout")
        Xh = np.asarray(holdout[0], dtype=dt)
        if Xh.shape[1:] != Xa.shape[1:]:
            raise UsageError(f"holdout X: examples of shape {Xh.shape[1:]}, training examples are {Xa.shape[1:]}")
        hold = (Xh, *_targets(holdout[1], Xh.shape[0], k, dt, "holdout labels"))
    fixed = not isinstance(cols, sp.Symbol)
    if fixed:
        if int(cols) % per or int(cols) // per != batch_size:
            raise UsageError(f"batch_size must be {int(cols) // per}: input {x_name!r} has {int(cols)} columns, "
                             f"{per} per example", arg="batch_size")
        if n < batch_size:
            raise UsageError(f"X: {n} examples, fewer than one mini-batch of {batch_size}")
    table = g.derivatives.get(cost, {})
    if any(p not in table for p in pnames):
        table = backprop(g, cost, pnames)
    grads = [table[p] for p in pnames]
    step_fn = compile_graph(g, outputs=[cost, *grads], dtype=dtype, backend=backend)
    eval_fn = compile_graph(g, outputs=[cost, pred] if pred else [cost], dtype=dtype, backend=backend,
                            name="evaluate")
    # dropout masks (`symgrad.layers.dropout`): drawn afresh for every mini-batch, all ones to evaluate
    drops = {a: float(g.node(a).meta["dropout"]) for a in step_fn.args
             if g.node(a).value is None and "dropout" in g.node(a).meta}
    consts = {a: np.asarray(g.node(a).value, dtype=dt) for a in step_fn.args
              if a not in pnames and a not in (x_name, y_name) and a not in drops}
    unknown = [a for a, v in consts.items() if g.node(a).value is None]
    if unknown:
        raise UsageError(f"node {unknown[0]!r}: an input train() does not feed needs a value")
    params = [np.array(g.node(p).value, dtype=dt) for p in pnames]
    opt = Optimizer(optimizer, params, lr, momentum)
    wd_mask = [g.node(p).kind in ("W", "w") for p in pnames]
    update = opt.step_fn(params, wd_mask, float(weight_decay))

    mask_rng = np.random.default_rng(None if seed is None else seed + 1)

    def masks(cols: int, train: bool) -> dict[str, np.ndarray]:
        out = {}
        for a, p in drops.items():
            shape = (int(g.node(a).shape[0]), cols)
            out[a] = ((mask_rng.random(shape) >= p) / (1 - p)).astype(dt) if train else np.ones(shape, dt)
        return out

    def call(fn: Any, xb: np.ndarray, yb: np.ndarray, train: bool = False) -> list[np.ndarray]:
        vals = {**dict(zip(pnames, params)), **consts, **masks(xb.shape[1], train), x_name: xb, y_name: yb}
        out = fn.fn(*[vals[a] for a in fn.args])
        return [np.asarray(o) for o in out]

    def evaluate(Xs: np.ndarray, Ys: np.ndarray, ls: np.ndarray, prefix: str) -> dict[str, float]:
        total, correct, seen = 0.0, 0, 0
        size = batch_size if fixed else 1000
        for s in range(0, Xs.shape[0] - (Xs.shape[0] % size if fixed else 0), size):
            idx = np.arange(s, min(s + size, Xs.shape[0]))
            out = call(eval_fn, _columns(Xs, idx), Ys[idx].T)
            total += float(out[0])
            if pred:
                p = out[1]
                guess = np.argmax(p, axis=0) if p.shape[0] > 1 else (p[0] > 0.5).astype(np.int64)
                correct += int(np.count_nonzero(guess == ls[idx]))
            seen += len(idx)
        return {f"{prefix}_cost": total / max(seen, 1), f"{prefix}_accuracy": correct / seen if pred and seen else None}

    rng = np.random.default_rng(seed)
    history = History()
    history.backend, history.dtype = backend, dtype
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(n)
        stop = n - n % batch_size if fixed else n
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for s in range(0, stop, batch_size):
                idx = perm[s : s + batch_size]
                out = call(step_fn, _columns(Xa, idx), Ya[idx].T, train=True)
                update(out[1:], len(idx))
        seconds = time.perf_counter() - t0
        if not all(np.isfinite(p).all() for p in params):
            raise TrainingError(f"epoch {epoch}: parameters became NaN or Inf (try a smaller `lr`)")
        record = {"epoch": epoch, "seconds": seconds, **evaluate(Xa, Ya, labels, "train")}
        record.update(evaluate(*hold, "holdout") if hold else {"holdout_cost": None, "holdout_accuracy": None})
        history.append(record)
        if callback is not None and callback(record) is False:
            break
    for p, v in zip(pnames, params):
        g.node(p).value = v
    return history
