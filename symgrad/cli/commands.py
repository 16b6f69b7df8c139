"""The subcommands' work: each takes the parsed flags and calls the library (derive, verify, train, graph, explain).

What is only the command line's lives here: reading the data a flag names, checking
that output paths can be written before minutes of training, signals, what is printed.
The library's own errors name Python arguments; :mod:`symgrad.cli.main` spells them as
these commands' flags.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..derivation.derive import render
from ..derivation.explain import explain as explain_step
from ..derivation.explain import fmt, load_weights
from ..derivation.verify import verify_bp
from ..errors import UsageError, require
from ..networks import count_params, mlp
from ..numeric.train import Stop, check_settings
from ..numeric.train import train as train_network
from ..printing.drawing import check_extra, draw, network_for, title_of
from ..printing.plotting import check_path, run_title, training_curves
from ..printing.report import report_format
from ..store import data
from ..store.files import check_writable
from ..store.model_file import save_model

__all__ = ["derive", "explain", "graph", "train", "verify"]


# ------------------------------------------------------------------ derive
def derive(args: argparse.Namespace) -> int:
    """``symgrad derive``: print a network's derivative formulas."""
    if args.level == "neuron" and not args.param:
        n_params = count_params(args.sizes)
        if n_params > args.max_formulas:
            raise UsageError(
                f"--sizes {','.join(map(str, args.sizes))} at neuron level has {n_params} parameters, one formula "
                f"each; use --level layer, pick some with --param, or raise --max-formulas"
            )
    net = mlp(args.sizes, args.activation, args.cost, level=args.level)
    print(render(net, args.format, args.param, args.form))
    return 0


# ------------------------------------------------------------------ verify
def verify(args: argparse.Namespace) -> int:
    """``symgrad verify``: print the report; 0 when everything holds, 1 otherwise."""
    if args.points < 1 or args.batch < 1:
        raise UsageError("--points and --batch must be at least 1")
    n_params = count_params(args.sizes)
    if n_params * args.batch > args.max_params:
        # Exact proofs grow faster than linearly: 220 parameters take ~13 s, 840 ~4 min.
        raise UsageError(
            f"--sizes {','.join(map(str, args.sizes))} has {n_params} parameters"
            f"{f' × batch {args.batch}' if args.batch > 1 else ''}; an exact proof that large takes minutes "
            f"to hours (limit --max-params {args.max_params}; raise it to try anyway)"
        )
    report = verify_bp(args.sizes, args.activation, args.cost, seed=args.seed, points=args.points, batch=args.batch)
    print(report.render(args.format))
    return 0 if report.ok else 1


# ------------------------------------------------------------------- train
def _load_data(args: Any) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, str]:
    """(X, labels, held-out pair or None, where the data came from) as the flags say."""
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


def _check_train_flags(args: Any) -> None:
    """The settings, output paths and extras, checked before the data are loaded or anything is trained."""
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    check_settings(args.epochs, args.batch_size, args.lr, args.momentum, args.weight_decay,
                   args.on_nonfinite, args.dtype)
    if args.cost == "log_likelihood" and args.sizes[-1] == 1:
        raise UsageError(f"--cost log_likelihood needs at least two output neurons (softmax), but --sizes "
                         f"{','.join(map(str, args.sizes))} ends in 1")
    if args.plot:
        check_path(args.plot)
    for flag, path in (("--save", args.save), ("--checkpoint", args.checkpoint), ("--plot", args.plot)):
        if path:
            try:
                check_writable(path)
            except UsageError as e:
                raise UsageError(f"{flag} {path}: {e}") from None
    if args.plot:  # the curves are drawn after training: find out now that they can be
        require("matplotlib", extra="plot", what="--plot")
    if args.resume:
        p = Path(args.resume)
        if not p.exists():
            raise UsageError(f"--resume {args.resume}: no such file")
        if not p.is_file():
            raise UsageError(f"--resume {args.resume}: not a file")


def _check_data(args: Any, X: np.ndarray, labels: np.ndarray, source: str) -> None:
    """The data fit the network the flags describe (named by the flags and the data's shape)."""
    sizes = list(args.sizes)
    if X.shape[1] != sizes[0]:
        raise UsageError(f"--sizes {','.join(map(str, sizes))} starts with {sizes[0]} inputs but the examples "
                         f"from {source} have {X.shape[1]} features (data shape {X.shape})")
    k, top = sizes[-1], int(np.max(labels))
    if (k == 1 and top > 1) or (k > 1 and top >= k):
        raise UsageError(f"--sizes {','.join(map(str, sizes))} ends with {k} output neuron{'s' * (k > 1)} but the "
                         f"labels from {source} go up to {top} (data shape {X.shape}, {top + 1} classes)")


