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

__all__ = ["KIND", "SETTINGS", "restore", "resume", "save_checkpoint", "snapshot"]


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


def resume(path: Any, spec: Mapping[str, Any], config: Mapping[str, Any], pnames: list[str],
           shapes: Mapping[str, tuple], rng: np.random.Generator,
           history: list, override: Sequence[str] = ()) -> tuple[int, list[np.ndarray], dict[str, Any], dict[str, Any]]:
    """Read the checkpoint at `path` back: `(its epoch, the parameters, the optimizer state, its extra)`; the
    shuffling generator and the history are put back in place. `override` names the settings (`lr`,
    `schedule`) this run may change."""
    try:
        cspec, cparams, extra = load_checkpoint(path)
    except UsageError as e:
        raise UsageError(f"resume {e}", arg="resume") from None
    _check_same_run(path, spec, config, cspec, extra, override)
    try:
        epoch = int(extra["epoch"])
        rng_state = json.loads(extra["rng"])
        past = json.loads(extra.get("history", "[]"))
        params = [np.asarray(cparams[name]) for name in pnames]
        opt_state = extra.get("optimizer", {})
        if not isinstance(opt_state, Mapping):
            raise TypeError("the optimizer state is not a mapping")
        for key in ("v", "m1", "m2"):
            group = opt_state.get(key)
            if group is not None and (not isinstance(group, Mapping) or any(
                    np.shape(group.get(n)) != tuple(shapes[n]) for n in pnames)):
                raise ValueError(f"optimizer state {key!r} does not fit the parameters")
        rng.bit_generator.state = rng_state
    except UsageError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"resume {path}: corrupt checkpoint ({type(e).__name__}: {e})", arg="resume") from None
    if not isinstance(past, list) or len(past) != epoch:
        raise UsageError(f"resume {path}: corrupt checkpoint: its history does not match epoch {epoch}", arg="resume")
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
