"""Using a trained model from the command line: `symgrad predict`, `symgrad evaluate` and `symgrad info`.

The examples a command reads (`read_examples`) come from the flags the three commands and
`train` share: `--dataset NAME`, `--mnist DIR`, `--images FILE` (with `--labels FILE`),
`--csv FILE` or `--npy FILE` (with `--labels FILE.npy`, or an `.npz` holding both); the
layouts are `symgrad.store.tabular`'s. With `--json` stdout is one JSON document and
nothing else; the words go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

from ..errors import UsageError, require
from ..numeric.checkpoint import KIND as CHECKPOINT
from ..numeric.model import Evaluation, Model, Predictions, load
from ..printing.plotting import check_path, confusion_figure
from ..store import data, tabular
from ..store.fetch import default_data_dir
from ..store.files import atomic_write_text, check_writable
from ..store.model_file import load_checkpoint

__all__ = ["Examples", "evaluate", "info", "predict", "read_examples"]

#: What `symgrad predict --out` writes, by the file's suffix.
PREDICTION_FORMATS = (".csv", ".jsonl")


class Examples(NamedTuple):
    """Examples a command line names: `X` (n, d), `labels` (n,) or `None`, and in words."""

    X: np.ndarray
    labels: np.ndarray | None
    source: str
    summary: str


def read_examples(args: Any, *, n_inputs: int, outputs: int, labels: bool, dtype: str = "float64",
                  seed: int = 0) -> Examples:
    """The examples of `--dataset`, `--mnist`, `--images`/`--labels`, `--csv` or `--npy`
    (`labels`: they must have labels; every label a class of a network with `outputs` output neurons).

    `--dataset NAME` gives the examples `symgrad train --dataset NAME` holds out by default (for
    mnist the last 2,000 of the packaged set), or all of a generated one (drawn with `seed`);
    `--mnist DIR` the MNIST test set (the t10k files) of the folder.
    """
    given = [f for f in ("dataset", "mnist", "images", "csv", "npy") if getattr(args, f, None) is not None]
    if not given:
        raise UsageError("give the examples: --dataset NAME, --mnist DIR, --images FILE, --csv FILE or --npy FILE")
    lab = getattr(args, "labels", None)
    if lab and not (args.images or getattr(args, "npy", None)):
        raise UsageError("--labels goes with --images or --npy")
    y: np.ndarray | None = None
    if args.dataset is not None:
        if args.dataset not in data.DATASETS:
            raise UsageError(f"--dataset {args.dataset!r}: unknown; choose one of {', '.join(data.DATASETS)}")
        X, y = data.dataset(args.dataset, seed=seed)
        hold = data.HOLDOUT.get(args.dataset)
        n = X.shape[0]
        if hold:
            X, y = X[n - hold:], y[n - hold:]
            summary = (f"the last {hold:,} examples of --dataset {args.dataset} ({n - hold:,}..{n - 1:,}, the ones "
                       f"symgrad train --dataset {args.dataset} holds out)")
        else:
            summary = f"the {n:,} examples of --dataset {args.dataset} (drawn with seed {seed})"
        X = X.astype(dtype)
        source = f"--dataset {args.dataset}"
    elif args.mnist is not None:
        folder = args.mnist or str(default_data_dir())
        X, y = data.load_mnist(folder, dtype=dtype)["test"]
        source, summary = folder, f"the {X.shape[0]:,} MNIST test examples in {folder}"
    elif args.images is not None:
        if labels and not lab:
            raise UsageError("--images needs --labels FILE (the IDX labels file)")
        if lab:
            X, y = data.load_idx(args.images, lab, max_label=max(outputs - 1, 1), dtype=dtype)
        else:
            X = data.load_idx_images(args.images, dtype=dtype)
        source, summary = args.images, f"the {X.shape[0]:,} images of {args.images}"
    elif args.csv is not None:
        X, y = tabular.load_csv(args.csv, labels=labels, n_inputs=n_inputs, outputs=outputs, dtype=dtype)
        source, summary = args.csv, f"the {X.shape[0]:,} rows of {args.csv}"
    else:
        X, y = tabular.load_npy(args.npy, lab, labels=labels or bool(lab), outputs=outputs, dtype=dtype)
        source, summary = args.npy, f"the {X.shape[0]:,} examples of {args.npy}"
    if X.shape[1] != n_inputs:
        raise UsageError(f"{source}: the examples have {X.shape[1]} features (data shape {X.shape}) but the network "
                         f"takes {n_inputs} inputs")
    if y is not None:
        tabular.check_labels(y, outputs, source)
    return Examples(X, y if labels else None, source, summary)


def _human(args: Any) -> TextIO:
    """Where the words go: stderr when stdout is the JSON document."""
    return sys.stderr if getattr(args, "json", False) else sys.stdout


def _json(doc: Any) -> None:
    print(json.dumps(doc, allow_nan=False, ensure_ascii=False), flush=True)


def _model(args: Any) -> Model:
    try:
        return load(args.model)
    except UsageError as e:
        raise UsageError(f"--model {e}") from None


# ----------------------------------------------------------------- predict
def _rows(p: Predictions) -> list[dict[str, Any]]:
    return [{"index": i, "class": int(c), "probabilities": [float(v) for v in row]}
            for i, (c, row) in enumerate(zip(p.classes, p.probabilities))]


def prediction_text(p: Predictions, kind: str) -> str:
    """The predictions as CSV (`index,class,p0,…`) or JSON lines (`{"index", "class", "probabilities"}`)."""
    if kind == ".jsonl":
        return "".join(json.dumps(r) + "\n" for r in _rows(p))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "class", *(f"p{j}" for j in range(p.probabilities.shape[1]))])
    for i, (c, row) in enumerate(zip(p.classes, p.probabilities)):
        w.writerow([i, int(c), *(f"{float(v):.6g}" for v in row)])
    return buf.getvalue()


def predict(args: Any) -> int:
    """`symgrad predict`: the class and probabilities of every example, as CSV or JSON lines."""
    kind = None
    if args.out:
        kind = Path(args.out).suffix.lower()
        if kind not in PREDICTION_FORMATS:
            raise UsageError(f"--out {args.out}: write predictions to a .csv or .jsonl file")
        try:
            check_writable(args.out)
        except UsageError as e:
            raise UsageError(f"--out {args.out}: {e}") from None
    model = _model(args)
    ex = read_examples(args, n_inputs=model.sizes[0], outputs=model.sizes[-1], labels=False, dtype=model.dtype,
                       seed=_seed(args, model))
    p = model.predict(ex.X)
    counts = np.bincount(p.classes, minlength=model.classes)
    if args.out:
        atomic_write_text(args.out, prediction_text(p, kind))
        if args.json:
            _json({"model": str(model.path), "examples": len(p), "out": args.out, "format": kind[1:],
                   "counts": counts.tolist()})
        else:
            print(f"wrote {len(p):,} predictions of {ex.summary} to {args.out} (class and probabilities "
                  f"p0..p{model.classes - 1})")
        return 0
    if args.json:
        _json({"model": str(model.path), "examples": len(p), "predictions": _rows(p)})
    else:
        sys.stdout.write(prediction_text(p, ".csv"))
        print(f"predicted {len(p):,} examples of {ex.summary}", file=sys.stderr)
    return 0


def _seed(args: Any, model: Model) -> int:
    """`--seed`, else the seed the model was trained with (a generated dataset is drawn from it), else 0."""
    if getattr(args, "seed", None) is not None:
        return int(args.seed)
    seed = model.provenance.get("training", {}).get("seed")
    return int(seed) if isinstance(seed, int) and seed >= 0 else 0


# ---------------------------------------------------------------- evaluate
def evaluate(args: Any) -> int:
    """`symgrad evaluate`: accuracy, mean cost and confusion matrix of a saved model on labelled examples."""
    if args.plot:
        check_path(args.plot)
        try:
            check_writable(args.plot)
        except UsageError as e:
            raise UsageError(f"--plot {args.plot}: {e}") from None
        require("matplotlib", extra="plot", what="--plot")
    model = _model(args)
    ex = read_examples(args, n_inputs=model.sizes[0], outputs=model.sizes[-1], labels=True, dtype=model.dtype,
                       seed=_seed(args, model))
    assert ex.labels is not None
    result: Evaluation = model.evaluate(ex.X, ex.labels)
    if args.plot:
        confusion_figure(result.confusion, args.plot,
                         title=f"{Path(args.model).name} on {ex.source}: accuracy {result.accuracy:.4f}")
    if args.json:
        _json({"model": str(model.path), "data": ex.summary, **result.to_dict(),
               **({"plot": args.plot} if args.plot else {})})
        return 0
    print(f"{model.network.describe()} ({Path(args.model).name}) on {ex.summary}")
    print(result.render())
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


# -------------------------------------------------------------------- info
def _fmt(v: Any, spec: str = ".4f") -> str:
    return "—" if v is None else (format(v, spec) if isinstance(v, float) else str(v))


def info_text(path: str, model: Model, checkpoint: dict[str, Any] | None) -> str:
    """What `symgrad info` prints: the network, and the provenance the file records."""
    n_params = sum(int(v.size) for v in model.params.values())
    lines = [f"{path}: {'training checkpoint' if checkpoint else 'symgrad model'}, {model.network.describe()} "
             f"({n_params:,} parameters, {model.dtype})"]
    prov = model.provenance
    if checkpoint:
        cfg = checkpoint.get("config", {})
        lines.append(f"checkpoint after epoch {checkpoint.get('epoch')}: "
                     + ", ".join(f"{k} {v}" for k, v in cfg.items()))
        return "\n".join(lines)
    if not prov:
        lines.append("no provenance recorded (saved without a training history, or by an older symgrad)")
        return "\n".join(lines)
    lines.append(f"saved {prov.get('saved', '?')} by symgrad {prov.get('symgrad', '?')}")
    t = prov.get("training", {})
    if t:
        lines.append(
            f"training: {t.get('epochs_run')} of {t.get('epochs')} epochs, {t.get('optimizer')}"
            + (f" (μ = {t.get('momentum')})" if t.get("optimizer") == "momentum" else "")
            + f", η = {t.get('lr')}, batch size {t.get('batch_size')}, λ = {t.get('weight_decay')}, "
              f"seed {t.get('seed')}, init {t.get('init')}, {t.get('dtype')}, {t.get('backend')} backend"
            + (f" on {t.get('devices')} devices" if (t.get("devices") or 1) > 1 else ""))
    d = prov.get("data", {})
    for part, words in (("train", "trained on"), ("holdout", "evaluated on")):
        if part in d:
            lines.append(f"data: {words} {d[part]['examples']:,} examples, sha256 {d[part]['sha256']}")
    if "source" in d:
        lines.append(f"data: from {d['source']}")
    h = prov.get("history", {})
    epochs = h.get("epochs", [])
    if epochs:
        lines.append("history:")
        for r in epochs:
            lines.append(f"  epoch {r.get('epoch')}: train cost {_fmt(r.get('train_cost'), '.5g')}, train accuracy "
                         f"{_fmt(r.get('train_accuracy'))}, holdout cost {_fmt(r.get('holdout_cost'), '.5g')}, "
                         f"holdout accuracy {_fmt(r.get('holdout_accuracy'))} ({_fmt(r.get('seconds'), '.3f')} s)")
    if h.get("interrupted"):
        lines.append("the run was interrupted")
    if h.get("stopped"):
        lines.append(f"the run stopped: {h['stopped']}")
    return "\n".join(lines)


def info(args: Any) -> int:
    """`symgrad info FILE`: a saved model's network and provenance (`--json`: as one JSON document)."""
    model = load(args.file)
    _, _, extra = load_checkpoint(args.file)
    checkpoint = extra if extra.get("kind") == CHECKPOINT else None
    if args.json:
        cp = None
        if checkpoint:
            cp = {"epoch": checkpoint.get("epoch"), "config": checkpoint.get("config"),
                  "history": json.loads(checkpoint["history"]) if isinstance(checkpoint.get("history"), str) else None}
        _json({"file": args.file, "kind": "checkpoint" if checkpoint else "model", "spec": model.spec,
               "dtype": model.dtype, "parameters": sum(int(v.size) for v in model.params.values()),
               "provenance": model.provenance, **({"checkpoint": cp} if cp else {})})
        return 0
    print(info_text(args.file, model, checkpoint))
    return 0
