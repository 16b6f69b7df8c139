"""Start-up: how long ``symgrad --help`` and ``symgrad --version`` take, before and after lazy imports (issue 15).

Run by hand (not a test)::

    python benchmarks/startup.py               # 15 runs of each, median; before = BEFORE below
    python benchmarks/startup.py --runs 30 --before <git revision>

"Before" is the package as it was at a git revision (extracted with ``git archive`` into a
temporary folder), "after" is this working tree; both run the same console-script code
(``from symgrad.cli import main; main()``) in fresh interpreters, interleaved, so that a busy
machine slows both alike. A bare ``python -c pass`` is timed too: what no package can beat.
Each side also reports whether SymPy, NumPy and networkx were imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last revision of main before the lazy start-up (every command imported SymPy).
BEFORE = "0972d04"
#: The console script's code, then what it imported.
SCRIPT = ("import sys\nfrom symgrad.cli import main\ncode = main(sys.argv[1:])\n"
          "sys.stderr.write(' '.join(m for m in ('sympy', 'numpy', 'networkx') if m in sys.modules) + '\\n')\n"
          "sys.exit(code)\n")


def extract(revision: str, into: Path) -> Path:
    """The ``symgrad`` package at ``revision``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, "symgrad"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(path: Path | None, args: list[str]) -> tuple[float, str]:
    """Seconds one fresh interpreter takes (``path``: the package's parent; ``None``: ``python -c pass``)."""
    env = dict(os.environ)
    if path is None:
        argv = [sys.executable, "-c", "pass"]
    else:
        env["PYTHONPATH"] = str(path)
        argv = [sys.executable, "-c", SCRIPT, *args]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[-1]} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", default=BEFORE, help=f"git revision of the 'before' side (default {BEFORE})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = extract(args.before, Path(tmp))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {args.runs} fresh runs each")
        print(f"{'command':18s} {'before (' + args.before + ')':>18s} {'after':>10s} {'ratio':>7s}  imported before / after")
        bare = statistics.median(run(None, [])[0] for _ in range(args.runs))
        for command in (["--version"], ["--help"]):
            times: dict[str, list[float]] = {"before": [], "after": []}
            imported = {}
            for _ in range(args.runs):
                for side, path in (("before", before), ("after", ROOT)):
                    seconds, modules = run(path, command)
                    times[side].append(seconds)
                    imported[side] = modules or "none"
            b, a = statistics.median(times["before"]), statistics.median(times["after"])
            print(f"symgrad {' '.join(command):10s} {b:16.3f} s {a:8.3f} s {b / a:6.1f}x  "
                  f"{imported['before']} / {imported['after']}")
        print(f"{'python -c pass':18s} {'':18s} {bare:8.3f} s")


if __name__ == "__main__":
    main()
