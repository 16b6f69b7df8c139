"""Issue 15, start-up: ``symgrad --help`` and ``--version`` import neither SymPy, NumPy nor networkx; the packages
export their names lazily (PEP 562) and the same objects as before. (The times are in benchmarks/startup.py.)"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "symgrad"
LAZY = ["symgrad", "symgrad.core", "symgrad.derivation", "symgrad.numeric", "symgrad.printing", "symgrad.store"]
HEAVY = ("sympy", "numpy", "networkx")


def _fresh(code: str) -> str:
    """stdout of ``code`` run by a fresh interpreter (nothing imported yet)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"], ["data", "fetch", "--help"], []])
def test_help_and_version_import_no_sympy_numpy_or_networkx(argv):
    out = _fresh(
        "import contextlib, io, sys\n"
        "from symgrad.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as text:\n    code = main({argv!r})\n"
        f"print(code, len(text.getvalue()), [m for m in {HEAVY!r} if m in sys.modules])\n")
    code, length, imported = out.split(maxsplit=2)
    assert int(code) == (2 if not argv else 0) and int(length) > 10
    assert imported.strip() == "[]"


def test_importing_symgrad_imports_none_of_them_until_a_name_is_used():
    out = _fresh("import sys, symgrad\n"
                 f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
                 "symgrad.mlp\n"
                 f"print([m for m in {HEAVY!r} if m in sys.modules])\n")
    assert out.splitlines() == ["[]", str(list(HEAVY))]


def test_a_name_shared_with_a_module_stays_the_packages_name():
    """``symgrad.core.backprop`` (function and module) and ``symgrad.numeric.compile`` (compile_graph and module):
    importing the module, before or after the name is used, leaves the package's name as it was."""
    out = _fresh("import symgrad.core.backprop, symgrad.numeric.compile, symgrad.printing.latex\n"
                 "from symgrad.core import backprop\nfrom symgrad.numeric import compile, compile_graph\n"
                 "from symgrad.printing import latex\nimport symgrad.core.graph\n"
                 "print(callable(backprop), compile is compile_graph, callable(latex),\n"
                 "      type(symgrad.core.graph).__name__, symgrad.backprop is backprop)\n")
    assert out.split() == ["True", "True", "True", "module", "True"]


def _type_checking_names(package: str) -> dict[str, str]:
    """``{name: module[:attr]}`` from the ``if TYPE_CHECKING:`` imports of a package's ``__init__``."""
    path = PACKAGE.parent.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    names = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.unparse(node)
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            names[alias.asname or alias.name] = module + (f":{alias.name}" if alias.asname else "")
    return names


@pytest.mark.parametrize("package", LAZY)
def test_the_lazy_names_are_the_type_checking_imports_and_all_of_them_resolve(package):
    module = importlib.import_module(package)
    assert module._EXPORTS == _type_checking_names(package)
    missing = set(module.__all__) - set(module._EXPORTS) - set(vars(module))
    assert not missing, f"{package}.__all__ names {missing} it neither exports lazily nor defines"
    for name in module._EXPORTS:
        where, _, attr = module._EXPORTS[name].partition(":")
        assert getattr(module, name) is getattr(importlib.import_module(where, package), attr or name), name
    assert set(module.__all__) <= set(dir(module))


def test_an_unknown_name_is_an_attribute_error():
    import symgrad

    with pytest.raises(AttributeError, match="symgrad.core' has no attribute 'nothing'"):
        symgrad.core.nothing  # noqa: B018
    assert not hasattr(symgrad, "no_such_name")


def test_the_tables_the_parser_reads_are_the_librarys():
    from symgrad.core.functions import ACTIVATIONS
    from symgrad.core.names import ACTIVATION_NAMES
    from symgrad.store import data, fetch, names

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES
    assert data.MNIST_GZ is names.MNIST_GZ is fetch.MNIST_GZ and fetch.FETCHABLE["mnist"] is data.MNIST_GZ
