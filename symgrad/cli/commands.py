"""The subcommands' work: each takes the parsed flags and calls the library (derive, verify, train, graph, explain,
data).

What is only the command line's lives here: reading the data a flag names, checking
that output paths can be written before minutes of training, signals, what is printed.
The library's own errors name Python arguments; `symgrad.cli.main` spells them as
these commands' flags.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..derivation.derive import render
from ..derivation.explain import explain as explain_step
from ..derivation.explain import fmt
from ..derivation.expression import derive_expression, shapes_from_flags, verify_expression
from ..derivation.verify import verify_bp
from ..errors import UsageError, require
from ..networks import check_spec, count_params, mlp
from ..numeric.memory import check_memory, default_limit, human, parse_size
from ..numeric.model import save as save_trained
from ..numeric.schedule import Schedule
from ..numeric.threads import MISSING as THREADS_MISSING
from ..numeric.threads import THREAD_CHOICES, blas_info
from ..numeric.train import Stop, check_settings
from ..numeric.train import train as train_network
from ..printing.drawing import check_extra, draw, network_for, title_of
from ..printing.plotting import check_path, run_title, training_curves
from ..printing.report import report_format
from ..store import data
from ..store.fetch import FETCHABLE, MIRRORS, ConsoleProgress, check_file, default_data_dir, fetch_mnist
from ..store.files import check_writable, same_file, symlink_target
from .use import read_examples

__all__ = ["data_command", "derive", "explain", "graph", "train", "verify"]


# ------------------------------------------------------------------ derive
def _expression(args: argparse.Namespace) -> bool:
    """Whether the command is about a typed expression (--expr); --shape/--wrt without it, or --param with it, are refused."""
    if getattr(args, "expr", None) is None:
        if getattr(args, "shape", None) or getattr(args, "wrt", None):
            raise UsageError("--shape and --wrt go with --expr")
        return False
    if getattr(args, "param", None):
        raise UsageError("--param names a network's parameter; with --expr use --wrt")
    return True


def derive(args: argparse.Namespace) -> int:
    """`symgrad derive`: print a network's (or a typed expression's) derivative formulas."""
    if _expression(args):
        print(derive_expression(args.expr, shapes_from_flags(args.shape), args.wrt, args.format, args.form))
        return 0
    if args.level == "neuron" and not args.param:
        n_params = count_params(args.sizes)
        if n_params > args.max_formulas:
            raise UsageError(
                f"--sizes {','.join(map(str, args.sizes))} at neuron level has {n_params} parameters, one formula "
                f"each; use --level layer, pick some with --param, or raise --max-formulas"
            )
    net = mlp(args.sizes, args.activation, args.cost, level=args.level, output=args.output)
    print(render(net, args.format, args.param, args.form))
    return 0


# ------------------------------------------------------------------ verify
def verify(args: argparse.Namespace) -> int:
    """`symgrad verify`: print the report; 0 when everything holds, 1 otherwise."""
    if _expression(args):
        if args.points < 1:
            raise UsageError("--points must be at least 1")
        report = verify_expression(args.expr, shapes_from_flags(args.shape), args.wrt, seed=args.seed,
                                   points=args.points, max_entries=args.max_params)
        print(report.render(args.format))
        return 0 if report.ok else 1
    if args.points < 1 or args.batch < 1:
        raise UsageError("--points and --batch must be at least 1")
    check_spec({"sizes": args.sizes, "activation": args.activation, "cost": args.cost, "output": args.output})
    n_params = count_params(args.sizes)
    if n_params * args.batch > args.max_params:
        # Exact proofs grow faster than linearly: 220 parameters take ~13 s, 840 ~4 min.
        raise UsageError(
            f"--sizes {','.join(map(str, args.sizes))} has {n_params} parameters"
            f"{f' × batch {args.batch}' if args.batch > 1 else ''}; an exact proof that large takes minutes "
            f"to hours (limit --max-params {args.max_params}; raise it to try anyway)"
        )

    def progress(check: Any, i: int, n: int) -> None:  # results as they come; the report follows at the end
        print(f"symgrad verify: [{i}/{n}] {check.equation} {check.node}: exact {check.symbolic}, max rel. err "
              f"{check.max_error:.1e} ({check.seconds:.2f} s) {'ok' if check.ok else 'FAIL'}", file=sys.stderr,
              flush=True)

    report = verify_bp(args.sizes, args.activation, args.cost, seed=args.seed, points=args.points, batch=args.batch,
                       output=args.output, progress=progress)
    print(report.render(args.format))
    if report.interrupted:
        print(f"symgrad verify: interrupted: {len(report.checks)} of {report.total} checks done (shown above)",
              file=sys.stderr)
        return 130
    return 0 if report.ok else 1


# ------------------------------------------------------------------- train
class _Data(NamedTuple):
    """The data a `train` command line names: what to train on, what to evaluate on, and in words."""

    X: np.ndarray
    labels: np.ndarray
    evaluation: tuple[np.ndarray, np.ndarray] | None
    source: str  # the flag's value, for error messages
    summary: str


def _load_data(args: Any) -> _Data:
    """The training examples and the evaluation set as the flags say (`--holdout`, `--eval`).

    `--holdout N` keeps the last N examples out of training (default: Nielsen's 10,000 validation
    images for `--mnist`, the last 2,000 of the packaged set for `--dataset mnist`, else none);
    `--eval` evaluates them (`validation`, the default) or the MNIST test set (`test`).
    """
    holdout, evaluate = args.holdout, args.eval
    if args.labels and not (args.images or args.npy):
        raise UsageError("--labels goes with --images or --npy")
    if holdout is not None and holdout < 0:
        raise UsageError(f"--holdout must be 0 or more examples, got {holdout}")
    # The flags that cannot go together, before any data are read.
    if evaluate == "test" and args.mnist is None:
        raise UsageError("--eval test needs --mnist DIR (the test set is its t10k files; "
                         f"{'the packaged mnist is that test set itself' if args.dataset == 'mnist' else 'these data have none'})")
    splits_by_default = args.mnist is not None or args.dataset in data.HOLDOUT
    if evaluate == "validation" and (holdout == 0 or (holdout is None and not splits_by_default)):
        raise UsageError("--eval validation needs held-out examples: give --holdout N")
    test = None
    default_holdout: int | None = None
    outputs = list(args.sizes)[-1]
    if args.images:
        if not args.labels:
            raise UsageError("--images needs --labels FILE")
        X, labels = data.load_idx(args.images, args.labels, max_label=max(outputs - 1, 1), dtype=args.dtype)
        source = what = args.images
    elif args.csv or args.npy:
        ex = read_examples(args, n_inputs=list(args.sizes)[0], outputs=outputs, labels=True, dtype=args.dtype)
        X, labels, source, what = ex.X, ex.labels, ex.source, ex.source
    elif args.mnist is not None:
        folder = args.mnist or str(default_data_dir())
        d = data.load_mnist(folder, dtype=args.dtype)
        (X, labels), test = d["train"], d["test"]
        source, what = folder, f"the MNIST training set in {folder}"
        default_holdout = data.NIELSEN_VALIDATION
        if holdout is None and X.shape[0] <= default_holdout:
            raise UsageError(f"--mnist {folder}: the training set has {X.shape[0]:,} examples, too few to hold out "
                             f"Nielsen's {default_holdout:,} for validation; give --holdout N")
    elif args.dataset:
        X, labels = data.dataset(args.dataset, seed=args.seed)
        source = args.dataset
        what = ("the MNIST test set shipped with symgrad (--dataset mnist)" if args.dataset == "mnist"
                else f"the built-in dataset {args.dataset}")
        default_holdout = data.HOLDOUT.get(args.dataset)
    else:
        raise UsageError("give the data: --mnist DIR, --images FILE --labels FILE, --csv FILE, --npy FILE, "
                         "or --dataset NAME")
    n = X.shape[0]
    if holdout is None:
        holdout = default_holdout or 0
    hold = None
    if holdout:
        if holdout >= n:
            raise UsageError(f"--holdout {holdout} must be between 0 and {n - 1} (the data from {source} "
                             f"have {n} examples)")
        (X, labels), hold = data.split(X, labels, holdout)
    words = f"training on {X.shape[0]:,} examples of {what}"
    if hold is not None and evaluate != "test":
        words += f", evaluating on the last {holdout:,} held out (examples {n - holdout:,}..{n - 1:,})"
    elif evaluate == "test":
        assert test is not None
        words += (f" (the last {holdout:,} held out, unused)" if hold is not None else "")
        words += f", evaluating on the {test[0].shape[0]:,} test examples"
    return _Data(X, labels, test if evaluate == "test" else hold, source, words)


def _check_train_flags(args: Any) -> None:
    """The settings, output paths and extras, checked before the data are loaded or anything is trained."""
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if args.backend == "jax":  # the optional extra, before anything is read or trained
        require("jax", extra="jax", what="--backend jax")
    check_settings(args.epochs, args.batch_size, args.lr, args.momentum, args.weight_decay,
                   args.on_nonfinite, args.dtype, args.backend, args.devices, threads=args.threads)
    schedule = _schedule(args)
    schedule.check(args.lr)
    if args.override and not args.resume:
        raise UsageError(f"--override {args.override[0]} changes a resumed run's settings: it needs --resume PATH")
    if args.init_from and args.resume:
        raise UsageError("--init-from and --resume both say where the parameters come from: give one")
    check_spec({"sizes": args.sizes, "activation": args.activation, "cost": args.cost, "output": args.output})
    _check_memory(args)  # the network alone, before any data are read
    if args.plot is not None:
        check_path(args.plot)
    check_outputs("train", (("--save", args.save), ("--checkpoint", args.checkpoint), ("--plot", args.plot),
                            ("--log", args.log)))
    if args.save is not None and args.resume and same_file(args.save, args.resume):
        raise UsageError(f"--save {args.save} is the --resume checkpoint: the model would replace it; give "
                         "another file")
    if args.plot:  # the curves are drawn after training: find out now that they can be
        require("matplotlib", extra="plot", what="--plot")
    for flag, path in (("--resume", args.resume), ("--init-from", args.init_from)):
        if path is not None:
            p = Path(path)
            if not p.exists():
                raise UsageError(f"{flag} {path}: no such file")
            if not p.is_file():
                raise UsageError(f"{flag} {path}: not a file")


def _schedule(args: Any) -> Schedule:
    """The `--schedule` flag and its settings (a setting the schedule does not read is refused, named)."""
    return Schedule(args.schedule, step_size=args.step_size, gamma=args.gamma, min_lr=args.min_lr,
                    period=args.period)


def _source_flag(args: Any) -> str:
    """The flags that named the data, as typed: `--dataset mnist`, `--csv letters.csv`, …"""
    for flag in ("dataset", "mnist", "images", "csv", "npy"):
        value = getattr(args, flag, None)
        if value is not None:
            extra = f" --labels {args.labels}" if args.labels else ""
            return f"--{flag} {value or default_data_dir()}{extra}"
    return ""


def json_line(record: dict[str, Any]) -> str:
    """One epoch's record as one line of JSON (NaN/Inf, which JSON cannot hold, as null)."""
    return json.dumps({k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()})


