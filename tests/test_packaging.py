"""The package list setuptools builds from pyproject.toml holds the real package only.

`symgrad demo` writes a `symgrad-demo/` folder into the current directory; run in the
repository root, a pattern such as ``include = ["symgrad*"]`` would make it a package of
the distribution (and anything else whose name starts with symgrad).
"""

import shutil
import warnings
from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def packages(root: Path) -> list[str]:
    with warnings.catch_warnings():  # "[tool.setuptools] support is still beta"
        warnings.simplefilter("ignore")
        config = read_configuration(root / "pyproject.toml", expand=True)
    return sorted(config["tool"]["setuptools"]["packages"])


def test_only_symgrad_and_its_subpackages_are_packaged(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copy(ROOT / "README.md", copy)
    shutil.copytree(ROOT / "symgrad", copy / "symgrad", ignore=shutil.ignore_patterns("__pycache__"))
    for stray in ("symgrad-demo", "symgrad_scratch", "tests", "examples", "benchmarks", "docs"):
        (copy / stray).mkdir(exist_ok=True)
        (copy / stray / "stray.py").write_text("x = 1\n")
        (copy / stray / "__init__.py").write_text("")
    expected = sorted(
        ".".join(p.relative_to(copy).parent.parts)
        for p in (copy / "symgrad").rglob("__init__.py")
    )
    found = packages(copy)
    assert found == expected, found
    assert "symgrad" in found and all(p == "symgrad" or p.startswith("symgrad.") for p in found)
