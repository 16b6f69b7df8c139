"""The renderers: KaTeX (node, the pinned npm package, default limits), pdflatex, symgrad's MathML.

Each takes a list of items (``.tex``, ``.mode``: display, inline or document) and returns
``{index: error message}`` for the ones that fail. Both external renderers are run in batches —
one node process for every formula, one LaTeX document for many — and a failure is traced to
its formula.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
KATEX_SCRIPT = HERE / "katex_render.js"
KATEX_PACKAGE = HERE / "node_modules" / "katex" / "package.json"


def required() -> bool:
    """In CI (``CI=1``, or ``SYMGRAD_RENDER=required`` as ``.ci/run`` sets) a missing renderer is a failure."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("SYMGRAD_RENDER") == "required"


def katex_missing() -> str | None:
    """Why KaTeX cannot run here (``None`` when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (Debian: apt-get install nodejs npm)"
    if not KATEX_PACKAGE.is_file():
        return f"KaTeX is not installed in {HERE} (run: npm ci --prefix tests/render)"
    return None


def pdflatex_missing() -> str | None:
    if shutil.which("pdflatex") is None:
        return "pdflatex is not installed (Debian: apt-get install texlive-latex-base texlive-latex-recommended)"
    return None


# ---------------------------------------------------------------------------------------- KaTeX
def katex_maths(item) -> list[tuple[str, bool]]:
    """What KaTeX is given for an item: the formula, or a LaTeX document's ``$…$`` pieces."""
    if item.mode == "document":
        return [(m, False) for m in re.findall(r"(?<!\\)\$([^$]+)\$", item.tex)]
    return [(item.tex, item.mode == "display")]


def katex_errors(items: Sequence) -> tuple[dict[int, str], str]:
    """``({index: KaTeX's error}, KaTeX's version)``: all formulas through one node process."""
    jobs, owner = [], []
    for i, it in enumerate(items):
        for tex, display in katex_maths(it):
            jobs.append({"tex": tex, "display": display})
            owner.append(i)
    proc = subprocess.run(["node", str(KATEX_SCRIPT)], input=json.dumps(jobs), capture_output=True, text=True,
                          cwd=HERE, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the KaTeX harness failed: {proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout)
    errors: dict[int, str] = {}
    for i, err in zip(owner, out["results"], strict=True):
        if err is not None:
            errors.setdefault(i, err)
    return errors, out["katex"]


# ------------------------------------------------------------------------------------- pdflatex
PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb}
\setlength{\emergencystretch}{1em}
\begin{document}
"""
MARK = "@@SYMGRAD-FORMULA"


def _body(item) -> str:
    if item.mode == "document":
        return item.tex
    if item.mode == "display":
        return "\\[\n" + item.tex + "\n\\]"
    return f"${item.tex}$"


def _latex_run(items: Sequence, indices: list[int], work: Path) -> tuple[dict[int, str], set[int]]:
    """One document for ``indices``: ``({index: first error}, indices reached)``."""
    parts = [PREAMBLE]
    for i in indices:
        # \par and a fresh group around each: a formula's mistake stays in its own group as far as TeX lets it
        parts.append(f"\\typeout{{{MARK} {i}}}\n\\begingroup\n{_body(items[i])}\n\\par\\endgroup\n")
    parts.append(f"\\typeout{{{MARK} end}}\n\\end{{document}}\n")
    tex = work / "formulas.tex"
    tex.write_text("".join(parts), encoding="utf-8")
    env = {**os.environ, "max_print_line": "100000", "error_line": "254", "half_error_line": "238"}
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-draftmode", "-no-shell-escape", tex.name],
                   cwd=work, capture_output=True, timeout=900, env=env)
    log = (work / "formulas.log").read_text(encoding="utf-8", errors="replace").splitlines()
    errors: dict[int, str] = {}
    reached: set[int] = set()
    current: int | None = None
    for n, line in enumerate(log):
        if line.startswith(MARK):
            tag = line.split()[1]
            current = None if tag == "end" else int(tag)
            if current is not None:
                reached.add(current)
        elif line.startswith("! ") and current is not None and current not in errors:
            context = next((x.strip() for x in log[n + 1:n + 4] if x.startswith("l.")), "")
            errors[current] = f"{line[2:].strip()} {context}".strip()
    if not any(line.startswith(f"{MARK} end") for line in log):
        # TeX stopped (a fatal error): the formula it was in failed; the rest go again
        last = max(reached, key=indices.index) if reached else indices[0]
        errors.setdefault(last, next((x[2:] for x in reversed(log) if x.startswith("! ")), "TeX stopped"))
    return errors, reached


def pdflatex_errors(items: Sequence) -> dict[int, str]:
    """``{index: LaTeX's first error}``; many formulas per document, each failure confirmed alone.

    After a failure, TeX's state may be off for what follows (an unclosed group, an eaten
    argument), so every formula after the first failure of a run goes again in the next run,
    until a run has no new failure.
    """
    errors: dict[int, str] = {}
    pending = list(range(len(items)))
    with tempfile.TemporaryDirectory(prefix="symgrad-render-") as tmp:
        work = Path(tmp)
        while pending:
            found, reached = _latex_run(items, pending, work)
            if not found:
                missed = [i for i in pending if i not in reached]
                if missed:
                    raise RuntimeError(f"pdflatex did not reach formulas {missed[:5]} and reported no error")
                break
            first = min(pending.index(i) for i in found)
            for i in found:
                alone, _ = _latex_run(items, [i], work)
                if i in alone:
                    errors[i] = alone[i]
            pending = [i for i in pending[first:] if i not in found]
    return errors


# ---------------------------------------------------------------------------------------- MathML
def mathml_errors(items: Sequence) -> dict[int, str]:
    """symgrad's own LaTeX → MathML converter, strict (as an HTML report uses it), and well-formed XML."""
    from symgrad.printing.mathml import tex_to_mathml

    errors = {}
    for i, it in enumerate(items):
        try:
            ET.fromstring(tex_to_mathml(it.tex, display=it.mode == "display", strict=True))
        except (ValueError, ET.ParseError) as e:
            errors[i] = f"{type(e).__name__}: {e}"
    return errors
