// Bundles each page script in web/frontend/entries/ (bpmn-js, dmn-js, ECharts from node_modules, pinned by
// package-lock.json) into web/static/dist/<name>.js and <name>.css, which Flask serves. Run by `make setup`.
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entriesDir = join(here, "entries");
const outdir = join(here, "..", "static", "dist");
const entryPoints = readdirSync(entriesDir).filter((f) => f.endsWith(".js")).map((f) => join(entriesDir, f));

// No clean step: files are overwritten in place, so a page served while a build runs never sees a missing bundle.
await build({
  entryPoints,
  outdir,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  jsx: "automatic",
  jsxImportSource: "@bpmn-io/properties-panel/preact",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});
console.log(`built ${entryPoints.length} page bundle(s) into web/static/dist`);
