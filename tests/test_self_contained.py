"""The repository stands alone: no file reads, or tells anyone to read, a folder beside the clone."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", "site", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".ci-site"}
TEXT = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ini", ""}
#: ``../shared``, ``..\\shared`` or a path built as ``parent / "shared"``: the sibling folder a user's clone lacks.
SIBLING = re.compile(r"\.\.[/\\]shared\b|/\s*[\"']shared[\"']")


def repository_files() -> list[Path]:
    """The project's text files (not this one, which spells the pattern out), virtual envs and builds pruned."""
    out = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.startswith(".venv") and not d.endswith(".egg-info")]
        out += [Path(folder) / n for n in names if Path(n).suffix in TEXT]
    return [p for p in out if p != Path(__file__).resolve()]


def test_nothing_points_outside_the_repository():
    files = repository_files()
    assert len(files) > 50  # the walk found the project
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in files
                 for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
                 if SIBLING.search(line)]
    assert offenders == []


def test_the_pattern_catches_the_old_spellings():
    assert SIBLING.search('MNIST = ROOT.parent / "shared" / "data" / "mnist"')
    assert SIBLING.search("the MNIST files in ../shared/data/mnist")
    assert not SIBLING.search("shared nodes are computed once")
