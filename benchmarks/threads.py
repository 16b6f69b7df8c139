"""BLAS threads for NumPy training: one thread, two threads and the BLAS default, in one run.

    python benchmarks/threads.py            # print the table
    python benchmarks/threads.py --write    # also write its section of docs/benchmarks.md

The packaged MNIST test set (8,000 examples trained on), sigmoid layers, quadratic cost, SGD
η = 3.0, float64; 784-30-10 and 784-100-10 at batch 10 and 100. Every setting trains the same
parameters in the same order; epochs are interleaved (one epoch of each setting per round, the
order rotated every round) so that a change in the machine's load hits every setting alike; the
first round is not timed. The table gives the median epoch in seconds and the ratio of each
setting to one thread, with ``uptime``'s load average before and after. Thread counts are set
with threadpoolctl (the ``threads`` extra), the way ``symgrad train --threads N`` sets them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symgrad import mlp  # noqa: E402
from symgrad.networks import init_params  # noqa: E402
from symgrad.numeric.threads import blas_info, blas_threads  # noqa: E402
from symgrad.numeric.train import Trainer  # noqa: E402
from symgrad.store.data import packaged_mnist  # noqa: E402
from symgrad.store.files import atomic_write_text  # noqa: E402

NETS = {"784-30-10": [784, 30, 10], "784-100-10": [784, 100, 10]}
BATCHES = (10, 100)
SETTINGS = {"1 thread": 1, "2 threads": 2, "BLAS default": None}
SECTION = "## BLAS threads for NumPy training (`benchmarks/threads.py`)"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


def measure(sizes: list[int], bs: int, rounds: int, X: np.ndarray, Y: np.ndarray) -> dict[str, float]:
    """The median epoch (s) of each setting, epochs interleaved, the first round untimed."""
    trainers = {}
    for name in SETTINGS:
        net = mlp(sizes, level="layer")
        net.set_params(init_params(sizes, "normal", 0))
        t = Trainer(net, 3.0, bs)
        t.set_data(X, Y)
        trainers[name] = t
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    names = list(SETTINGS)
    rng = np.random.default_rng(0)
    for r in range(rounds + 1):
        perm = rng.permutation(X.shape[0])
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            with blas_threads(SETTINGS[name]):
                t0 = time.perf_counter()
                trainers[name].run_epoch(perm)
                dt = time.perf_counter() - t0
            if r:
                times[name].append(dt)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed epochs per setting (default 5)")
    ap.add_argument("--write", action="store_true", help="write its section of docs/benchmarks.md")
    args = ap.parse_args()
    if not blas_info():
        print("benchmarks/threads.py needs threadpoolctl: pip install 'symgrad[threads]'", file=sys.stderr)
        return 2
    X, labels = packaged_mnist()
    X = X[:8000].astype(np.float64)
    Y = np.eye(10)[labels[:8000]]
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes")
    pools = ", ".join(f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads by default)"
                      for p in blas_info())
    up_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = []

    def out(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    out(f"# {when} UTC; {platform.machine()}, {os.cpu_count()} cores; NumPy {np.__version__}; BLAS: {pools}")
    out(f"# uptime before: {up_before}")
    head = "| net | batch | " + " | ".join(SETTINGS) + " | 2 threads / 1 | default / 1 | load |"
    out(head)
    out("|---|---:|" + "---:|" * (len(SETTINGS) + 3))
    rows = []
    ratios: dict[int, list[float]] = {}
    for net, sizes in NETS.items():
        for bs in BATCHES:
            med = measure(sizes, bs, args.rounds, X, Y)
            one = med["1 thread"]
            row = (f"| {net} | {bs} | " + " | ".join(f"{med[n]:.4f}" for n in SETTINGS)
                   + f" | {med['2 threads'] / one:.2f} | {med['BLAS default'] / one:.2f} | {os.getloadavg()[0]:.1f} |")
            rows.append(row)
            ratios.setdefault(bs, []).extend([med["2 threads"] / one, med["BLAS default"] / one])
            out(row)
    up_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    out(f"# uptime after: {up_after}")
    summary = "; ".join(f"at batch {bs}, two threads or the BLAS default took {min(r):.2f}–{max(r):.2f}× "
                        "one thread's time" for bs, r in ratios.items())
    out(f"# {summary}")
    if args.write:
        write_doc(when, pools, up_before, up_after, head, rows, args.rounds, summary)
    return 0


def write_doc(when: str, pools: str, before: str, after: str, head: str, rows: list[str], rounds: int,
              summary: str) -> None:
    text = f"""{SECTION}

Run on {when} (UTC); machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), Python
{platform.python_version()}, NumPy {np.__version__}, BLAS {pools}.
`uptime` before: `{before}`; after: `{after}`.

Setup: the packaged MNIST test set, 8,000 examples trained on, float64, sigmoid layers, quadratic cost,
SGD η = 3.0; each setting trains the same parameters in the same order, epochs interleaved with the order
rotated every round, the first round untimed; median of {rounds} epochs in seconds (lower is better). The
thread counts are set with threadpoolctl, as `symgrad train --threads N` sets them; *load* is the
1-minute load average after the row.

{head}
|---|---:|{"---:|" * (len(SETTINGS) + 3)}
""" + "\n".join(rows) + f"""

In this run, {summary} (differences under ~10 % are noise on this machine).
`symgrad train` and `symgrad.train()` use one BLAS thread by default (`--threads auto`,
`threads="auto"`); `--threads default` leaves the BLAS library's own choice.
"""
    path = ROOT / "docs" / "benchmarks.md"
    page = path.read_text(encoding="utf-8")
    head_, found, rest = page.partition(SECTION)
    if found:
        after_ = rest.find("\n## ")
        page = head_ + text + ("\n" + rest[after_ + 1:] if after_ >= 0 else "")
    else:
        page = page.rstrip() + "\n\n" + text
    atomic_write_text(path, page)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
