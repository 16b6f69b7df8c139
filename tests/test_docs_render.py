"""The docs site as a reader sees it: built strictly, opened in headless Chromium, no raw TeX on the page.

The site is built into a scratch folder, each tutorial page and the index and verification pages are
opened in headless Chromium (in frames of one page, one browser start) after KaTeX ran, and the visible text
of the rendered DOM (not code blocks, not KaTeX's hidden MathML copy of the source) must hold no TeX:
no `\\frac`-style command, no `^` or `_{`, no `$`, no `\\(` delimiter. A screenshot of the pages, one
under the other, is saved (in `$SYMGRAD_SCREENSHOTS` if set, else the test's scratch folder) for a
person to look at.

Chromium is a Debian package (`apt-get install chromium`); `.ci/run` installs it, so in CI (`CI` set)
a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from extras_hidden import needs

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["index.html", "verification/index.html", "layers/index.html"] + [
    f"tutorials/{p.stem}/index.html" for p in sorted((ROOT / "docs" / "tutorials").glob("*.md"))]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--virtual-time-budget=5000"]
RAW_TEX = re.compile(r"\\[a-zA-Z]+|_\{|\^|\$|\\[()\[\]]")  # a command, a script, a delimiter
SKIPPED = {"script", "style", "pre", "code", "svg", "noscript", "template", "head", "annotation"}  # MathML source, hidden
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class VisibleText(HTMLParser):
    """The text a reader sees outside code, scripts and typeset formulas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.text: list[str] = []
        self.formulas = self.rendered = self.errors = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        self.formulas += "arithmatex" in classes  # each formula of the Markdown source
        self.rendered += "katex" in classes  # KaTeX's output inside it
        self.errors += "katex-error" in classes
        if tag in VOID:
            return
        # KaTeX's output is typeset maths (its \hat is a "^" glyph; its hidden MathML holds the source):
        # raw TeX is what is left outside it.
        hidden = tag in SKIPPED or "katex" in classes or (self.stack and self.stack[-1])
        self.stack.append(bool(hidden))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.text.append(data)


def raw_tex(dom: str) -> tuple[list[str], VisibleText]:
    """The spots of raw TeX in the visible text of a rendered page (with a little context each)."""
    seen = VisibleText()
    seen.feed(dom)
    text = " ".join(" ".join(seen.text).split())
    return [text[max(0, m.start() - 30):m.end() + 30] for m in RAW_TEX.finditer(text)], seen


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SYMGRAD_DOCS_EXAMPLES": "0"}  # cli.md is not looked at here
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert build.returncode == 0, build.stderr
    return out


#: A page that opens the pages in frames and, once each has loaded (and KaTeX ran), keeps its DOM as text:
#: one Chromium start for every page, where a start costs seconds.
HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<script>
for (const p of PAGES) {
  const f = document.createElement("iframe");
  f.style = "width:1280px;height:1600px;border:0;display:block";
  f.src = p;
  f.onload = () => {
    const t = document.createElement("textarea");
    t.dataset.page = p;
    t.style = "display:none";
    t.textContent = f.contentDocument.documentElement.outerHTML;
    document.body.appendChild(t);
  };
  document.body.appendChild(f);
}
</script></body></html>
"""
KEPT = re.compile(r'<textarea data-page="([^"]*)"[^>]*>(.*?)</textarea>', re.S)


def open_pages(site: Path, pages: list[str], shots: Path, name: str = "pages") -> dict[str, str]:
    """Each page's DOM after its scripts ran, and a screenshot of them all, one under the other."""
    shots.mkdir(parents=True, exist_ok=True)
    harness = site / f"render-check-{name}.html"
    harness.write_text(HARNESS.replace("PAGES", json.dumps(pages)), encoding="utf-8")
    run = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--allow-file-access-from-files", f"--window-size=1280,{1600 * len(pages)}",
         f"--user-data-dir={shots / ('profile-' + name)}", f"--screenshot={shots / (name + '.png')}",
         "--dump-dom", harness.as_uri()],
        capture_output=True, text=True, timeout=180)
    doms = {page: html.unescape(dom) for page, dom in KEPT.findall(run.stdout)}
    assert set(doms) == set(pages), f"chromium opened {sorted(doms)} of {pages}: {run.stderr[-500:]}"
    assert (shots / (name + ".png")).stat().st_size > 10_000 * len(pages)
    return doms


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("SYMGRAD_SCREENSHOTS")
    folder = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _require_chromium() -> None:
    if chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium (.ci/run installs it with apt-get)")
        pytest.skip("needs headless Chromium: apt-get install chromium")


@needs("mkdocs")
def test_pages_show_no_raw_tex(site, shots):
    _require_chromium()
    doms = open_pages(site, PAGES, shots)
    problems = []
    for page, dom in doms.items():
        spots, seen = raw_tex(dom)
        problems += [f"{page}: raw TeX …{s}…" for s in spots]
        if seen.errors:
            problems.append(f"{page}: {seen.errors} formulas KaTeX could not render")
        if seen.rendered < seen.formulas:
            problems.append(f"{page}: {seen.formulas} formulas, {seen.rendered} rendered")
    counted = {page: raw_tex(dom)[1].rendered for page, dom in doms.items()}
    assert all(counted[f"tutorials/{t}/index.html"] > 5 for t in ("bp-equations", "worked-example-222")), counted
    assert counted["verification/index.html"] > 10, counted
    print(f"screenshots in {shots}")
    assert not problems, "\n".join(problems)


@needs("mkdocs")
def test_the_check_sees_raw_tex_when_katex_does_not_run(site, shots):
    """The canary: the verification page without the script that calls KaTeX shows its TeX, and is caught."""
    _require_chromium()
    page = site / "verification" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "assets/math.js" in html
    (page.parent / "no-katex.html").write_text(re.sub(r'<script src="[^"]*assets/math\.js"></script>', "", html),
                                               encoding="utf-8")
    dom = open_pages(site, ["verification/no-katex.html"], shots, "no-katex")["verification/no-katex.html"]
    spots, seen = raw_tex(dom)
    assert seen.formulas > 10 and seen.rendered == 0 and len(spots) > 10, spots
    assert any("\\frac" in s for s in spots)
