"""Training checkpoints: what a run saves after every epoch to continue exactly, and its snapshots.

A checkpoint is a model file (`symgrad.store.model_file`) whose `extra` holds
`kind = "symgrad-checkpoint"`, the epoch, the optimizer's state (its moment arrays and
Adam's step count t), the shuffling generator's state, the history so far and the run's
configuration (batch size, optimizer, seed, dtype, η, λ, μ; the backend and device count for
the record). Everything is host NumPy arrays and JSON, the same for both backends: a run
checkpointed by NumPy resumes in JAX and the other way round. `resume` reads it all back
after checking that the run asking for it is the same run. A snapshot is the same state in
memory, taken at the start of an epoch, to go back to when the epoch diverges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import UsageError
from ..store.model_file import load_checkpoint, save_model

KIND = "symgrad-checkpoint"
#: The training settings a resumed run must share with its checkpoint (momentum only for that optimizer).
SETTINGS = ("batch_size", "optimizer", "seed", "dtype", "lr", "weight_decay")
#: the schedule of a checkpoint written before schedules
CONSTANT = {"kind": "constant"}
Snapshot = tuple[list[np.ndarray], dict[str, Any], dict[str, Any]]

__all__ = ["KIND", "MAX_EPOCH", "SETTINGS", "restore", "resume", "save_checkpoint", "snapshot"]


def save_checkpoint(path: Any, spec: Mapping[str, Any], params: Mapping[str, np.ndarray], opt_state: Mapping[str, Any],
                    epoch: int, rng: np.random.Generator, history: Sequence[Mapping[str, Any]],
                    config: Mapping[str, Any], best: Mapping[str, Any] | None = None) -> None:
    """Parameters, optimizer state, epoch, the shuffling generator and the history, in one atomic `.npz`;
    with `best` (keep-best: `{"epoch": e, "params": {name: array}}`) the best epoch's parameters too."""
    extra = {
        "kind": KIND,
        "epoch": int(epoch),
        "rng": json.dumps(rng.bit_generator.state),  # 128-bit integers: kept exact as text
        "history": json.dumps(list(history)),
        "config": dict(config),
        "optimizer": dict(opt_state),
    }
    if best is not None:
        extra["best"] = dict(best)
    save_model(path, spec, params, extra=extra)


def _check_same_run(path: Any, spec: Mapping[str, Any], config: Mapping[str, Any], cspec: Mapping[str, Any],
                    extra: Mapping[str, Any], override: Sequence[str] = ()) -> None:
    """The checkpoint's network and training settings are this run's (else a UsageError naming the setting and
    how to change it, when it may change); the settings in `override` may differ."""
    if extra.get("kind") != KIND:
        raise UsageError(f"resume {path}: a saved model, not a training checkpoint (no epoch and optimizer state)",
                         arg="resume")
    for key in ("sizes", "activation", "cost", "output", "weight_decay"):
        mine, theirs = spec.get(key), cspec.get(key)
        if key == "sizes":
            mine, theirs = list(mine), list(theirs)
        if mine != theirs:
            raise UsageError(f"resume {path}: the checkpoint's network has `{key}` {theirs!r}, this run has "
                             f"{mine!r}", arg="resume")
    saved = extra.get("config")
    if not isinstance(saved, Mapping):
        raise UsageError(f"resume {path}: corrupt checkpoint: no training configuration", arg="resume")
    keys = [*SETTINGS, "momentum"] if config["optimizer"] == "momentum" else list(SETTINGS)
    for key in [*keys, "schedule"]:
        theirs = saved.get(key, CONSTANT) if key == "schedule" else saved.get(key)  # older checkpoints: constant η
        if key in override or key not in config or theirs == config[key]:
            continue
        hint = ""
        if key == "lr":
            hint = f" (give `lr={theirs!r}`, or `override` lr to train on with this run's)"
        elif key == "schedule":
            hint = " (give the same schedule, or `override` schedule to follow this run's)"
        raise UsageError(f"resume {path}: the checkpoint was made with `{key}` {theirs!r}, this run "
                         f"has {config[key]!r}{hint}", arg="resume")


#: The most epochs a checkpoint may claim (a bound on hostile numbers, far beyond any real run).
MAX_EPOCH = 10**9
#: How deep JSON inside a checkpoint may nest (the generator's state nests 2 levels, history records 1).
_MAX_DEPTH = 8
_RECORD_NUMBERS = ("seconds", "train_cost", "train_accuracy", "holdout_cost", "holdout_accuracy")


