"""Every formula symgrad prints renders: in KaTeX (default limits), in LaTeX, and through the MathML
converter of the HTML reports.

The strings are those of the test matrix (`collect.py`); each renderer also gets canaries
that must fail, so a broken harness cannot pass. Outside CI a missing renderer skips its test
(with the reason); in CI (``CI=1`` or ``SYMGRAD_RENDER=required``) it fails. A summary line
per renderer says how many strings it rendered and how many failed.
"""

from __future__ import annotations

import re

import pytest
from collect import Item, collect
from renderers import (
    katex_errors,
    katex_missing,
    mathml_errors,
    pdflatex_errors,
    pdflatex_missing,
    required,
)

#: Strings every renderer must refuse: the double superscript explain once wrote, and a brace left open.
CANARIES = [
    Item("canary: double superscript", r"w^{2}_{11}^{+} = w^{2}_{11} - \eta \frac{\partial C}{\partial w^{2}_{11}}",
         "display", True),
    Item("canary: unclosed brace", r"\frac{\partial C}{\partial b^{3}", "inline", True),
]


@pytest.fixture(scope="module")
def matrix():
    items, texts = collect()
    assert len(items) > 2000  # the whole matrix, not a sample
    return items, texts


def _available(missing: str | None) -> None:
    if missing is None:
        return
    if required():
        pytest.fail(f"renderer missing in CI: {missing}")
    pytest.skip(missing)


def _report(name: str, items, errors, extra: str = "") -> str:
    lines = [f"{name}{extra}: {len(items)} strings rendered, {len(errors)} failed"]
    for i, err in list(errors.items())[:15]:
        lines.append(f"  [{items[i].source}] {err[:300]}\n      {items[i].tex[:160]!r}")
    return "\n".join(lines)


def _check(name: str, items, errors, extra: str = "") -> None:
    print("\n" + _report(name, items, errors, extra))
    assert not errors, _report(name, items, errors, extra)


def test_canaries_fail_in_every_renderer():
    if katex_missing() is None:
        errors, _ = katex_errors(CANARIES)
        assert set(errors) == {0, 1}, errors
        assert "Double superscript" in errors[0]
    elif required():
        pytest.fail(katex_missing())
    if pdflatex_missing() is None:
        errors = pdflatex_errors(CANARIES)
        assert set(errors) == {0, 1}, errors
        assert "Double superscript" in errors[0]
    elif required():
        pytest.fail(pdflatex_missing())
    errors = mathml_errors(CANARIES)
    assert set(errors) == {0, 1}, errors
    assert "double superscript" in errors[0]


def test_pdflatex_locates_each_failure():
    # failures among good formulas are traced to their own formulas, and the good ones still pass
    _available(pdflatex_missing())
    good = Item("good", r"\delta^{3} = \nabla_{a^{3}} C \odot \sigma'\left(z^{3}\right)", "display")
    batch = [good, CANARIES[0], good, CANARIES[1], good, Item("good", r"x^{2}", "inline")]
    assert set(pdflatex_errors(batch)) == {1, 3}


def test_katex_renders_everything(matrix):
    _available(katex_missing())
    items, _ = matrix
    errors, version = katex_errors(items)
    _check("KaTeX", items, errors, f" {version}")


def test_pdflatex_renders_everything(matrix):
    _available(pdflatex_missing())
    items, _ = matrix
    _check("pdflatex", items, pdflatex_errors(items))


def test_the_html_reports_maths_converts_to_mathml(matrix):
    items, _ = matrix
    reports = [it for it in matrix[0] if it.mathml]
    assert len(reports) > 500
    _check("MathML (strict)", reports, mathml_errors(reports))


def test_terminal_text_has_no_tex(matrix):
    # derive's text output: no LaTeX commands or braces, the all-ones in bold, neurons in order
    _, texts = matrix
    bad = {}
    for source, text in texts:
        body = "\n".join(text.splitlines()[1:])
        if re.search(r"[\\{}]|11ᵀ", body):
            bad[source] = next(ln for ln in body.splitlines() if re.search(r"[\\{}]|11ᵀ", ln))
    print(f"\ntext: {len(texts)} derive outputs checked, {len(bad)} with TeX left in")
    assert not bad, list(bad.items())[:5]
