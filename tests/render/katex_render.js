// Render formulas with KaTeX (the version pinned in package.json), its default limits.
// stdin: a JSON array of {"tex": "...", "display": true|false}; stdout: a JSON array with,
// for each formula, null when it renders or the error message when it does not. A strict-mode
// warning (e.g. a Unicode character in maths that LaTeX would refuse) counts as a failure.
"use strict";
const katex = require("katex");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ tex, display }) => {
    const warnings = [];
    try {
      katex.renderToString(tex, {
        displayMode: display,
        throwOnError: true,
        strict: (code, message) => { warnings.push(`${code}: ${message}`); return "ignore"; },
      });
    } catch (err) {
      return String(err.message || err);
    }
    return warnings.length ? `strict: ${warnings.join("; ")}` : null;
  });
  process.stdout.write(JSON.stringify({ katex: katex.version, results }));
});