def _json_field(path: Any, field: str, text: Any) -> Any:
    """JSON text of a checkpoint's field, parsed with its nesting bounded (no RecursionError on `[[[…`)."""
    if not isinstance(text, str):
        raise UsageError(f"resume {path}: corrupt checkpoint: field {field!r} is {type(text).__name__}, "
                         "expected JSON text", arg="resume")
    depth = 0
    for ch in text:  # brackets inside strings count too: an over-estimate, and a real state has no brackets there
        if ch in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                raise UsageError(f"resume {path}: corrupt checkpoint: field {field!r} nests deeper than "
                                 f"{_MAX_DEPTH} levels", arg="resume")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise UsageError(f"resume {path}: corrupt checkpoint: field {field!r} is not valid JSON ({e})",
                         arg="resume") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_history(path: Any, past: Any, epoch: int) -> list[dict[str, Any]]:
    """The history records: a list of `epoch` dictionaries, record i for epoch i + 1, their figures numbers."""
    def bad(what: str) -> UsageError:
        return UsageError(f"resume {path}: corrupt checkpoint: field 'history' {what}", arg="resume")

    if not isinstance(past, list):
        raise bad(f"is {type(past).__name__}, expected a list of epoch records")
    if len(past) != epoch:
        raise bad(f"holds {len(past)} records but field 'epoch' is {epoch}")
    for i, record in enumerate(past):
        if not isinstance(record, dict):
            raise bad(f"record {i} is {type(record).__name__} {_short(record)}, expected a dictionary")
        if record.get("epoch") != i + 1 or not _is_int(record.get("epoch")):
            raise bad(f"record {i} is for epoch {_short(record.get('epoch'))}, expected {i + 1}")
        for key in _RECORD_NUMBERS:
            v = record.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise bad(f"record {i} has {key} {_short(v)}, expected a number")
    return past


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_epoch(path: Any, epoch: Any) -> int:
    if not _is_int(epoch) or not 0 <= epoch <= MAX_EPOCH:
        raise UsageError(f"resume {path}: corrupt checkpoint: field 'epoch' is {_short(epoch)}, expected a whole "
                         f"number from 0 to {MAX_EPOCH:,}", arg="resume")
    return int(epoch)


def _check_rng(path: Any, state: Any, rng: np.random.Generator) -> None:
    """The shuffling generator's saved state: the same kind of bit generator, integer fields, accepted by NumPy."""
    kind = rng.bit_generator.state["bit_generator"]
    ok = (isinstance(state, dict) and state.get("bit_generator") == kind and isinstance(state.get("state"), dict)
          and all(_is_int(v) for v in state["state"].values())
          and all(_is_int(state.get(k)) for k in ("has_uint32", "uinteger")))
    if not ok:
        raise UsageError(f"resume {path}: corrupt checkpoint: field 'rng' is not a {kind} generator state",
                         arg="resume")
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, OverflowError) as e:
        raise UsageError(f"resume {path}: corrupt checkpoint: field 'rng' ({e})", arg="resume") from None


def resume(path: Any, spec: Mapping[str, Any], config: Mapping[str, Any], pnames: list[str],
           shapes: Mapping[str, tuple], rng: np.random.Generator,
           history: list, override: Sequence[str] = (), data: str | None = None,
           force: bool = False) -> tuple[int, list[np.ndarray], dict[str, Any], dict[str, Any]]:
    """Read the checkpoint at `path` back: `(its epoch, the parameters, the optimizer state, its extra)`; the
    shuffling generator and the history are put back in place. `override` names the settings (`lr`,
    `schedule`) this run may change.

    Every field is checked before it is used (a tampered file is a `UsageError` naming the file and the
    field). `data` is this run's `symgrad.store.data.fingerprint`: a checkpoint made on other data is refused unless
    `force`.
    """
    try:
        cspec, cparams, extra = load_checkpoint(path)
    except UsageError as e:
        raise UsageError(f"resume {e}", arg="resume") from None
    _check_same_run(path, spec, config, cspec, extra, override)
    saved = extra["config"].get("data")
    if data is not None and saved is not None and saved != data and not force:
        raise UsageError(f"resume {path}: the checkpoint was made on other training data (sha256 {str(saved)[:16]}…, "
                         f"these data {data[:16]}…); `force` resumes anyway", arg="resume")
    epoch = _check_epoch(path, extra.get("epoch"))
    rng_state = _json_field(path, "rng", extra.get("rng"))
    past = _check_history(path, _json_field(path, "history", extra.get("history", "[]")), epoch)
    try:
        params = [np.asarray(cparams[name]) for name in pnames]
        opt_state = extra.get("optimizer", {})
        if not isinstance(opt_state, Mapping):
            raise TypeError("the optimizer state is not a mapping")
        for key in ("v", "m1", "m2"):
            group = opt_state.get(key)
            if group is not None and (not isinstance(group, Mapping) or any(
                    np.shape(group.get(n)) != tuple(shapes[n]) for n in pnames)):
                raise ValueError(f"optimizer state {key!r} does not fit the parameters")
        t = opt_state.get("t")
        if t is not None and not (_is_int(t) or (isinstance(t, np.ndarray) and t.shape == () and t.dtype.kind in "iu"
                                                 and 0 <= int(t) <= 2**62)):
            raise ValueError(f"optimizer state 't' is {_short(t)}, expected a step count")
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"resume {path}: corrupt checkpoint ({type(e).__name__}: {e})", arg="resume") from None
    _check_rng(path, rng_state, rng)
    history.extend(past)
    return epoch, params, dict(opt_state), extra


def snapshot(trainer: Any, rng: np.random.Generator) -> Snapshot:
    """A trainer's parameters and optimizer state and the generator's state now (host copies), to `restore`."""
    return [np.array(p, copy=True) for p in trainer.host_params()], trainer.opt_state(), rng.bit_generator.state


def restore(saved: Snapshot, trainer: Any, rng: np.random.Generator) -> None:
    """Back to a `snapshot` (the last finite parameters, for `on_nonfinite="stop"`)."""
    arrays, opt_state, rng_state = saved
    trainer.load(arrays, opt_state)
    rng.bit_generator.state = rng_state
