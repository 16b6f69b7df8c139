"""Run symgrad as an environment without the optional extras would, and skip tests that need one.

`run_without(args, cwd)` runs ``python -m symgrad ARGS`` in a child process whose
``sitecustomize.py`` (first on ``PYTHONPATH``) puts a meta-path finder in front of the
import system that refuses the extras' packages with ``ModuleNotFoundError``, exactly what
``import matplotlib`` raises after a plain ``pip install -e .``.

``@needs(module)`` skips a test, naming the extra to install, when its package is missing.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The extras' packages (pyproject's optional dependencies) and the optional ones symgrad may try.
EXTRAS = {"matplotlib": "plot", "tqdm": "progress", "mkdocs": "docs", "torch": "compare", "jax": "jax",
          "threadpoolctl": "threads"}

SITECUSTOMIZE = '''
import sys

HIDDEN = {hidden!r}


class HideExtras:
    """Refuse the extras' packages, as an environment without them would."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, HideExtras())
'''


def environment(tmp_path: Path, hidden: tuple[str, ...] = tuple(EXTRAS)) -> dict[str, str]:
    """The environment of a child process in which the ``hidden`` packages cannot be imported."""
    folder = tmp_path / "hide-extras"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(hidden=tuple(hidden)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(ROOT)])
    return env


def run_without(args: list[str], cwd: Path, tmp_path: Path | None = None, timeout: float = 300,
                **kwargs) -> subprocess.CompletedProcess:
    """``python -m symgrad ARGS`` in ``cwd`` with every extra hidden."""
    env = environment(tmp_path or cwd)
    return subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL, **kwargs)


def python_without(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -c CODE`` in ``cwd`` with every extra hidden."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=environment(cwd), stdin=subprocess.DEVNULL)


def needs(module: str) -> pytest.MarkDecorator:
    """A mark that skips a test, naming the extra to install, when ``module`` is not installed."""
    extra = EXTRAS.get(module)
    how = f"pip install -e '.[{extra}]'" if extra else f"pip install {module}"
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs the {extra or module} extra ({module}): {how}")
