"""The `symgrad` command line: the flags of every subcommand, and the dispatch to its work.

The work is done by a function of `symgrad.cli.commands` (derive, verify, train,
graph, explain, data) or `symgrad.cli.demo`. The choices of the flags are the library's own
tables (activations, outputs, costs, levels, formats, forms, optimizers, inits, dtypes); each
is also accepted with hyphens for underscores (`--cost cross-entropy`) and stands for the
library's name. `--sizes` takes `784,30,10`, `784-30-10` or `"784 30 10"`.

A user error prints one line on stderr and exits 2; the library names its arguments in Python
(`lr must be …`, `output='sigmoid'`), and this module spells them as the command's flags
(`--lr must be …`, `--output sigmoid`). `symgrad` without a command prints the help
(the command list) and exits 2, as nothing was done; `symgrad --help` exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from .. import __version__
from ..core.names import ACTIVATION_NAMES as ACTIVATIONS
from ..core.names import COSTS, INITS, LEVELS, OUTPUTS, check_sizes
from ..derivation.names import DERIVE_FORMATS, VERIFY_FORMATS
from ..errors import UsageError
from ..numeric.names import (
    AUTO_THREADS,
    BACKENDS,
    DEFAULT_GAMMA,
    DTYPES,
    MONITORS,
    NONFINITE,
    OPTIMIZERS,
    OVERRIDABLE,
    SCHEDULES,
    THREAD_CHOICES,
)
from ..printing.names import FORMS
from ..store.names import DATASETS, EVALUATIONS, FETCHABLE, HOLDOUT, MIRRORS, NIELSEN_VALIDATION
from .encoding import ascii_fallback

#: Where `--csv` and `--npy` examples are laid out (symgrad.store.tabular), as --help says it.
CSV_HELP = ("CSV file, one example per row: a header row is optional; the label is the column named label, "
            "else the first column")
NPY_HELP = ".npy array of examples (n, d), one per row (labels: --labels FILE.npy), or an .npz holding X and y"

if TYPE_CHECKING:  # imported when a command runs (COMMANDS), so that --help and --version need no SymPy
    from . import commands, demo, use  # noqa: F401

#: Each subcommand's example, as its --help shows it, and after `# →` what it prints: the
#: tests run every example and find that text in its output (the last epoch's line, for train).
EXAMPLES = {
    "demo": "symgrad demo  # → held-out accuracy 100.0%",
    "derive": "symgrad derive --sizes 2,3,2 --level layer  # → BP2  δ^2 = ((W^3)ᵀ δ^3) ⊙ σ'(z^2)",
    "verify": "symgrad verify --sizes 2,3,2 --activation tanh --output sigmoid --cost cross_entropy  # → ALL HOLD",
    "train": "symgrad train --dataset xor --sizes 2,4,1 --epochs 500 --batch-size 1 --lr 3.0"
             "  # → train accuracy 1.0000",
    "graph": "symgrad graph --sizes 2,2,2 --with-derivatives --out graph.svg  # → (45 nodes, 68 edges)",
    "explain": "symgrad explain --sizes 2,2,2 --out step.html  # → E = 0.298371109 → 0.291027774 after the step",
    "data": "symgrad data list  # → the real MNIST test set shipped with symgrad",
    "evaluate": "symgrad train --dataset mnist --epochs 2 --quiet --save m.npz && "
                "symgrad evaluate --model m.npz --dataset mnist  # → confusion matrix (rows: true class",
    "predict": "symgrad train --dataset mnist --epochs 1 --quiet --save m.npz && "
               "symgrad predict --model m.npz --dataset mnist --out preds.csv  # → wrote 2,000 predictions",
    "info": "symgrad train --dataset xor --sizes 2,4,1 --epochs 3 --lr 3 --quiet --save m.npz && "
            "symgrad info m.npz  # → training: 3 of 3 epochs, sgd",
}
#: The examples of `symgrad data ACTION --help`.
DATA_EXAMPLES = {
    "fetch": "symgrad data fetch mnist --dir ~/mnist && symgrad train --mnist ~/mnist",
    "list": "symgrad data list",
}

#: Where `symgrad data fetch` puts the files when no --dir is given, as --help says it.
DATA_DIR_HELP = ("$SYMGRAD_DATA_DIR/mnist if set, else the user's cache folder: ~/.cache/symgrad/mnist "
                 "($XDG_CACHE_HOME) on Linux, ~/Library/Caches/symgrad/mnist on macOS, "
                 "%%LOCALAPPDATA%%\\symgrad\\mnist on Windows")

_SEPARATORS = re.compile(r"\s*[,-]\s*|\s+")


def sizes_arg(text: str) -> list[int]:
    """`"784,30,10"`, `"784-30-10"`, `"784, 30, 10"` or `"784 30 10"` -> `[784, 30, 10]`
    (each a positive whole number, at least two)."""
    parts = _SEPARATORS.split(text.strip())
    if any(not s for s in parts) and len(parts) > 1:
        raise argparse.ArgumentTypeError(f"--sizes has an empty entry in {text!r} (write e.g. 784,30,10)")
    try:
        sizes = [int(s) for s in parts if s]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes must be whole numbers separated by commas, hyphens or spaces, got {text!r}") from None
    try:
        return list(check_sizes(sizes))
    except UsageError as e:  # "sizes needs at least two layers …": the flag's spelling
        raise argparse.ArgumentTypeError(f"--{e}") from None


def threads_arg(text: str) -> int | str:
    """`--threads`: a whole number ≥ 1, `auto` or `default`."""
    if text in THREAD_CHOICES:
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--threads must be a whole number ≥ 1, auto or default, got {text!r}")
    return n


def seed_arg(text: str) -> int:
    """A seed: a whole number ≥ 0 (what NumPy's generators take)."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number ≥ 0, got {text!r}")
    return seed


def _choice(p: argparse.ArgumentParser, flag: str, choices: Sequence[str], **kw: object) -> None:
    """A flag whose value is one of the library's `choices`, also spelled with hyphens for underscores."""
    names = list(choices)

    def spelling(text: str) -> str:
        alias = text.replace("-", "_")
        return alias if text not in names and alias in names else text

    p.add_argument(flag, type=spelling, choices=names, **kw)


def _network_flags(p: argparse.ArgumentParser, sizes: str | None = "2,3,2") -> None:
    """--sizes, --activation, --output and --cost; `sizes=None`: defaults of None, so that a command can tell
    what the user gave (explain takes the rest from a saved model)."""
    default = (lambda value: None) if sizes is None else (lambda value: value)
    p.add_argument("--sizes", type=sizes_arg, default=None if sizes is None else sizes_arg(sizes),
                   help="layer sizes, input first" + ("" if sizes is None else f" (default {sizes})"))
    _choice(p, "--activation", ACTIVATIONS, default=default("sigmoid"),
            help="the hidden layers' activation σ, and the output layer's unless --output says otherwise"
                 + ("" if sizes is None else " (default sigmoid)"))
    _choice(p, "--output", OUTPUTS, default=None,
            help="the output layer's activation (default: softmax for log_likelihood, else --activation); "
                 "cross_entropy needs sigmoid")
    _choice(p, "--cost", COSTS, default=default("quadratic"),
            help="cost C (log_likelihood goes with a softmax output)" + ("" if sizes is None else "; default quadratic"))


def _expr_flags(p: argparse.ArgumentParser) -> None:
    """--expr, --shape and --wrt: a typed expression instead of a network (the --sizes flags are then not used)."""
    p.add_argument("--expr", metavar="TEXT",
                   help='a typed matrix expression instead of a network, e.g. "C = sum((W @ x + b - y)**2)/2" '
                        "(docs: Typed expressions); the network flags are then not used")
    p.add_argument("--shape", action="append", default=None, metavar="NAME=RxC",
                   help="with --expr: a name's shape, e.g. W=3x4, x=4 (a column) or lam=scalar; repeatable")
    p.add_argument("--wrt", action="append", default=None, metavar="NAME",
                   help="with --expr: differentiate with respect to NAME (default: every name with a --shape); repeatable")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _train_flags(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mnist", metavar="DIR", nargs="?", const="",
                     help="folder with the four MNIST files (symgrad data fetch mnist gets them; without DIR, "
                          f"the folder it uses): train on the first 50,000, validate on the last "
                          f"{NIELSEN_VALIDATION:,} (Nielsen's split)")
    src.add_argument("--images", metavar="FILE", help="IDX images file (with --labels)")
    src.add_argument("--csv", metavar="FILE", help=CSV_HELP)
    src.add_argument("--npy", metavar="FILE", help=NPY_HELP)
    src.add_argument("--dataset", metavar="NAME",
                     help=f"built-in dataset: {', '.join(DATASETS)} (mnist: the 10,000 real digits shipped with "
                          f"symgrad; the last {HOLDOUT['mnist']:,} held out)")
    p.add_argument("--labels", metavar="FILE", help="IDX labels file (with --images), or .npy labels (with --npy)")
    p.add_argument("--holdout", type=int, default=None, metavar="N",
                   help=f"hold out the last N examples (not trained on) and evaluate on them; 0 holds out none "
                        f"(default: {NIELSEN_VALIDATION:,} for --mnist, {HOLDOUT['mnist']:,} for --dataset mnist, "
                        "else none)")
    _choice(p, "--eval", EVALUATIONS, default=None,
            help="what to evaluate after each epoch: the held-out examples (validation, the default) or "
                 "the MNIST test set (test, with --mnist; the held-out examples stay unused)")
    _network_flags(p, "784,30,10")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--lr", type=float, default=3.0)
    p.add_argument("--seed", type=seed_arg, default=0)
    _choice(p, "--optimizer", OPTIMIZERS, default="sgd")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 λ (adds λ Σ‖W‖² to C)")
    _choice(p, "--init", INITS, default="normal")
    _choice(p, "--dtype", DTYPES, default="float64")
    _choice(p, "--backend", BACKENDS, default="numpy",
            help="numpy (default) or jax (the jax extra: the whole epoch is one compiled lax.scan)")
    p.add_argument("--devices", type=int, default=None, metavar="N",
                   help="JAX: split every mini-batch over N devices (default 1; --batch-size must divide by N)")
    p.add_argument("--threads", type=threads_arg, default="auto", metavar="N",
                   help=f"BLAS threads for NumPy: a number, auto (default: {AUTO_THREADS}, the fastest measured, "
                        "see docs/benchmarks.md) or default (the BLAS library's own); needs the threads extra")
    _choice(p, "--schedule", SCHEDULES, default="constant",
            help="learning-rate schedule per epoch from η₀ = --lr: constant (default), step (× --gamma every "
                 "--step-size epochs), exponential (× --gamma every epoch), cosine (down to --min-lr over "
                 "--period epochs, default --epochs)")
    p.add_argument("--step-size", type=int, default=None, metavar="K", help="step: epochs between decays (default 10)")
    p.add_argument("--gamma", type=float, default=None,
                   help=f"step, exponential: the factor γ (default {DEFAULT_GAMMA['step']} for step, "
                        f"{DEFAULT_GAMMA['exponential']} for exponential)")
    p.add_argument("--min-lr", type=float, default=None, metavar="ETA", help="cosine: η_min (default 0)")
    p.add_argument("--period", type=int, default=None, metavar="T", help="cosine: T in epochs (default --epochs)")
    _choice(p, "--early-stop", MONITORS, default=None,
            help="stop when the held-out cost or accuracy has not improved for --patience epochs")
    p.add_argument("--patience", type=int, default=5, help="epochs without improvement before --early-stop stops "
                                                           "(default 5)")
    p.add_argument("--min-delta", type=float, default=0.0,
                   help="the least change that counts as an improvement (default 0)")
    p.add_argument("--keep-best", action="store_true",
                   help="end with (and --save) the best epoch's parameters, by --early-stop's measure or else the "
                        "held-out cost; the saved model records the epoch")
    p.add_argument("--init-from", metavar="PATH",
                   help="start from a saved model's parameters (fine-tuning; its network must match --sizes, "
                        "--activation, --output and --cost)")
    p.add_argument("--max-memory", metavar="SIZE", default=None,
                   help="refuse a run whose estimated memory exceeds SIZE, e.g. 4G or 512M (default: half of "
                        "this machine's memory)")
    p.add_argument("--save", metavar="PATH", help="save the trained model (.npz + JSON spec)")
    p.add_argument("--checkpoint", metavar="PATH", help="write a checkpoint after every epoch")
    p.add_argument("--resume", metavar="PATH", help="continue from a checkpoint (the same settings; see --override)")
    _choice(p, "--override", OVERRIDABLE, action="append", default=None, metavar="SETTING",
            help=f"with --resume: let this run's setting replace the checkpoint's ({', '.join(OVERRIDABLE)}: "
                 "--lr, or --schedule and its settings); repeatable")
    p.add_argument("--force-resume", action="store_true",
                   help="resume even when the checkpoint was made on other training data (its fingerprint differs)")
    p.add_argument("--plot", metavar="FILE.png", help="write training curves")
    p.add_argument("--json", action="store_true",
                   help="stdout: one JSON document (the settings, the history, the saved file), nothing else; "
                        "the words go to stderr")
    p.add_argument("--log", metavar="FILE", help="write one JSON line per epoch to FILE as the epoch ends")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _choice(p, "--on-nonfinite", NONFINITE, default="raise",
            help="when training diverges to NaN/Inf: raise an error naming the epoch, step and parameter "
                        "(default), stop and keep the last finite parameters, or ignore it")


def _model_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="FILE", required=True, help="a model saved by symgrad train --save")


