// Render the site's maths with the KaTeX shipped in docs/assets/katex (no network).
// pymdownx.arithmatex (generic mode) leaves each formula as \( … \) in <span class="arithmatex">
// and \[ … \] in <div class="arithmatex">; KaTeX replaces the element's text with the formula.
(function () {
  function render(root) {
    root.querySelectorAll(".arithmatex").forEach(function (el) {
      var text = el.textContent.trim();
      var display = el.tagName === "DIV" || text.startsWith("\\[");
      var tex = text.replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
      katex.render(tex, el, { displayMode: display, throwOnError: false });
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function () { render(document.body); });  // Material's page-load signal
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document.body); });
  }
})();
