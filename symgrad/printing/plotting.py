"""Training curves (the cost and the accuracy per epoch) and confusion matrices, as PNGs (matplotlib, the
`plot` extra).

`history` is what `symgrad.numeric.train.train` records, one dictionary per
epoch with `epoch` and `train_cost` and, when measured, `holdout_cost`,
`train_accuracy` and `holdout_accuracy`. Missing keys, `None` and
non-finite values are skipped, so a partial history still plots.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, require
from ..store.files import atomic_write

SERIES = {
    "cost": (("train_cost", "training"), ("holdout_cost", "held out")),
    "accuracy": (("train_accuracy", "training"), ("holdout_accuracy", "held out")),
}
COLORS = {"training": "#3b6fb6", "held out": "#d9772b"}
COST_NAMES = {"quadratic": "quadratic", "cross_entropy": "cross-entropy", "log_likelihood": "log-likelihood"}


def _number(v: float) -> str:
    return f"{v:g}"


def run_title(
    data: str,
    sizes: Sequence[int],
    activation: str,
    cost: str,
    optimizer: str,
    lr: float,
    batch_size: int,
    *,
    n_train: int | None = None,
    n_holdout: int | None = None,
    output: str | None = None,
    momentum: float | None = None,
    weight_decay: float | None = None,
    schedule: str | None = None,
) -> str:
    """The title of a run's curves, naming the data, the network and the optimizer, e.g.
    `spirals (400 train / 200 held out) — 2-32-32-2 relu, log-likelihood — adam, η = 0.01, batch 10`;
    with a learning-rate `schedule` (its description, e.g. `cosine`), `η₀ = 0.01, cosine`."""
    counts = []
    if n_train is not None:
        counts.append(f"{n_train:,} train")
    if n_holdout:
        counts.append(f"{n_holdout:,} held out")
    where = f"{data} ({' / '.join(counts)})" if counts else data
    net = f"{'-'.join(map(str, sizes))} {activation}"
    if output and output != activation and not (cost == "log_likelihood" and output == "softmax"):
        net += f" ({output} output)"
    net += f", {COST_NAMES.get(cost, cost)}"
    if weight_decay:
        net += f" + λ = {_number(weight_decay)} weight decay"
    opt = optimizer + (f" (μ = {_number(momentum)})" if optimizer == "momentum" and momentum is not None else "")
    eta = f"η₀ = {_number(lr)}, {schedule}" if schedule and schedule != "constant" else f"η = {_number(lr)}"
    return f"{where} — {net} — {opt}, {eta}, batch {batch_size}"


def _points(history: list[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        v = row.get(key)
        if v is None:
            continue
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            continue
        e = row.get("epoch", i + 1)
        try:
            e = float(e)
        except (TypeError, ValueError):
            e = float(i + 1)
        xs.append(e)
        ys.append(v)
    return xs, ys


def figure(history: Iterable[Mapping[str, Any]], title: str | None = None):
    """The curves as a matplotlib `Figure` (one panel for the cost, one for the accuracy if any)."""
    require("matplotlib", extra="plot", what="plotting")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = list(history)
    if not rows or not all(isinstance(r, Mapping) for r in rows):
        raise UsageError("training_curves: the history must be a non-empty list of per-epoch dictionaries")
    panels = {name: [(label, *_points(rows, key)) for key, label in keys] for name, keys in SERIES.items()}
    panels = {name: [s for s in series if s[1]] for name, series in panels.items()}
    panels = {name: series for name, series in panels.items() if series}
    if not panels:
        raise UsageError(
            "training_curves: no epoch has a train_cost, holdout_cost, train_accuracy or holdout_accuracy"
        )
    fig = Figure(figsize=(5.2 * len(panels), 3.8), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, series) in zip(axes, panels.items(), strict=False):
        for label, xs, ys in series:
            marker = "o" if len(xs) <= 40 else None
            ax.plot(xs, ys, label=label, color=COLORS[label], marker=marker, ms=3.5, lw=1.6)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if name == "cost":
            ax.set_ylabel("cost C")
            ys_all = [y for _, _, ys in series for y in ys]
            # A cost falling over decades reads better on a log scale.
            if min(ys_all) > 0 and max(ys_all) / min(ys_all) > 50:
                ax.set_yscale("log")
            ax.set_title("cost per epoch")
        else:
            ax.set_ylabel("accuracy")
            last = {label: ys[-1] for label, _, ys in series}
            ax.set_title("accuracy per epoch (" + ", ".join(f"{k} {v:.1%}" for k, v in last.items()) + ")",
                         fontsize=10)
            top = max(y for _, _, ys in series for y in ys)
            if top <= 1.0:
                ax.yaxis.set_major_formatter(_percent())
        ax.legend(frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0)


def check_path(path: str | os.PathLike) -> Path:
    """`path` as a Path, if it names a PNG file (the only format the curves are written in)."""
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise UsageError(f"path {str(p)!r}: the file name must end in .png", arg="path")
    return p


def training_curves(history: Iterable[Mapping[str, Any]], path: str | os.PathLike, title: str | None = None) -> Path:
    """Write the cost (and accuracy) per epoch as a PNG to `path` atomically; returns the path.

    `title` names the run above both panels; `run_title` writes one from the run's settings.
    """
    p = check_path(path)
    fig = figure(history, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return atomic_write(p, buf.getvalue())


def confusion_figure(confusion: Any, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write a confusion matrix as a PNG picture to `path` atomically; returns the path.

    `confusion[i, j]` counts the examples of true class i predicted as class j
    (`symgrad.numeric.model.Evaluation`): rows are true classes, columns predicted ones,
    each cell shaded by the share of its row (the class's recall on the diagonal) and, up to 30
    classes, labelled with its count.
    """
    require("matplotlib", extra="plot", what="plotting")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = check_path(path)
    c = np.asarray(confusion)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0 or c.dtype.kind not in "iu":
        raise UsageError(f"confusion_figure: the confusion matrix must be square counts (c, c), got {c.dtype} "
                         f"of shape {c.shape}")
    k = c.shape[0]
    share = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
    side = min(2.5 + 0.45 * k, 14.0)
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    step = max(1, k // 30)
    ax.set_xticks(range(0, k, step))
    ax.set_yticks(range(0, k, step))
    if k <= 30:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(c[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(title or f"confusion matrix ({int(c.sum()):,} examples)", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return atomic_write(p, buf.getvalue())


__all__ = ["check_path", "confusion_figure", "figure", "run_title", "training_curves"]
