"""`symgrad demo`: the main job on built-in defaults, in well under a minute.

0. text 003's 2-2-2 worked example: one training step, by the chain rule, as a report;
1. derive BP1–BP4 for a 2-3-2 sigmoid network and print them;
2. prove them (symbolically) and check them numerically;
3. compile a 2-32-32-2 ReLU network and train it on the built-in two-spirals data;
4. draw the derivative graph (SVG, no extra needed) and the training curves (PNG, with
   matplotlib, the `plot` extra; without it the demo says so and skips only them).
"""

from __future__ import annotations

import argparse
import os
import time

from ..derivation.derive import render
from ..derivation.explain import explain
from ..derivation.verify import verify_bp
from ..errors import UsageError, require
from ..networks import mlp
from ..numeric.train import train
from ..printing.drawing import draw
from ..printing.plotting import run_title, training_curves
from ..store.data import dataset, split


def _rule(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def run(out: str = "symgrad-demo", epochs: int | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Run the demo; return its figures (verification result, accuracy, files written)."""
    figures: dict = {"files": []}
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)

    _rule("0. The 2-2-2 worked example (text 003), one step by the chain rule")
    step = explain(figure=False)
    v = step.values
    print(f"out_o1 = {v['out_o1']:.9g}   E_total = {step.error:.9g}")
    print(f"∂E/∂w5 = {step.gradients['w5']:.9g}   w5 → {step.updated['w5']:.9g}   w1 → {step.updated['w1']:.9g}")
    print(f"E_total after the step = {step.error_after:.9g}   (backprop agrees to {step.backprop_gap:.1e})")
    figures["E_total"] = step.error
    report_path = os.path.join(out, "step-2-2-2.html")
    step.save(report_path)
    figures["files"].append(report_path)

    _rule("1. Derive: backprop adds the derivative nodes to the graph")
    net = mlp([2, 3, 2], "sigmoid", "quadratic", level="layer")
    net.backprop()
    print(render(net, "text"))

    _rule("2. Verify BP1–BP4: exactly (SymPy) and numerically (central differences)")
    report = verify_bp([2, 3, 2], "sigmoid", "quadratic", seed=seed)
    print(report.render("text"))
    figures["verified"] = report.ok

    _rule("3. Train: the derivative graph compiled to NumPy, on two spirals")
    X, labels = dataset("spirals", n=600, seed=seed)
    (Xtr, ytr), (Xho, yho) = split(X, labels, 200)
    model = mlp([2, 32, 32, 2], "relu", "log_likelihood", level="layer", seed=seed, init="he")
    settings = {"batch_size": 10, "lr": 0.01, "optimizer": "adam"}
    history = train(model, Xtr, ytr, epochs=epochs or 100, seed=seed, holdout=(Xho, yho), progress=progress,
                    **settings)
    curves_title = run_title("spirals", model.sizes, model.activation, model.cost, n_train=len(Xtr),
                             n_holdout=len(Xho), output=model.output, **settings)
    last = history[-1]
    acc = last.get("holdout_accuracy")
    figures["holdout_accuracy"] = acc
    print(f"after {last['epoch']} epochs: train cost {last['train_cost']:.3g}, held-out accuracy {acc:.1%}")

    _rule("4. Pictures and reports")
    print(f"wrote {report_path} (the worked example, every weight's chain rule)")
    small = mlp([2, 2, 2], "sigmoid", "quadratic", level="neuron")
    small.backprop()
    graph_path = os.path.join(out, "graph-2-2-2.svg")
    draw(small, graph_path, with_derivatives=True)  # SVG: written by symgrad itself, no extra needed
    figures["files"].append(graph_path)
    print(f"wrote {graph_path} (the 2-2-2 network's graph, derivative nodes below the forward ones)")
    curves_path = os.path.join(out, "training.png")
    try:
        require("matplotlib", extra="plot", what="drawing them")
    except UsageError as e:
        print(f"skipped {curves_path} (the training curves): {e}")
    else:
        training_curves(history, curves_path, title=curves_title)
        figures["files"].append(curves_path)
        print(f"wrote {curves_path} (cost and accuracy per epoch)")
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return figures


def demo(args: argparse.Namespace) -> int:
    """`symgrad demo`: run the demo into `--out`; 0 when BP1–BP4 are verified."""
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: a file is in the way (give a folder for the pictures)")
    try:  # fail fast: the folder for the pictures, before minutes of work
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {args.out}: cannot create the folder: {e.strerror or e}") from None
    figures = run(args.out, args.epochs, args.seed)
    return 0 if figures["verified"] else 1