def check_outputs(command: str, outputs: Any) -> None:
    """The files a command will write (`(flag, path)` pairs; `None`: not given), checked before any work.

    Refused: an empty path, one that is not a regular file (a directory, FIFO, device, socket, a dangling
    symbolic link), a folder that does not exist or cannot be written, and two flags naming the same
    file. A symbolic link to a regular file is followed: its target is replaced (the link stays), and a
    note on stderr says so.
    """
    given = [(flag, path) for flag, path in outputs if path is not None]
    for flag, path in given:
        if not path:
            raise UsageError(f"{flag} needs a file name, got an empty string")
        try:
            check_writable(path)
            real = symlink_target(path)
        except UsageError as e:
            raise UsageError(f"{flag} {path}: {e}") from None
        if real is not None:
            print(f"symgrad {command}: note: {flag} {path} is a symbolic link; writing its target {real}",
                  file=sys.stderr)
    for i, (flag, path) in enumerate(given):
        for other, path2 in given[i + 1:]:
            if same_file(path, path2):
                raise UsageError(f"{flag} {path} and {other} {path2} are the same file: one would overwrite the "
                                 "other; give two files")


def spelled_flags(text: str) -> str:
    """A library message's `` `epochs` `` as the command's `--epochs`."""
    return re.sub(r"`(\w+)`", lambda m: "--" + m.group(1).replace("_", "-"), text)


