import { defaultClientConditions, defineConfig } from "vite";
import { mnistAssets } from "./mnist-assets.js";

// SharedArrayBuffer, and so the kernels' Web Workers, need a cross-origin-isolated page.
const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
// Pico's error messages name the modules by their classes (`BatchNorm2d "bn1" in training mode ...`): the
// minified bundles keep the names.
const keepNames = { output: { keepNames: true } };

export default defineConfig({
  root: import.meta.dirname,
  plugins: [mnistAssets()],
  // The workspace packages are bundled from their TypeScript sources: no build of them needed first.
  resolve: { conditions: ["source", ...defaultClientConditions] },
  server: { host: "127.0.0.1", port: 5173, headers: isolation },
  preview: { host: "127.0.0.1", port: 4173, headers: isolation },
  worker: { format: "es", rolldownOptions: keepNames },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, rolldownOptions: keepNames },
});
