r"""Training compiled networks: mini-batch SGD (Nielsen), momentum, Adam; the ``symgrad train`` command.

The cost of a mini-batch of m examples is summed over its examples, so the
update of Nielsen's ``network.py`` is

    w → w − (η/m) Σ_x ∂C_x/∂w,    b → b − (η/m) Σ_x ∂C_x/∂b,

with the gradients computed by the code :func:`symgrad.compile` generates from
the derivative graph. Momentum keeps a velocity v → μv − (η/m)∇C, w → w + v;
Adam (Kingma & Ba) uses the mean gradient g = ∇C/m. L2 weight decay λ adds
λ Σ_l ‖W^l‖² to each mini-batch's cost (so 2λW to ∂C/∂W).

The hot loop is what an expert writes by hand: examples shuffled once per
epoch (``np.random.default_rng(seed).permutation``), each mini-batch a view of
the shuffled rows (columns are examples), the generated function called with
positional arrays, parameters updated in place. Nothing is validated or
copied per step; NaN/Inf is detected once per epoch, and the epoch is then
replayed from its start with checks to name the step and the parameter.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import UsageError
from ..networks import Network, init_params, mlp
from ..store.data import check_finite
from .compile import compile

OPTIMIZERS = ("sgd", "momentum", "adam")
NONFINITE = ("raise", "stop", "ignore")


class TrainingError(UsageError):
    """Training diverged (NaN/Inf); the message names the epoch, step and parameter."""


class History(list):
    """The per-epoch records of a training run (a list of dicts).

    Each record has ``epoch`` (1-based), ``seconds`` (training time of that
    epoch, evaluation excluded), ``train_cost`` and ``train_accuracy`` (mean
    cost per example and fraction correct on the training set, measured after
    the epoch), and ``holdout_cost``, ``holdout_accuracy`` (``None`` without a
    held-out set). ``interrupted`` is set when a signal stopped the run.
    """

    interrupted: bool = False
    #: why training stopped early on NaN/Inf with ``on_nonfinite="stop"`` (else ``None``)
    stopped: str | None = None

    def column(self, key: str) -> list[Any]:
        return [r.get(key) for r in self]

    def to_json(self) -> str:
        def clean(v: Any) -> Any:  # NaN/Inf (on_nonfinite="ignore") are not JSON: null
            return None if isinstance(v, float) and not math.isfinite(v) else v

        epochs = [{k: clean(v) for k, v in r.items()} for r in self]
        return json.dumps({"epochs": epochs, "interrupted": self.interrupted, "stopped": self.stopped})


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


# ----------------------------------------------------------------- optimizers
class _Optimizer:
    """In-place update rules; ``state`` holds arrays that checkpoints save."""

    def __init__(self, kind: str, params: list[np.ndarray], lr: float, momentum: float,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        if kind not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
        self.kind, self.lr, self.mu = kind, float(lr), float(momentum)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.v = [np.zeros_like(p) for p in params] if kind == "momentum" else []
        self.m1 = [np.zeros_like(p) for p in params] if kind == "adam" else []
        self.m2 = [np.zeros_like(p) for p in params] if kind == "adam" else []

    def state(self, names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"t": np.asarray(self.t, dtype=np.int64)}
        for key, arrays in (("v", self.v), ("m1", self.m1), ("m2", self.m2)):
            if arrays:
                out[key] = {n: a.copy() for n, a in zip(names, arrays)}  # a snapshot, not the live arrays
        return out

    def load(self, state: Mapping[str, Any], names: Sequence[str]) -> None:
        self.t = int(np.asarray(state.get("t", 0)))
        for key in ("v", "m1", "m2"):
            arrays = getattr(self, key)
            if arrays:
                saved = state.get(key)
                if not isinstance(saved, Mapping):
                    raise UsageError(f"checkpoint has no {self.kind} state {key!r}")
                for i, n in enumerate(names):
                    arrays[i][...] = saved[n]

    def step_fn(self, params: list[np.ndarray], wd_mask: list[bool], weight_decay: float) -> Callable:
        """The update ``step(grads, m)`` for a mini-batch of m examples, closed over the arrays."""
        pairs = list(zip(params, wd_mask))
        lr, lam2 = self.lr, 2.0 * weight_decay
        if self.kind == "sgd":
            if lam2 == 0.0:
                def step(grads: tuple, m: int) -> None:
                    eta = lr / m
                    for p, g in zip(params, grads):
                        p -= eta * g
            else:
                def step(grads: tuple, m: int) -> None:
                    eta = lr / m
                    for (p, decay), g in zip(pairs, grads):
                        if decay:
                            g = g + lam2 * p
                        p -= eta * g
            return step
        if self.kind == "momentum":
            mu, vs = self.mu, self.v

            def step(grads: tuple, m: int) -> None:
                eta = lr / m
                for (p, decay), v, g in zip(pairs, vs, grads):
                    if decay and lam2:
                        g = g + lam2 * p
                    v *= mu
                    v -= eta * g
                    p += v
            return step
        b1, b2, eps, m1s, m2s = self.beta1, self.beta2, self.eps, self.m1, self.m2

        def step(grads: tuple, m: int) -> None:
            self.t += 1
            t = self.t
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            for (p, decay), a1, a2, g in zip(pairs, m1s, m2s, grads):
                if decay and lam2:
                    g = g + lam2 * p
                g = g / m
                a1 *= b1
                a1 += (1 - b1) * g
                a2 *= b2
                a2 += (1 - b2) * (g * g)
                p -= alpha * a1 / (np.sqrt(a2) + eps)
        return step


# ------------------------------------------------------------------- training
class _Stop:
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
    """The compiled gradient function, the parameters (in place) and the update: one epoch at a time.

    :func:`train` drives it; the benchmark times :meth:`run_epoch` itself.
    """

    def __init__(self, net: Network, lr: float, batch_size: int, optimizer: str = "sgd", momentum: float = 0.9,
                 weight_decay: float = 0.0, dtype: str = "float64") -> None:
        layer = _layer_twin(net)
        table = layer.backprop()
        model = compile(layer, dtype=dtype, outputs=list(table.values()))
        pnames = [a for a in model.args if a in table]
        if [model.outputs.index(table[p]) for p in pnames] != list(range(len(pnames))):
            model = compile(layer, dtype=dtype, outputs=[table[p] for p in pnames])
        if list(model.args) != [*pnames, "x", "y"]:  # pragma: no cover - mlp graphs always give this
            raise UsageError(f"cannot train: the gradient function takes {model.args}")
        self.grad_model, self.grad_fn, self.pnames = model, model.fn, pnames
        # evaluation: the data cost (no decay term: it is not a per-example cost) and a^L
        plain = mlp(net.sizes, layer.activation, layer.cost, level="layer", output=layer.output)
        self.eval_model = compile(plain, dtype=dtype, outputs=["C", f"a{len(net.sizes)}"])
        start = net.params()
        self.params = [np.array(start[p], dtype=np.dtype(dtype), order="C") for p in pnames]
        self.opt = _Optimizer(optimizer, self.params, lr, momentum)
        self.wd_mask = [p.startswith("W") for p in pnames]
        self.step = self.opt.step_fn(self.params, self.wd_mask, float(weight_decay))
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        # plain SGD: one generated function computes the gradients and updates in place
        self.sgd_fn = None
        if optimizer == "sgd" and not weight_decay:
            self.sgd_fn = compile(layer, dtype=dtype, outputs=[table[p] for p in pnames], update="sgd").fn

    def run_epoch(self, Xe: np.ndarray, Ye: np.ndarray, flag: list | None = None) -> None:
        """One pass over the (already shuffled) rows of ``Xe``, ``Ye`` in mini-batches (columns = examples)."""
        grad_fn, step, params, bs = self.grad_fn, self.step, self.params, self.batch_size
        flag = flag or [False]
        n = Xe.shape[0]
        if self.sgd_fn is not None:
            sgd, (W2, *rest), eta = self.sgd_fn, params, self.lr / bs
            if len(params) == 4:  # the common 2-layer case, spelled out: no argument tuple per step
                b2, W3, b3 = rest
                full = n - n % bs
                for s in range(0, full, bs):
                    sgd(W2, b2, W3, b3, Xe[s : s + bs].T, Ye[s : s + bs].T, eta)
                    if flag[0]:
                        return
                if full < n:
                    sgd(W2, b2, W3, b3, Xe[full:].T, Ye[full:].T, self.lr / (n - full))
                return
            for s in range(0, n, bs):
                xb = Xe[s : s + bs].T
                sgd(*params, xb, Ye[s : s + bs].T, self.lr / xb.shape[1])
                if flag[0]:
                    return
            return
        for s in range(0, n, bs):
            xb = Xe[s : s + bs].T
            step(grad_fn(*params, xb, Ye[s : s + bs].T), xb.shape[1])
            if flag[0]:
                return


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
    stop: _Stop | None = None,
    on_nonfinite: str = "raise",
) -> History:
    """Train ``net`` on examples ``X`` (n, d) with labels (n,) or targets (n, k); return the :class:`History`.

    Parameters start from the network's values (or :func:`init_params` with
    ``init`` and ``seed`` when it has none) and end in the network
    (``net.params()``). ``holdout=(X_h, labels_h)`` is evaluated after every
    epoch. ``callback(record)`` is called after every epoch; returning ``False``
    stops training. ``checkpoint=PATH`` saves parameters, optimizer state,
    epoch and the shuffling generator's state after every epoch (atomically);
    ``resume=PATH`` continues such a run exactly.

    ``on_nonfinite`` says what happens when the parameters or the cost become
    NaN or Inf (divergence): ``"raise"`` (default) raises :class:`TrainingError`
    naming the epoch, the step and the parameter; ``"stop"`` ends training with
    the parameters of the last finite epoch and sets ``history.stopped`` to the
    reason; ``"ignore"`` carries on (no checkpoint is written for non-finite
    parameters).
    """
    if not isinstance(net, Network):
        raise UsageError(f"train() needs a Network (symgrad.mlp(...)), got {type(net).__name__}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "epochs" else 1):
            raise UsageError(f"{name} must be a whole number ≥ {0 if name == 'epochs' else 1}, got {v!r}")
    if not (_is_number(lr) and math.isfinite(lr) and lr > 0):
        raise UsageError(f"lr (η) must be a positive finite number, got {lr!r}")
    if not (_is_number(momentum) and 0 <= momentum < 1):
        raise UsageError(f"momentum (μ) must be a number in [0, 1), got {momentum!r}")
    if not (_is_number(weight_decay) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise UsageError(f"weight_decay (λ) must be a finite number ≥ 0, got {weight_decay!r}")
    if on_nonfinite not in NONFINITE:
        raise UsageError(f"on_nonfinite must be one of {', '.join(NONFINITE)}, got {on_nonfinite!r}")
    if weight_decay and net.weight_decay is not None:
        raise UsageError("weight decay given twice: the network's cost already has it (mlp(weight_decay=...))")
    if dtype not in ("float64", "float32"):
        raise UsageError(f"dtype must be float64 or float32, got {dtype!r}")
    np_dtype = np.dtype(dtype)
    sizes = net.sizes
    k = sizes[-1]
    Xtr = _inputs(X, sizes[0], np_dtype)
    n = Xtr.shape[0]
    Ytr, labels_tr = _targets(labels_or_Y, n, k, np_dtype)
    hold = None
    if holdout is not None:
        if not isinstance(holdout, (tuple, list)) or len(holdout) != 2:
            raise UsageError("holdout must be a pair (X_holdout, labels_holdout)")
        Xh = _inputs(holdout[0], sizes[0], np_dtype, "holdout X")
        Yh, lh = _targets(holdout[1], Xh.shape[0], k, np_dtype, "holdout labels")
        hold = (Xh, Yh, lh)

    if any(v is None for v in (net.graph.node(n_).value for n_ in _leaf_names(net))):
        net.set_params(init_params(sizes, init, seed))
    elif resume is None:
        for name, value in net.params().items():
            check_finite(f"initial parameter {name}", value)
    trainer = Trainer(net, lr, batch_size, optimizer, momentum, weight_decay, dtype)
    params, opt, pnames, eval_model = trainer.params, trainer.opt, trainer.pnames, trainer.eval_model
    rng = np.random.default_rng(seed)
    history = History()
    first_epoch = 1
    spec = net.spec()
    config = {"batch_size": int(batch_size), "lr": float(lr), "optimizer": optimizer, "momentum": float(momentum),
              "weight_decay": float(weight_decay), "seed": seed, "dtype": dtype}
    if resume is not None:
        first_epoch = _resume(resume, spec, config, pnames, params, opt, rng, history) + 1
    stop = stop or _Stop()
    flag = stop.flag
    bar = _progress(epochs, first_epoch - 1, progress)
    try:
        for epoch in range(first_epoch, epochs + 1):
            snapshot = ([p.copy() for p in params], opt.state(pnames), rng.bit_generator.state)
            perm = rng.permutation(n)
            Xe, Ye = Xtr[perm], Ytr[perm]  # one shuffle per epoch; mini-batches are views
            t0 = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is checked below
                trainer.run_epoch(Xe, Ye, flag)
            seconds = time.perf_counter() - t0
            if flag[0]:
                history.interrupted = True
                break
            finite = all(np.isfinite(p).all() for p in params)
            if not finite and on_nonfinite != "ignore":
                try:
                    _diagnose(epoch, snapshot, Xtr, Ytr, batch_size, trainer.grad_fn, pnames, params, opt,
                              trainer.wd_mask, weight_decay, n)
                except TrainingError as e:
                    if on_nonfinite == "raise":
                        raise
                    _restore(snapshot, params, opt, pnames, rng)
                    history.stopped = str(e)
                    break
            record = {"epoch": epoch, "seconds": seconds}
            record.update(_evaluate(eval_model, params, Xtr, Ytr, labels_tr, "train"))
            if hold is not None:
                record.update(_evaluate(eval_model, params, *hold, "holdout"))
            else:
                record.update(holdout_cost=None, holdout_accuracy=None)
            if finite and not math.isfinite(record["train_cost"]) and on_nonfinite != "ignore":
                # finite but huge parameters: the cost itself overflowed (divergence, e.g. too large a --lr)
                big = max(range(len(params)), key=lambda i: float(np.max(np.abs(params[i]))))
                j = np.unravel_index(int(np.argmax(np.abs(params[big]))), params[big].shape)
                msg = (f"epoch {epoch}, after step {-(-n // batch_size)} (its last): the training cost is "
                       f"{record['train_cost']} although the parameters are finite; parameter {pnames[big]} "
                       f"reached {params[big][j]:.3g} at index {tuple(int(i) for i in j)} (diverged: try a "
                       "smaller --lr)")
                if on_nonfinite == "raise":
                    raise TrainingError(msg)
                _restore(snapshot, params, opt, pnames, rng)
                history.stopped = msg
                break
            history.append(record)
            if checkpoint is not None and (finite or on_nonfinite != "ignore"):
                save_checkpoint(checkpoint, spec, dict(zip(pnames, params)), opt.state(pnames), epoch, rng,
                                history, config)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(cost=f"{record['train_cost']:.4g}", acc=record.get("holdout_accuracy"))
            if callback is not None and callback(record) is False:
                break
    finally:
        if bar is not None:
            bar.close()
        net.set_params(dict(zip(pnames, params)))
    return history


def _leaf_names(net: Network) -> list[str]:
    return [p.name for p in net.graph.parameters]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _restore(snapshot: tuple, params: list[np.ndarray], opt: _Optimizer, pnames: list[str],
             rng: np.random.Generator) -> None:
    """Back to the start of the epoch (``on_nonfinite="stop"``): the last finite parameters."""
    saved, opt_state, rng_state = snapshot
    for p, s in zip(params, saved):
        p[...] = s
    opt.load(opt_state, pnames)
    rng.bit_generator.state = rng_state


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


def _diagnose(epoch, snapshot, X, Y, batch_size, grad_fn, pnames, params, opt, wd_mask, weight_decay, n) -> None:
    """Replay the epoch from its start with checks, to name the step and parameter that went non-finite."""
    saved, opt_state, rng_state = snapshot
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    for p, s in zip(params, saved):
        p[...] = s
    opt.load(opt_state, pnames)
    step = opt.step_fn(params, wd_mask, float(weight_decay))
    perm = rng.permutation(n)
    Xe, Ye = X[perm], Y[perm]
    with np.errstate(all="ignore"):
        for i, s in enumerate(range(0, n, batch_size), start=1):
            xb, yb = Xe[s : s + batch_size].T, Ye[s : s + batch_size].T
            grads = grad_fn(*params, xb, yb)
            for name, g in zip(pnames, grads):
                if not np.isfinite(g).all():
                    raise TrainingError(
                        f"epoch {epoch}, step {i}: the gradient ∂C/∂{name} is NaN or Inf "
                        "(diverged: try a smaller --lr or another cost/activation)"
                    )
            step(grads, xb.shape[1])
            for name, p in zip(pnames, params):
                if not np.isfinite(p).all():
                    raise TrainingError(f"epoch {epoch}, step {i}: parameter {name} became NaN or Inf (try a smaller --lr)")
    raise TrainingError(f"epoch {epoch}: parameters became NaN or Inf")  # pragma: no cover - replay is exact


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(path: Any, spec: Mapping[str, Any], params: Mapping[str, np.ndarray], opt_state: Mapping[str, Any],
                    epoch: int, rng: np.random.Generator, history: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any]) -> None:
    """Parameters, optimizer state, epoch, the shuffling generator and the history, in one atomic ``.npz``."""
    from ..store.model_file import save_model

    extra = {
        "kind": "symgrad-checkpoint",
        "epoch": int(epoch),
        "rng": json.dumps(rng.bit_generator.state),  # 128-bit integers: kept exact as text
        "history": json.dumps(list(history)),
        "config": dict(config),
        "optimizer": dict(opt_state),
    }
    save_model(path, spec, params, extra=extra)


def _resume(path: Any, spec: Mapping[str, Any], config: Mapping[str, Any], pnames: list[str],
            params: list[np.ndarray], opt: _Optimizer, rng: np.random.Generator, history: History) -> int:
    from ..store.model_file import load_checkpoint

    try:
        cspec, cparams, extra = load_checkpoint(path)
    except UsageError as e:
        raise UsageError(f"--resume {e}") from None
    if extra.get("kind") != "symgrad-checkpoint":
        raise UsageError(f"--resume {path}: a saved model, not a training checkpoint (no epoch and optimizer state)")
    flags = {"sizes": "--sizes", "activation": "--activation", "cost": "--cost", "output": "--cost",
             "weight_decay": "--weight-decay", "batch_size": "--batch-size", "optimizer": "--optimizer",
             "seed": "--seed", "dtype": "--dtype", "lr": "--lr", "momentum": "--momentum"}
    for key in ("sizes", "activation", "cost", "output", "weight_decay"):
        mine, theirs = spec.get(key), cspec.get(key)
        if key == "sizes":
            mine, theirs = list(mine), list(theirs)
        if mine != theirs:
            raise UsageError(f"--resume {path}: the checkpoint's network has {key} {theirs!r}, this run has "
                             f"{mine!r} ({flags[key]})")
    saved = extra.get("config")
    if not isinstance(saved, Mapping):
        raise UsageError(f"--resume {path}: corrupt checkpoint: no training configuration")
    keys = ["batch_size", "optimizer", "seed", "dtype", "lr", "weight_decay"]
    if config["optimizer"] == "momentum":
        keys.append("momentum")
    for key in keys:
        if saved.get(key) != config[key]:
            raise UsageError(f"--resume {path}: the checkpoint was made with {key} {saved.get(key)!r}, this run "
                             f"has {config[key]!r} ({flags[key]})")
    try:
        epoch = int(extra["epoch"])
        rng_state = json.loads(extra["rng"])
        past = json.loads(extra.get("history", "[]"))
        for name, p in zip(pnames, params):
            p[...] = cparams[name]
        opt.load(extra.get("optimizer", {}), pnames)
        rng.bit_generator.state = rng_state
    except UsageError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"--resume {path}: corrupt checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(past, list) or len(past) != epoch:
        raise UsageError(f"--resume {path}: corrupt checkpoint: its history does not match epoch {epoch}")
    history.extend(past)
    return epoch


# ------------------------------------------------------------------ the CLI
def _load_data(args: Any) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, str]:
    from ..store import data

    holdout = args.holdout
    if args.labels and not args.images:
        raise UsageError("--labels goes with --images")
    if args.images:
        if not args.labels:
            raise UsageError("--images needs --labels FILE")
        X, labels = data.load_idx(args.images, args.labels)
        source = args.images
    elif args.mnist:
        d = data.load_mnist(args.mnist)
        X, labels = d["train"]
        source = args.mnist
        if holdout is None:
            return X, labels, d["test"], source
    elif args.dataset:
        X, labels = data.dataset(args.dataset, seed=args.seed)
        source = args.dataset
    else:
        raise UsageError("give the data: --mnist DIR, --images FILE --labels FILE, or --dataset NAME")
    if holdout is not None:
        if holdout < 1 or holdout >= X.shape[0]:
            raise UsageError(f"--holdout {holdout} must be between 1 and {X.shape[0] - 1} (the data from {source} "
                             f"have {X.shape[0]} examples)")
        (X, labels), hold = data.split(X, labels, holdout)
        return X, labels, hold, source
    return X, labels, None, source


def _check_writable(flag: str, path: str) -> None:
    """Fail fast, before any training, if ``path`` cannot be written: a directory, no folder, no permission."""
    import os
    import secrets

    from ..store.model_file import _check_target

    try:
        target = _check_target(path)
    except UsageError as e:
        raise UsageError(f"{flag} {path}: {e}") from None
    probe = target.parent / f".{target.name}.{secrets.token_hex(6)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write in {target.parent}: {e.strerror or e}") from None


def _check_flags(args: Any) -> None:
    """The numeric flags and output paths, checked before the data are loaded or anything is trained."""
    sizes = list(args.sizes)
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UsageError(f"--lr (η) must be a positive finite number, got {args.lr}")
    if not (0 <= args.momentum < 1):
        raise UsageError(f"--momentum (μ) must be in [0, 1), got {args.momentum}")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise UsageError(f"--weight-decay (λ) must be a finite number ≥ 0, got {args.weight_decay}")
    if args.cost == "log_likelihood" and sizes[-1] == 1:
        raise UsageError(f"--cost log_likelihood needs at least two output neurons (softmax), but --sizes "
                         f"{','.join(map(str, sizes))} ends in 1")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot {args.plot!r}: the file name must end in .png")
    for flag, path in (("--save", args.save), ("--checkpoint", args.checkpoint), ("--plot", args.plot)):
        if path:
            _check_writable(flag, path)
    if args.resume:
        from pathlib import Path

        p = Path(args.resume)
        if not p.exists():
            raise UsageError(f"--resume {args.resume}: no such file")
        if not p.is_file():
            raise UsageError(f"--resume {args.resume}: not a file")


def main(args: Any) -> int:
    """``symgrad train``: train on MNIST / IDX files / a built-in dataset; print per-epoch lines (and JSON)."""
    _check_flags(args)
    if args.plot:
        try:
            from ..printing import plotting
        except ImportError as e:
            raise UsageError(f"--plot needs matplotlib (pip install 'symgrad[plot]'): {e}") from None
    X, labels, hold, source = _load_data(args)
    sizes = list(args.sizes)
    if X.shape[1] != sizes[0]:
        raise UsageError(f"--sizes {','.join(map(str, sizes))} starts with {sizes[0]} inputs but the examples "
                         f"from {source} have {X.shape[1]} features (data shape {X.shape})")
    k = sizes[-1]
    top = int(np.max(labels))
    if (k == 1 and top > 1) or (k > 1 and top >= k):
        raise UsageError(f"--sizes {','.join(map(str, sizes))} ends with {k} output neuron{'s' * (k > 1)} but the "
                         f"labels from {source} go up to {top} (data shape {X.shape}, {top + 1} classes)")
    wd = args.weight_decay or None
    net = mlp(sizes, args.activation, args.cost, level="layer", weight_decay=wd, seed=args.seed, init=args.init)
    stop = _Stop()

    def handler(signum: int, frame: Any) -> None:
        if stop.flag[0] and signum == signal.SIGINT:  # a second Ctrl-C: stop now (checkpoints stay atomic)
            raise KeyboardInterrupt
        stop.flag[0] = True
        stop.signum = signum

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    log = sys.stdout

    def report(r: dict[str, Any]) -> None:
        hold_txt = "" if r["holdout_accuracy"] is None else f", holdout accuracy {r['holdout_accuracy']:.4f}"
        print(f"epoch {r['epoch']}/{args.epochs}: train cost {r['train_cost']:.5g}, train accuracy "
              f"{r['train_accuracy']:.4f}{hold_txt} ({r['seconds']:.3f} s)", file=log, flush=True)

    try:
        history = train(
            net, X, labels, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            optimizer=args.optimizer, momentum=args.momentum, seed=args.seed, dtype=args.dtype,
            holdout=hold, progress=not args.quiet, callback=report, init=args.init,
            checkpoint=args.checkpoint, resume=args.resume, stop=stop,
            on_nonfinite=getattr(args, "on_nonfinite", "raise"),
        )
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if history.interrupted:
        where = f"; the checkpoint {args.checkpoint} holds epoch {history[-1]['epoch']}" if (
            args.checkpoint and history) else ""
        print(f"symgrad train: interrupted during epoch {len(history) + 1}{where}", file=sys.stderr)
    if history.stopped:
        print(f"symgrad train: stopped: {history.stopped}", file=sys.stderr)
    if args.save and not history.interrupted:
        from ..store.model_file import save_model

        save_model(args.save, net.spec(), net.params())
        print(f"saved {args.save}", file=log)
    if args.plot and history:
        plotting.training_curves(history, args.plot)
    if args.json:
        print(history.to_json(), flush=True)
    if history.interrupted:
        return 130 if stop.signum == signal.SIGINT else 143
    return 0
