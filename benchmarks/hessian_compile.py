"""Compiling a Hessian graph: before and after the targeted derivative fusion (issue 9).

Run by hand (not a test)::

    python benchmarks/hessian_compile.py                      # 2-2-2 and 2-2-3, before = BEFORE below
    python benchmarks/hessian_compile.py --sizes 2-2-2 --timeout 120 --before <git revision>

For a neuron-level tanh network with a softmax output and the log-likelihood cost, the
second-derivative nodes ∂²C/∂θ_i∂θ_j are added by ``hessian_nodes`` and every one of them is
compiled (``symgrad.numeric.compile(graph, outputs=...)``). "Before" is the package at a git
revision (extracted with ``git archive``), "after" this working tree; each side runs in a fresh
interpreter (no SymPy cache shared), the before side under a timeout. Both compiled models are
then called on the same 5 random examples, and the largest difference of their Hessian entries,
relative to the largest entry, is printed: the same numbers, in less time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The last revision of main whose fusion pass put every dividing derivative node into its consumers.
BEFORE = "3d46595"

#: One side's work, in a fresh interpreter: build, add the Hessian nodes, time compile(), evaluate.
SCRIPT = r"""
import json, sys, time
import numpy as np
from symgrad import mlp
from symgrad.core.hessian import hessian_nodes
from symgrad.numeric import compile
sizes = [int(s) for s in sys.argv[1].split("-")]
net = mlp(sizes, "tanh", "log_likelihood", level="neuron", seed=0)
g = net.graph
params = [p.name for p in g.parameters]
names = hessian_nodes(g, "C", params)
outputs = [n for row in names for n in row if n is not None]
start = time.perf_counter()
model = compile(g, outputs=outputs)
seconds = time.perf_counter() - start
rng = np.random.default_rng(1)
values = {p: float(v) for p, v in zip(params, rng.standard_normal(len(params)))}
labels = rng.integers(0, sizes[-1], 5)
for k, x in enumerate(net.names["x"]):
    values[x] = rng.standard_normal(5)
for j, y in enumerate(net.names["y"]):
    values[y] = (labels == j).astype(float)
out = model.evaluate(values)
print(json.dumps({"seconds": seconds, "entries": len(outputs),
                  "values": {o: np.asarray(out[o], dtype=float).tolist() for o in outputs}}))
"""


def extract(revision: str, into: Path) -> Path:
    """The ``symgrad`` package at ``revision``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, "symgrad"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(path: Path, sizes: str, timeout: float) -> dict | None:
    """One side's result (``path``: the package's parent), or None when it ran past ``timeout`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    try:
        done = subprocess.run([sys.executable, "-c", SCRIPT, sizes], env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"{sizes} at {path} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2-2-2,2-2-3", help="comma-separated networks (default 2-2-2,2-2-3)")
    ap.add_argument("--before", default=BEFORE, help=f"git revision of the old path (default {BEFORE})")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds the old path may take (default 900)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        before_pkg = extract(args.before, Path(tmp))
        print("Hessian graph of a neuron-level tanh network, softmax output, log-likelihood cost: compile()")
        print(f"{'sizes':>7} {'entries':>8} {'before (' + args.before + ')':>18} {'after':>9} {'ratio':>8}  "
              f"max |difference| / max |entry|")
        for sizes in args.sizes.split(","):
            after = run(ROOT, sizes, timeout=3600)
            before = run(before_pkg, sizes, args.timeout)
            if before is None:
                print(f"{sizes:>7} {after['entries']:>8} {'> ' + format(args.timeout, '.0f') + ' s':>18} "
                      f"{after['seconds']:>7.2f} s {'> ' + format(args.timeout / after['seconds'], '.0f'):>8}  "
                      "(the old path did not finish)")
                continue
            diff = max(float(np.max(np.abs(np.subtract(before["values"][o], v)))) for o, v in after["values"].items())
            scale = max(float(np.max(np.abs(v))) for v in after["values"].values())
            diff /= scale
            print(f"{sizes:>7} {after['entries']:>8} {before['seconds']:>16.2f} s {after['seconds']:>7.2f} s "
                  f"{before['seconds'] / after['seconds']:>7.0f}x  {diff:.1e}")


if __name__ == "__main__":
    main()
