"""A deep graph that reuses its nodes (issue 14): `expand` shares the subexpressions, but a printer walks
the formula as a tree — 25 levels of `y = y·y + y` are 25 nodes and 10^8 terms. Printing it expanded
is refused with the expected size, at once, instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from symgrad import Graph
from symgrad.core.backprop import MAX_TERMS, expand, tree_size
from symgrad.errors import GraphError

ROOT = Path(__file__).resolve().parents[1]


def deep(depth: int) -> Graph:
    g = Graph("deep")
    x, w = g.input("x"), g.parameter("w")
    prev = g.add("y1", w * x)
    for k in range(2, depth + 1):
        prev = g.add(f"y{k}", prev * prev + prev)
    g.add("C", prev, role="cost")
    return g


def _count(e: sp.Basic) -> int:  # the tree walked naively, for small cases
    return 1 + sum(_count(a) for a in e.args)


@pytest.mark.parametrize("depth", [1, 2, 3, 6, 9])
def test_tree_size_counts_what_a_naive_walk_visits(depth):
    e = expand(deep(depth), "C")
    assert tree_size(e) == _count(e)


def test_tree_size_of_a_deep_shared_expression_is_fast_and_exact():
    # from 3 levels on (SymPy folds the first square), each level is Add(Pow(y, 2), y): 2 size(y) + 2 terms
    size = tree_size(expand(deep(3), "C"))
    for _ in range(4, 26):
        size = 2 * size + 2
    got = tree_size(expand(deep(25), "C"))  # an int: a failure must not print the 10^8-term formula
    assert got == size == 109_051_902


def test_a_25_deep_expand_is_refused_with_its_size_and_a_small_one_still_prints():
    with pytest.raises(GraphError, match=r"node 'C': its closed form has 109,051,902 terms written out .*more than "
                                         f"{MAX_TERMS:,}"):
        expand(deep(25), "C", max_terms=MAX_TERMS)
    assert expand(deep(3), "C", max_terms=MAX_TERMS) == expand(deep(3), "C")


def test_printing_a_25_deep_graph_expanded_ends_at_once(tmp_path):
    """In a subprocess with a timeout and a memory cap: before the bound, this printed for hours."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_expand_bound import deep\n"
        "from symgrad.printing.latex import equation\n"
        "from symgrad.printing.readable import readable_rhs\n"
        "for show in (equation, readable_rhs):\n"
        "    try:\n"
        "        show(deep(25), 'C', 'expanded')\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__, str(e)[:60])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    assert res.stdout.splitlines() == ["GraphError node 'C': its closed form has 109,051,902 terms written out "] * 2, (
        res.stdout + res.stderr)