def _check_memory(args: Any, n_examples: int = 0) -> None:
    """Refuse a run whose estimated memory (`symgrad.numeric.memory.estimate`) exceeds `--max-memory`."""
    if args.max_memory is None:
        limit = default_limit()
        words = f"--max-memory {human(limit)} (the default: half of this machine's {human(2 * limit)})"
    else:
        limit, words = parse_size(args.max_memory), f"--max-memory {args.max_memory}"
    check_memory(list(args.sizes), args.batch_size, args.optimizer, args.dtype, limit, n_examples,
                 checkpoint=args.checkpoint is not None, limit_text=words)


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
    """`symgrad train`: train on MNIST / IDX files / a built-in dataset; print per-epoch lines (and JSON)."""
    _check_train_flags(args)
    d = _load_data(args)
    X, labels, hold = d.X, d.labels, d.evaluation
    _check_data(args, X, labels, d.source)
    if (args.early_stop or args.keep_best) and hold is None:
        flag = "--early-stop" if args.early_stop else "--keep-best"
        raise UsageError(f"{flag} measures the held-out examples, and this run has none: hold some out with "
                         "--holdout N (or --eval test with --mnist)")
    _check_memory(args, X.shape[0] + (0 if hold is None else hold[0].shape[0]))
    net = mlp(list(args.sizes), args.activation, args.cost, level="layer", output=args.output,
              weight_decay=args.weight_decay or None, seed=args.seed, init=args.init)
    stop = Stop()

    def handler(signum: int, frame: Any) -> None:
        if stop.flag[0] and signum == signal.SIGINT:  # a second Ctrl-C: stop now (checkpoints stay atomic)
            raise KeyboardInterrupt
        stop.flag[0] = True
        stop.signum = signum

    evaluated = "test" if args.eval == "test" else "holdout"
    words = sys.stderr if args.json else sys.stdout  # with --json, stdout is the JSON document alone
    log = open(args.log, "w", encoding="utf-8") if args.log else None  # noqa: SIM115 - closed below

    scheduled = args.schedule != "constant" or bool(args.override)  # η varies, or differs from the checkpoint's

    def report(r: dict[str, Any]) -> None:
        hold_txt = "" if r["holdout_accuracy"] is None else f", {evaluated} accuracy {r['holdout_accuracy']:.4f}"
        lr_txt = f"lr {r['lr']:.4g}, " if scheduled else ""
        print(f"epoch {r['epoch']}/{args.epochs}: {lr_txt}train cost {r['train_cost']:.5g}, train accuracy "
              f"{r['train_accuracy']:.4f}{hold_txt} ({r['seconds']:.3f} s)", file=words, flush=True)
        if log is not None:  # one line per epoch as it ends, for a reader that follows the file
            log.write(json_line(r) + "\n")
            log.flush()

    print(f"data: {d.summary}", file=words, flush=True)
    if args.threads not in THREAD_CHOICES and args.backend == "numpy" and not blas_info():
        print(f"symgrad train: {THREADS_MISSING.format(n=args.threads)}".replace("threads=", "--threads "),
              file=sys.stderr)
    for key in args.override or ():
        print(f"symgrad train: --override {key}: this run's {'--lr' if key == 'lr' else '--schedule'} replaces "
              f"the checkpoint's", file=sys.stderr)
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        history = train_network(
            net, X, labels, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            optimizer=args.optimizer, momentum=args.momentum, seed=args.seed, dtype=args.dtype,
            holdout=hold, progress=not args.quiet, callback=report, init=args.init,
            checkpoint=args.checkpoint, resume=args.resume, stop=stop, on_nonfinite=args.on_nonfinite,
            backend=args.backend, devices=args.devices, threads=args.threads, schedule=_schedule(args),
            early_stop=args.early_stop, patience=args.patience, min_delta=args.min_delta, keep_best=args.keep_best,
            init_from=args.init_from, override=tuple(args.override or ()), force=args.force_resume,
        )
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if log is not None:
            log.close()
    provenance = {"source": _source_flag(args), "summary": d.summary}
    for notice in history.notices:
        if "nothing to train" in notice:
            print(f"symgrad train: {spelled_flags(notice)}", file=sys.stderr)
    if history.interrupted:
        done = history[-1]["epoch"] if history else 0
        if args.checkpoint and history:
            kept = f"; the checkpoint {args.checkpoint} holds epoch {done}"
        elif args.save is not None and history:
            # keep-best has put the best epoch's parameters back into net: name that epoch, not the last
            best = history.best_epoch if args.keep_best else None
            save_trained(args.save, net, history, data=provenance,
                         extra={"best_epoch": best} if best is not None else None)
            kept = (f"; saved the model of epoch {best} (the best of the {done} completed) to {args.save}"
                    if best is not None else f"; saved the model of epoch {done} (the last completed) to {args.save}")
        elif args.checkpoint or args.save is not None:
            kept = "; no epoch was completed, nothing was saved"
        else:
            kept = "; nothing was saved (--save or --checkpoint keeps the trained model)"
        print(f"symgrad train: interrupted during epoch {len(history) + 1}{kept}", file=sys.stderr)
    if history.stopped:
        print(f"symgrad train: stopped: {history.stopped}", file=sys.stderr)
    if history.early_stopped:
        print(f"symgrad train: {history.early_stopped}", file=sys.stderr)
    if args.keep_best and history.best_epoch is not None:
        print(f"best epoch: {history.best_epoch} (kept)", file=words, flush=True)
    saved = None
    if args.save is not None and not history.interrupted:
        extra = {"best_epoch": history.best_epoch} if args.keep_best else None
        saved = str(save_trained(args.save, net, history, data=provenance, extra=extra))
        print(f"saved {args.save}" + (f" (epoch {history.best_epoch}, the best)" if extra else ""), file=words)
    if args.plot and history:
        data_name = args.dataset or (f"MNIST ({args.mnist})" if args.mnist is not None else
                                     Path(args.images or args.csv or args.npy).name)
        training_curves(history, args.plot, title=run_title(
            data_name, net.sizes, net.activation, net.cost, args.optimizer, args.lr, args.batch_size,
            n_train=len(X), n_holdout=len(hold[0]) if hold is not None else None, output=net.output,
            momentum=args.momentum, weight_decay=args.weight_decay, schedule=_schedule(args).describe()))
    if args.json:
        doc = json.loads(history.to_json())
        doc["saved"] = saved
        print(json.dumps(doc, ensure_ascii=False), flush=True)
    if history.interrupted:
        return 130 if stop.signum == signal.SIGINT else 143
    return 0


