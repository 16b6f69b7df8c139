"""The package's layering, read from the source: every import points down, none is hidden in a function,
there is no import circle, and nothing inside the package leans on the one-release aliases.

    errors → core → layers → networks → store → {numeric, printing} → derivation → cli (and the package's top)

Each module may import only modules of its own layer or of the layers to its left (numeric and
printing are siblings: neither imports the other). The only imports inside functions are of the
optional third-party packages. ``if TYPE_CHECKING:`` imports never run, so they count for the
layers but not for circles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "symgrad"
#: Left to right: a module may import its own layer and those before it.
ORDER = ["errors", "core", "layers", "networks", "store", "numeric", "printing", "derivation", "top"]
RANK = {**{name: i for i, name in enumerate(ORDER)}, "printing": ORDER.index("numeric")}
SUBPACKAGES = {"core", "store", "numeric", "printing", "derivation"}
#: The top-level modules that are layers of their own; the other top-level modules are aliases.
TOP_LEVEL = {"__init__", "__main__", "errors", "layers", "networks"}
#: Optional third-party packages, imported where they are needed (a clear error when missing).
OPTIONAL = {"matplotlib", "tqdm", "jax"}


def layer_of(module: str) -> str:
    """``symgrad.core.graph`` → ``core``; the package, ``__main__``, ``cli`` and the aliases → ``top``."""
    parts = module.split(".")
    if len(parts) > 1 and (parts[1] in SUBPACKAGES or parts[1] in ("errors", "layers", "networks")):
        return parts[1]
    return "top"


def read_package(root: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    """``{module name: (source, is a package)}`` for every ``.py`` file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        out[name] = (path.read_text(encoding="utf-8"), is_package)
    return out


class _Imports(ast.NodeVisitor):
    """Every import of a module: (line, dotted names it asks for, inside a function?, type-checking only?)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[int, list[str], bool, bool]] = []
        self.depth = 0
        self.typing = 0

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        guarded = "TYPE_CHECKING" in ast.unparse(node.test)
        self.typing += guarded
        for child in node.body:
            self.visit(child)
        self.typing -= guarded
        for child in node.orelse:
            self.visit(child)

    def _add(self, node: ast.AST, names: list[str]) -> None:
        self.found.append((node.lineno, names, self.depth > 0, self.typing > 0))

    def visit_Import(self, node: ast.Import) -> None:
        self._add(node, [a.name for a in node.names])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # ``from pkg import mod`` imports the module pkg.mod; ``from pkg import name`` imports pkg
        self._add(node, [f"{module}.{a.name}" for a in node.names] + [module])


def _target(name: str, modules: dict) -> str | None:
    """The package module an imported dotted name lives in (its longest known prefix), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def violations(modules: dict[str, tuple[str, bool]]) -> list[str]:
    """What breaks the layering, one line each (empty when the package is in order)."""
    problems: list[str] = []
    runtime = nx.DiGraph()
    aliases = {m for m in modules if m.count(".") == 1 and m.split(".")[1] not in TOP_LEVEL | SUBPACKAGES | {"cli"}}
    for module, (source, is_package) in modules.items():
        runtime.add_node(module)
        visitor = _Imports(module, is_package)
        visitor.visit(ast.parse(source))
        for line, names, in_function, type_only in visitor.found:
            ours = {_target(n, modules) for n in names if n.split(".")[0] == "symgrad"} - {None, module}
            # ``from pkg import mod`` also names pkg: keep the module when it is one
            ours = {t for t in ours if not any(o != t and o.startswith(t + ".") for o in ours)} or ours
            where = f"{module}:{line}"
            if in_function:
                if ours:
                    problems.append(f"{where}: imports {', '.join(sorted(ours))} inside a function")
                elif not {n.split(".")[0] for n in names} <= OPTIONAL:
                    problems.append(f"{where}: imports {', '.join(names)} inside a function (not an optional extra)")
            for target in ours:
                if module.startswith(target + "."):
                    continue  # a module's own package runs first anyway
                mine, theirs = layer_of(module), layer_of(target)
                if target in aliases:
                    problems.append(f"{where}: imports the one-release alias {target}")
                if RANK[theirs] > RANK[mine]:
                    problems.append(f"{where}: imports {target} of the higher layer {theirs}")
                elif RANK[theirs] == RANK[mine] and theirs != mine:
                    problems.append(f"{where}: imports {target}; {mine} and {theirs} are siblings")
                if not type_only:
                    runtime.add_edge(module, target)
    for cycle in nx.simple_cycles(runtime):
        start = cycle.index(min(cycle))  # each circle told once, from its first module
        cycle = cycle[start:] + cycle[:start]
        problems.append("import circle: " + " → ".join([*cycle, cycle[0]]))
    return problems


def test_the_package_is_layered():
    assert violations(read_package()) == []


def test_the_only_other_top_level_modules_are_thin_aliases():
    for module, (source, _) in read_package().items():
        name = module.partition(".")[2]
        if module.count(".") != 1 or name in TOP_LEVEL | SUBPACKAGES | {"cli"}:
            continue
        tree = ast.parse(source)
        docstring = ast.get_docstring(tree) or ""
        assert docstring.startswith("Moved to ") and "stays for one release" in docstring, module
        body = tree.body[1:]
        assert all(isinstance(s, ast.ImportFrom) and s.level == 1 for s in body[:-1]), module
        assert isinstance(body[-1], ast.Assign) and body[-1].targets[0].id == "__all__", module


@pytest.mark.parametrize("modules, expected", [
    # the core reaching up to printing, even lazily in a function
    ({"symgrad.core.graph": ("def f():\n    from ..printing import latex\n", False),
      "symgrad.printing": ("", True)},
     ["symgrad.core.graph:2: imports symgrad.printing inside a function",
      "symgrad.core.graph:2: imports symgrad.printing of the higher layer printing"]),
    # siblings, by an absolute import
    ({"symgrad.numeric.compile": ("import symgrad.printing.latex\n", False),
      "symgrad.printing.latex": ("", False)},
     ["symgrad.numeric.compile:1: imports symgrad.printing.latex; numeric and printing are siblings"]),
    # a circle inside one layer
    ({"symgrad.core.a": ("from . import b\n", False), "symgrad.core.b": ("from .a import x\n", False)},
     ["import circle: symgrad.core.a → symgrad.core.b → symgrad.core.a"]),
    # a type-only import closes no circle, and a lazy optional extra is fine; a lazy stdlib import is not
    ({"symgrad.core.a": ("from .b import y\n", False),
      "symgrad.core.b": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
                         "def f():\n    import matplotlib\n    import os\n", False)},
     ["symgrad.core.b:6: imports os inside a function (not an optional extra)"]),
    # the library leaning on a one-release alias
    ({"symgrad.derivation.verify": ("from ..compile import compile\n", False), "symgrad.compile": ("", False)},
     ["symgrad.derivation.verify:1: imports the one-release alias symgrad.compile",
      "symgrad.derivation.verify:1: imports symgrad.compile of the higher layer top"]),
])
def test_the_checker_reports_bad_imports(modules, expected):
    assert sorted(violations(modules)) == sorted(expected)