def _example_flags(p: argparse.ArgumentParser, labels: bool) -> None:
    """The examples predict and evaluate read: one source, and the labels that go with an IDX or .npy file."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", metavar="NAME",
                     help=f"built-in dataset: {', '.join(DATASETS)} (mnist: the last {HOLDOUT['mnist']:,} of the "
                          "packaged set, which train --dataset mnist holds out; the others drawn with --seed)")
    src.add_argument("--mnist", metavar="DIR", nargs="?", const="",
                     help="folder with the MNIST files: its test set (t10k); without DIR, symgrad data fetch's folder")
    src.add_argument("--images", metavar="FILE", help="IDX images file" + (" (with --labels)" if labels else ""))
    src.add_argument("--csv", metavar="FILE", help=CSV_HELP + ("" if labels else " (dropped when present)"))
    src.add_argument("--npy", metavar="FILE", help=NPY_HELP)
    if labels:
        p.add_argument("--labels", metavar="FILE", help="IDX labels file (with --images), or .npy labels (with --npy)")
    p.add_argument("--seed", type=seed_arg, default=None,
                   help="the seed a generated --dataset is drawn with (default: the one the model was trained with)")


def example_epilog(command: str) -> str:
    """The end of a subcommand's --help: its example, and on the next line what it prints."""
    line, _, promise = EXAMPLES[command].partition("  # → ")
    return f"example:\n  {line}" + (f"\n  # → {promise}" if promise else "")