# ------------------------------------------------------------------- graph
def graph(args: argparse.Namespace) -> int:
    """`symgrad graph`: draw an MLP's computational graph to `--out` (.svg and .dot need no extra)."""
    check_extra(args.out)  # a .png needs matplotlib: say so before building anything
    check_outputs("graph", [("--out", args.out)])
    net = network_for(args.sizes, args.level, args.activation, args.cost, args.with_derivatives,
                      output=args.output)
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
    """`symgrad explain`: write the report of one training step to `--out` (.md or .html).

    A saved model given to `--weights` says the network (sizes, activation, output, cost); the
    flags that say it too must agree with it (the library refuses a contradiction).
    """
    html = report_format(args.out) == "html"
    check_outputs("explain", [("--out", args.out)])
    report = explain_step(args.sizes, args.activation, args.weights, _csv("--input", args.input),
                          _csv("--target", args.target), args.lr, cost=args.cost, output=args.output, figure=html)
    path = report.save(args.out)
    print(f"wrote {path}: {report.title.lower()}; E = {fmt(report.error)} → {fmt(report.error_after)} after the step")
    return 0


# -------------------------------------------------------------------- data
def _folder(args: argparse.Namespace) -> Path:
    return Path(args.dir).expanduser() if args.dir else default_data_dir()


