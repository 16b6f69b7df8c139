"""``symgrad train``'s memory guard (issue 14): the run's memory is estimated before anything is allocated,
and a run over ``--max-memory`` is refused with the figure and the limit.

The runs that would allocate gigabytes without the guard are subprocesses under
``resource.setrlimit(RLIMIT_AS, …)``, so a regression fails the test instead of taking the machine down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.cli import main as cli_main
from symgrad.errors import UsageError
from symgrad.numeric.memory import estimate, parse_size

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 1 << 30


def _limited(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    # The cap is set by the child itself, first: a preexec_fn would fork a (JAX-)threaded test process.
    code = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n" + code
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=env, )


@pytest.mark.parametrize("sizes, figure", [("784,20000,20000,10", "14.8 GiB"), ("784,100000,100000,10", "312.4 GiB")])
def test_a_network_too_large_for_the_machine_is_refused_before_anything_is_allocated(sizes, figure, tmp_path):
    code = ("from symgrad.cli import main\n"
            f"raise SystemExit(main(['train', '--dataset', 'mnist', '--sizes', {sizes!r}, '--max-memory', '4G']))\n")
    res = _limited(code, tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"symgrad train: error: --sizes {sizes} (")
    assert f"needs about {figure}" in res.stderr and "more than --max-memory 4G" in res.stderr
    assert res.stdout == ""  # refused before the data were read


def test_the_default_limit_is_half_the_machine(capsys):
    assert cli_main(["train", "--dataset", "mnist", "--sizes", "784,100000,100000,10"]) == 2
    assert "(the default: half of this machine's" in capsys.readouterr().err


def test_the_data_count_once_they_are_read(capsys):
    model_only = estimate([784, 30, 10], 10, "sgd", "float64").total
    with_data = estimate([784, 30, 10], 10, "sgd", "float64", n_examples=10000).total
    assert with_data > model_only
    limit = (model_only + with_data) // 2
    assert cli_main(["train", "--dataset", "mnist", "--sizes", "784,30,10", "--max-memory", str(limit)]) == 2
    err = capsys.readouterr().err  # the network alone passed; the second check, with the data read, did not
    assert "and 10,000 examples) needs about" in err and f"more than --max-memory {limit}" in err


def test_a_raised_limit_lets_it_run(capsys):
    argv = ["train", "--dataset", "xor", "--sizes", "2,4,1", "--epochs", "1", "--quiet"]
    assert cli_main([*argv, "--max-memory", "1K"]) == 2
    assert "more than --max-memory 1K; raise --max-memory to try anyway" in capsys.readouterr().err
    assert cli_main([*argv, "--max-memory", "1G"]) == 0


@pytest.mark.parametrize("text, n", [("4G", 4 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29), ("100000", 100000),
                                     ("2k", 2048), ("1T", 1 << 40)])
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "lots", "4X", "-1G", "0", "1e9"])
def test_bad_sizes(text):
    with pytest.raises(UsageError, match="--max-memory must be"):
        parse_size(text)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_the_estimate_bounds_a_real_run(optimizer, tmp_path):
    """The peak resident memory a real run adds (VmHWM after, minus before) stays under the estimate."""
    sizes = [2, 1500, 1500, 3]
    code = (
        "import sys\n"
        "from symgrad.cli import main\n"
        "import symgrad.cli.commands, symgrad.numeric.train\n"
        "def hwm(): return 1024 * int([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
        "before = hwm()\n"
        f"rc = main(['train', '--dataset', 'blobs', '--sizes', '2,1500,1500,3', '--epochs', '1', '--quiet', "
        f"'--optimizer', {optimizer!r}, '--checkpoint', 'ck.npz'])\n"
        "print(rc, hwm() - before)\n"
    )
    res = _limited(code, tmp_path)
    rc, grew = map(int, res.stdout.split()[-2:])
    assert rc == 0, res.stderr
    est = estimate(sizes, 10, optimizer, "float64", n_examples=300, checkpoint=True)
    assert 0 < grew <= est.total, (grew, est)