def build_parser() -> argparse.ArgumentParser:
    """The parser of `symgrad` and its subcommands' flags (each `--help` shows an example)."""
    parser = _Parser(prog="symgrad", description="Symbol-to-symbol differentiation of neural networks.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=example_epilog(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("demo", "derive, verify and print BP1–BP4, then train a compiled model on a built-in dataset")
    p.add_argument("--out", default="symgrad-demo", help="folder for the pictures (default ./symgrad-demo)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's own)")
    p.add_argument("--seed", type=seed_arg, default=0)

    p = add("derive", "print the derivative formulas of a network")
    _network_flags(p)
    _choice(p, "--level", LEVELS, default="layer")
    _choice(p, "--format", DERIVE_FORMATS, default="text")
    _choice(p, "--form", FORMS, default="factored",
            help="factored in δ (default), expanded to the leaves, or node by node in its neighbours' symbols")
    p.add_argument("--param", action="append", default=None, help="only the derivative of this parameter (e.g. W2, w2_1_1); repeatable")
    p.add_argument("--max-formulas", type=int, default=2000, help="refuse to print more formulas than this (default 2000)")
    _expr_flags(p)

    p = add("verify", "prove BP1–BP4 symbolically and check them numerically")
    _network_flags(p)
    _choice(p, "--format", VERIFY_FORMATS, default="text")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--points", type=int, default=3, help="random points for the numeric check")
    p.add_argument("--batch", type=int, default=1, help="examples per batch m in the proof (default 1)")
    p.add_argument("--max-params", type=int, default=1000, help="refuse networks with more parameters (default 1000)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="refuse a proof predicted to take longer than this (default 60; the prediction is "
                        "measured, see docs/verification.md)")
    _expr_flags(p)

    p = add("train", "train a compiled network on MNIST, IDX files or a built-in dataset")
    _train_flags(p)

    p = add("data", "list the built-in datasets and the fetched files, or download the full MNIST set")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)

    def add_data(name: str, help: str) -> argparse.ArgumentParser:
        return data_sub.add_parser(
            name, help=help, description=help, epilog=f"example:\n  {DATA_EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    f = add_data("fetch", "download the four MNIST files (60,000 + 10,000 digits), each checked by its sha256")
    _choice(f, "name", FETCHABLE, help="the dataset")
    f.add_argument("--dir", metavar="DIR", help=f"where to put the files (default: {DATA_DIR_HELP})")
    f.add_argument("--mirror", metavar="URL", action="append",
                   help=f"a mirror to try instead of the public ones, repeatable (default, in order: {', '.join(MIRRORS)})")
    f.add_argument("--quiet", action="store_true", help="no progress; print only where the files are")
    f = add_data("list", "show the built-in datasets and whether the MNIST files are fetched")
    f.add_argument("--dir", metavar="DIR", help="the folder to look in (default: where symgrad data fetch puts them)")

    p = add("evaluate", "a saved model's accuracy, mean cost and confusion matrix on labelled examples")
    _model_flag(p)
    _example_flags(p, labels=True)
    p.add_argument("--plot", metavar="FILE.png", help="also draw the confusion matrix (the plot extra)")
    p.add_argument("--json", action="store_true", help="stdout: the figures and the matrix as one JSON document")

    p = add("predict", "a saved model's class and probabilities for every example (CSV or JSON lines)")
    _model_flag(p)
    _example_flags(p, labels=False)
    p.add_argument("--out", metavar="FILE",
                   help="write the predictions to FILE.csv (index,class,p0,...) or FILE.jsonl (one JSON object a "
                        "line); default: CSV on stdout")
    p.add_argument("--json", action="store_true",
                   help="stdout: one JSON document (the predictions, or with --out what was written)")

    p = add("info", "what a saved model records: its network, how it was trained, on which data, its history")
    p.add_argument("file", metavar="FILE", help="a model saved by symgrad train --save (or a checkpoint)")
    p.add_argument("--json", action="store_true", help="stdout: all of it as one JSON document")

    p = add("graph", "draw the computational graph (forward and derivative nodes)")
    _network_flags(p, "2,2,2")
    _choice(p, "--level", LEVELS, default="neuron")
    p.add_argument("--with-derivatives", action="store_true")
    p.add_argument("--out", required=True, help="FILE.svg, FILE.png or FILE.dot")

    p = add("explain", "a derivation report of one training step (forward, error, chain rule, update)")
    p.add_argument("--weights", metavar="FILE",
                   help="saved model (its sizes, activation, output and cost are used) or plain .npz of W2, b2, …; "
                        "default: text 003's weights for 2-2-2, else drawn with seed 0")
    _network_flags(p, None)
    p.epilog = ("without --weights: --sizes 2,2,2, --activation sigmoid and --cost quadratic unless given;\n"
                "with a saved model: its sizes, activation, output and cost, and a flag that says\n"
                f"otherwise is refused\n\n{p.epilog}")
    p.add_argument("--input", metavar="X", help="comma-separated input values")
    p.add_argument("--target", metavar="Y", help="comma-separated target values")
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--out", required=True, help="FILE.md or FILE.html")
    return parser


#: Each command's work: (module of this package, function). The module is imported when the command runs,
#: so that `symgrad --help` and `--version` answer without importing SymPy, NumPy or networkx.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (".demo", "demo"),
    "derive": (".commands", "derive"),
    "verify": (".commands", "verify"),
    "train": (".commands", "train"),
    "graph": (".commands", "graph"),
    "explain": (".commands", "explain"),
    "data": (".commands", "data_command"),
    "evaluate": (".use", "evaluate"),
    "predict": (".use", "predict"),
    "info": (".use", "info"),
}


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that does command `name`'s work (its module imported now)."""
    module, function = COMMANDS[name]
    return getattr(import_module(module, __package__), function)


#: Library argument names spelled otherwise on a command's line (the rest: lr → --lr, batch_size → --batch-size).
FLAGS = {
    "derive": {"params": "--param"},
    "explain": {"x": "--input", "y": "--target", "path": "--out"},
    "graph": {"path": "--out"},
    "train": {"path": "--plot", "force": "--force-resume"},
    "evaluate": {"path": "--plot"},
    "data": {"directory": "--dir", "mirrors": "--mirror"},
}


def spelled(command: str, error: UsageError) -> str:
    """The error's message with the Python names of arguments spelled as the command's flags.

    The argument at fault (`error.arg`) where the message starts with it, and names in backquotes:
    `lr` -> `--lr`, `output='sigmoid'` -> `--output sigmoid`.
    """

    def flag(name: str) -> str:
        return FLAGS.get(command, {}).get(name, "--" + name.replace("_", "-"))

    def named(m: re.Match) -> str:
        value = m.group(3)
        return flag(m.group(1)) + ("" if value is None else f" {value}")

    message = str(error)
    if error.arg and re.match(rf"{re.escape(error.arg)}\b", message):
        message = flag(error.arg) + message[len(error.arg):]
    return re.sub(r"`(\w+)(?:=(['\"]?)([^`'\"]*)\2)?`", named, message)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `symgrad` console script; returns the exit status."""
    try:
        return _run(argv)
    except BrokenPipeError:  # `symgrad derive | head`: the reader is gone; stop quietly, as `cat` does
        try:  # the interpreter's last flush of stdout would fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (main() called in-process)
            pass
        return 141  # 128 + SIGPIPE, what a shell reports for a process killed by a closed pipe


def _run(argv: Sequence[str] | None) -> int:
    ascii_fallback()  # σ, δ, ⊙ spelled sigma, delta, (.) where the stream's encoding (cp1252) cannot hold them
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as e:  # a usage error (2) or --help/--version (0): a status, also for main([...])
        return e.code if isinstance(e.code, int) else 2
    if extra:  # named by the subcommand they were given to, not by the top-level parser
        prog = f"symgrad {args.command}" if args.command else "symgrad"
        print(f"{prog}: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    if args.command is None:  # like git: the command list, and a status that says nothing was done
        parser.print_help()
        return 2
    try:
        return int(command(args.command)(args) or 0)
    except UsageError as e:
        print(f"symgrad {args.command}: error: {spelled(args.command, e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"symgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
