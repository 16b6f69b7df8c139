"""The layer docs cannot drift: docs/layers.md's equations are what symgrad prints (examples/layer_equations.py),
and the tutorial's formulas and `# →` promises are what examples/derive_your_own_layer.py prints."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layers_page_shows_what_symgrad_prints():
    gen = _load("layer_equations")
    page = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert gen.BEGIN in page and gen.END in page
    shown = page.split(gen.BEGIN, 1)[1].split(gen.END, 1)[0].strip()
    assert shown == gen.page().strip(), "run `python examples/layer_equations.py --write`"
    for title, _, _ in gen.LAYERS:  # every layer has its section
        assert f"### {title}" in shown
    assert r"\mathrm{SiLU}'" in shown and r"\mathrm{GELU}'" in shown and r"\delta_{S^{2}}" in shown


def test_the_tutorial_delivers_its_promises():
    tutorial = (ROOT / "docs" / "tutorials" / "derive-your-own-layer.md").read_text(encoding="utf-8")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        out = _load("derive_your_own_layer").main(verbose=True)
    printed = buf.getvalue()
    promises = re.findall(r"# → (.+)$", tutorial, re.M)
    assert len(promises) == 3
    for p in promises:
        assert p.strip() in printed, p
    assert out["ok"] and out["proved"] == out["nodes"] == 13
    assert out["holdout_accuracy"] >= 0.95
    for formula in out["formulas"].values():  # the formulas shown are the ones printed
        assert formula.replace(" = ", " &= ", 1) in tutorial