def _fetch(args: argparse.Namespace) -> int:
    folder = _folder(args)
    console = None if args.quiet else ConsoleProgress(sys.stderr)
    try:
        fetched = fetch_mnist(folder, mirrors=args.mirror or MIRRORS, files=FETCHABLE[args.name],
                              progress=console, log=console.log if console else None)
    finally:
        if console is not None:
            console.close()
    new = sum(f.status == "downloaded" for f in fetched)
    print(f"{args.name}: {len(fetched)} files in {folder} ({new} downloaded, {len(fetched) - new} already there; "
          "each checked against its published sha256)")
    print(f"next: symgrad train --mnist {shlex.quote(str(folder))}")
    return 0


def _list(args: argparse.Namespace) -> int:
    print("built-in datasets (symgrad train --dataset NAME; symgrad.store.data.dataset(NAME)):")
    for name, (n, k) in data.DATASETS.items():
        if name == "mnist":
            hold = data.HOLDOUT[name]
            kind = (f"the real MNIST test set shipped with symgrad, {n:,} digits (28×28), {k} classes; "
                    f"trains on the first {n - hold:,}, holds out the last {hold:,}")
        else:
            kind = f"generated from --seed, {n:,} examples by default, {k} classes"
        print(f"  {name:8s} {kind}")
    folder = _folder(args)
    print(f"the full MNIST set (symgrad data fetch mnist{f' --dir {shlex.quote(args.dir)}' if args.dir else ''}): "
          f"{folder}")
    found = data.find_mnist(folder) if folder.is_dir() else dict.fromkeys(
        name for pair in data.MNIST_FILES.values() for name in pair)
    for name, path in found.items():
        if path is None:
            shown, state = f"{name}[.gz]", "missing"
        elif path.name in data.MNIST_GZ:
            problem = check_file(path, *data.MNIST_GZ[path.name])
            shown, state = path.name, "verified" if problem is None else f"damaged ({problem})"
        else:
            shown, state = path.name, "present (not the published .gz file, so not checked by sha256)"
        print(f"  {shown:30s} {state}")
    if all(found.values()):
        print(f"next: symgrad train --mnist {shlex.quote(str(folder))}")
    return 0


def data_command(args: argparse.Namespace) -> int:
    """`symgrad data fetch NAME` / `symgrad data list`: the datasets, and downloading the full MNIST set."""
    if args.data_command == "fetch":
        return _fetch(args)
    if args.data_command == "list":
        return _list(args)
    raise UsageError("give an action: fetch or list (symgrad data --help)")
