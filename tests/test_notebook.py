"""What a notebook shows: a Network's picture and formulas in one HTML display; rich reports.

Front ends pick the first type of a display's bundle they can show, in their own order of
preference. JupyterLab ranks its renderers (``defaultRank`` in @jupyterlab/rendermime's
factories: text/html 50, text/markdown 60, text/latex 70, image/svg+xml 80, images 90, plain
text 120: lowest wins); nbconvert's HTML export walks ``display_data_priority``. A Network
used to offer LaTeX and SVG, and JupyterLab showed only the formulas.
"""

import re
import xml.etree.ElementTree as ET

import pytest

import symgrad as sg
from symgrad.derivation import verify_bp
from symgrad.derivation.explain import explain

JUPYTERLAB_RANK = {"text/html": 50, "text/markdown": 60, "text/latex": 70, "image/svg+xml": 80, "image/png": 90,
                   "text/plain": 120}
NBCONVERT_HTML_PRIORITY = ["application/vnd.jupyter.widget-view+json", "application/javascript", "text/html",
                           "text/markdown", "image/svg+xml", "text/vnd.mermaid", "text/latex", "image/png",
                           "image/jpeg", "text/plain"]  # nbconvert 7.17, HTMLExporter.default_config


def bundle_of(obj):
    """The mime bundle IPython's formatter builds: ``_repr_mimebundle_``, then the other ``_repr_*_`` methods
    for the types the bundle lacks."""
    bundle = dict(obj._repr_mimebundle_()) if hasattr(obj, "_repr_mimebundle_") else {}
    for mime, method in (("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"),
                         ("text/latex", "_repr_latex_"), ("image/svg+xml", "_repr_svg_")):
        if mime not in bundle and hasattr(obj, method):
            data = getattr(obj, method)()
            if data is not None:
                bundle[mime] = data
    bundle.setdefault("text/plain", repr(obj))
    return bundle


def shown_by_jupyterlab(bundle):
    return min(bundle, key=JUPYTERLAB_RANK.__getitem__)


def shown_by_nbconvert(bundle):
    return next(m for m in NBCONVERT_HTML_PRIORITY if m in bundle)


@pytest.mark.parametrize("level", ["layer", "neuron"])
def test_network_shows_picture_and_formulas_in_one_html_display(level):
    net = sg.mlp([2, 2, 2], level=level)
    net.backprop()
    bundle = bundle_of(net)
    assert set(bundle) == {"text/html", "text/latex", "text/plain"}  # the picture is inside the HTML, once
    assert shown_by_jupyterlab(bundle) == "text/html" and shown_by_nbconvert(bundle) == "text/html"
    assert bundle["text/plain"] == repr(net)
    html = bundle["text/html"]
    picture = re.search(r"<svg.*?</svg>", html, flags=re.S).group(0)
    root = ET.fromstring(picture)  # well-formed
    assert "max-width:100%" in root.get("style")  # scaled to the output's width
    assert "$$\\begin{aligned}" in html and "\\delta^{3}" in html or "\\delta^{3}_{1}" in html  # the formulas
    ET.fromstring(html)  # the whole display is well-formed too
    assert bundle["text/latex"].startswith("$$") and bundle["text/latex"].endswith("$$")


def test_network_formulas_are_escaped_for_html():
    net = sg.mlp([2, 2, 2], level="layer")
    net.backprop()
    html = net._repr_html_()
    formulas = re.search(r'<div class="symgrad-formulas">(.*?)</div>', html, flags=re.S).group(1)
    assert "&amp;=" in formulas and "&=" not in formulas.replace("&amp;=", "")  # MathJax reads the text


def test_graph_and_node_displays():
    net = sg.mlp([2, 2, 2], level="layer")
    net.backprop()
    g_bundle = bundle_of(net.graph)
    assert shown_by_jupyterlab(g_bundle) == "image/svg+xml" == shown_by_nbconvert(g_bundle)
    assert ET.fromstring(g_bundle["image/svg+xml"].encode()).get("viewBox")
    n_bundle = bundle_of(net.graph.node("dC/dz2"))
    assert shown_by_jupyterlab(n_bundle) == "text/latex"


def test_verify_report_has_the_same_rich_display_as_explain():
    report = verify_bp([2, 2, 2], "sigmoid", "quadratic", points=1)
    bundle = bundle_of(report)
    assert {"text/html", "text/markdown"} <= set(bundle)
    assert shown_by_jupyterlab(bundle) == "text/html"
    html = bundle["text/html"]
    assert html.startswith("<style>") and html.count("<table>") == 4 and html.count("<math") > 8
    assert "**" not in html and "`" not in html  # the Markdown's emphasis and code are HTML here
    assert "<strong>All hold</strong>" in html and "<code>dC/dz3</code>" in html
    for m in re.findall(r"<math.*?</math>", html, flags=re.S):
        ET.fromstring(m)
    step = explain(figure=False)
    assert shown_by_jupyterlab(bundle_of(step)) == "text/html"
    assert html[:200] == step._repr_html_()[:200]  # the same style sheet