def train(args: Any) -> int:
    """``symgrad train``: train on MNIST / IDX files / a built-in dataset; print per-epoch lines (and JSON)."""
    _check_train_flags(args)
    X, labels, hold, source = _load_data(args)
    _check_data(args, X, labels, source)
    net = mlp(list(args.sizes), args.activation, args.cost, level="layer", weight_decay=args.weight_decay or None,
              seed=args.seed, init=args.init)
    stop = Stop()

    def handler(signum: int, frame: Any) -> None:
        if stop.flag[0] and signum == signal.SIGINT:  # a second Ctrl-C: stop now (checkpoints stay atomic)
            raise KeyboardInterrupt
        stop.flag[0] = True
        stop.signum = signum

    def report(r: dict[str, Any]) -> None:
        hold_txt = "" if r["holdout_accuracy"] is None else f", holdout accuracy {r['holdout_accuracy']:.4f}"
        print(f"epoch {r['epoch']}/{args.epochs}: train cost {r['train_cost']:.5g}, train accuracy "
              f"{r['train_accuracy']:.4f}{hold_txt} ({r['seconds']:.3f} s)", flush=True)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        history = train_network(
            net, X, labels, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            optimizer=args.optimizer, momentum=args.momentum, seed=args.seed, dtype=args.dtype,
            holdout=hold, progress=not args.quiet, callback=report, init=args.init,
            checkpoint=args.checkpoint, resume=args.resume, stop=stop, on_nonfinite=args.on_nonfinite,
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
        save_model(args.save, net.spec(), net.params())
        print(f"saved {args.save}")
    if args.plot and history:
        data_name = args.dataset or (f"MNIST ({args.mnist})" if args.mnist else Path(args.images).name)
        training_curves(history, args.plot, title=run_title(
            data_name, net.sizes, net.activation, net.cost, args.optimizer, args.lr, args.batch_size,
            n_train=len(X), n_holdout=len(hold[0]) if hold is not None else None, output=net.output,
            momentum=args.momentum, weight_decay=args.weight_decay))
    if args.json:
        print(history.to_json(), flush=True)
    if history.interrupted:
        return 130 if stop.signum == signal.SIGINT else 143
    return 0


# ------------------------------------------------------------------- graph
def graph(args: argparse.Namespace) -> int:
    """``symgrad graph``: draw an MLP's computational graph to ``--out`` (.svg and .dot need no extra)."""
    check_extra(args.out)  # a .png needs matplotlib: say so before building anything
    try:
        check_writable(args.out)
    except UsageError as e:
        raise UsageError(f"--out {args.out}: {e}") from None
    net = network_for(args.sizes, args.level, args.activation, args.cost, args.with_derivatives)
    g = net.graph
    path = draw(net, args.out, args.with_derivatives)
    print(f"wrote {path}: {title_of(net, args.with_derivatives)} ({len(g)} nodes, {g.nx.number_of_edges()} edges)")
    return 0


# ----------------------------------------------------------------- explain
def _csv(flag: str, text: str | None) -> list[float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"{flag} must be numbers separated by commas, got {text!r}") from None


def explain(args: argparse.Namespace) -> int:
    """``symgrad explain``: write the report of one training step to ``--out`` (.md or .html)."""
    html = report_format(args.out) == "html"
    sizes, activation = list(args.sizes), args.activation
    if args.weights is not None:
        spec, _ = load_weights(args.weights)
        if spec is not None:
            if sizes != [2, 2, 2] and sizes != list(spec["sizes"]):
                raise UsageError(
                    f"--sizes {','.join(map(str, sizes))} does not match --weights {args.weights!r} "
                    f"(a {'-'.join(map(str, spec['sizes']))} network)"
                )
            sizes = list(spec["sizes"])
            activation = spec.get("activation", activation)
    report = explain_step(sizes, activation, args.weights, _csv("--input", args.input), _csv("--target", args.target),
                          args.lr, figure=html)
    path = report.save(args.out)
    print(f"wrote {path}: {report.title.lower()}; E = {fmt(report.error)} → {fmt(report.error_after)} after the step")
    return 0
