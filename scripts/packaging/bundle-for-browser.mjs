// Bundles an ES module and everything it imports into one browser script (an IIFE), the way a web
// app's build would, with the Vite that vitest already brings (no extra dependency).
// Usage: node scripts/packaging/bundle-for-browser.mjs <entry.js> <out-dir>   -> <out-dir>/bundle.js
// A Node built-in reached from the entry does not fail the build (Vite swaps in a stub that throws
// when used), so the bundle must also be run somewhere without Node, as the packaging test does.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [entry, outDir] = process.argv.slice(2);
if (entry === undefined || outDir === undefined) {
  console.error("usage: node bundle-for-browser.mjs <entry.js> <out-dir>");
  process.exit(2);
}

const fromVitest = createRequire(createRequire(import.meta.url).resolve("vitest/package.json"));
const viteDir = dirname(fromVitest.resolve("vite/package.json"));
const viteExport = JSON.parse(readFileSync(join(viteDir, "package.json"), "utf8")).exports["."];
const viteEntry = typeof viteExport === "string" ? viteExport : (viteExport.import?.default ?? viteExport.import ?? viteExport.default);
const { build } = await import(pathToFileURL(join(viteDir, viteEntry)).href);

await build({
  configFile: false,
  logLevel: "warn",
  root: dirname(resolve(entry)),
  build: {
    outDir: resolve(outDir),
    emptyOutDir: true,
    minify: false,
    target: "es2022",
    lib: { entry: resolve(entry), formats: ["iife"], name: "consumer", fileName: () => "bundle.js" },
  },
});
