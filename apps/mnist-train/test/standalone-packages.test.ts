// "Install one package on its own": each library is packed with `pnpm pack` (as `pnpm publish` would),
// installed offline from the local pnpm store into fresh projects outside the workspace, and used by
// programs (scripts/packaging/consumer/) compiled by strict TypeScript against the packed declarations,
// run by Node, and (for the portable libraries) bundled for a browser and run where only console and
// WebAssembly exist. scripts/packaging/README.md explains each step.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importGraph, isBuiltin, nodeGlobalsIn, packageOf } from "./standalone/import-graph.js";
import { consumerProject, readLockfile, type Tarball } from "./standalone/lockfile.js";
import { describeRun, lastJson, notRun, run, type Run } from "./standalone/run.js";
import { exportTargets, inPackage, untar, type Manifest } from "./standalone/tarball.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CONSUMER_SOURCES = join(ROOT, "scripts", "packaging", "consumer");
const BUNDLER = join(ROOT, "scripts", "packaging", "bundle-for-browser.mjs");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const LIBRARIES = ["core", "nn", "optim", "data"] as const;
type Library = (typeof LIBRARIES)[number];
/** Libraries that must also run in a browser: no Node built-in may be reachable from their entry. */
const PORTABLE: readonly Library[] = ["core", "nn", "optim"];

interface Consumer {
  name: string;
  /** Direct dependencies: @pico/* tarballs, or third-party packages at the workspace root's version. */
  dependencies: string[];
  /** Node's types, or (for the portable libraries) neither Node nor DOM types: only console.d.ts. */
  node: boolean;
}
const CONSUMERS: readonly Consumer[] = [
  { name: "core", dependencies: ["@pico/core"], node: false },
  { name: "optim", dependencies: ["@pico/core", "@pico/optim"], node: false },
  { name: "nn", dependencies: ["@pico/core", "@pico/nn", "@pico/optim"], node: false },
  { name: "data", dependencies: ["@pico/core", "@pico/data", "@types/node"], node: true },
];
const TSCONFIG = {
  target: "ES2022",
  lib: ["ES2022"],
  module: "NodeNext",
  moduleResolution: "NodeNext",
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  skipDefaultLibCheck: true,
  rootDir: "src",
  outDir: "dist",
};

interface Packed {
  library: Library;
  tarball: string;
  file: string;
  manifest: Manifest;
  /** Path inside the package (no leading `package/`) -> contents. */
  files: Map<string, Buffer>;
}
interface ConsumerResult {
  install: Run;
  tsc: Run;
  run: Run;
  output: Record<string, unknown>;
  /** Portable consumers only: the program bundled for a browser, run where only console and WebAssembly exist. */
  browser?: { bundle: Run; output: Record<string, unknown>; error: string };
}

/** Runs a browser bundle in a fresh V8 context that has no Node globals (process, Buffer, require, ...). */
function runBare(code: string): { printed: string; error: string } {
  const printed: string[] = [];
  const context = createContext({ console: { log: (...data: unknown[]) => printed.push(data.join(" ")) }, WebAssembly: Reflect.get(globalThis, "WebAssembly") });
  try {
    runInContext(code, context, { filename: "bundle.js" });
    return { printed: printed.join("\n"), error: "" };
  } catch (e) {
    return { printed: printed.join("\n"), error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

// --- the run: pack, install, compile, execute

const work = mkdtempSync(join(tmpdir(), "pico-standalone-"));
const packed = new Map<string, Packed>();
const results = new Map<string, ConsumerResult>();
// A throwing beforeAll would mark every test skipped, which a run's summary can miss; each test fails instead.
let setupError: unknown = null;

async function setUp(): Promise<void> {
  for (const library of LIBRARIES) {
    const entry = join(ROOT, "packages", library, "dist", "index.js");
    if (!existsSync(entry)) throw new Error(`${entry} is missing: build the libraries first (pnpm build, or pnpm test which builds)`);
  }
  const destination = join(work, "tarballs");
  mkdirSync(destination);
  const packs = await Promise.all(LIBRARIES.map((library) => run("pnpm", ["pack", "--json", "--pack-destination", destination], join(ROOT, "packages", library))));
  LIBRARIES.forEach((library, i) => {
    const result = packs[i]!;
    if (result.code !== 0) throw new Error(describeRun(`pnpm pack in packages/${library}`, result));
    const { filename } = JSON.parse(result.stdout) as { filename: string };
    const files = untar(readFileSync(filename));
    const manifest = JSON.parse(files.get("package.json")!.toString("utf8")) as Manifest;
    packed.set(manifest.name, { library, tarball: filename, file: posix.basename(filename), manifest, files });
  });

  const store = await run("pnpm", ["store", "path"], ROOT);
  if (store.code !== 0) throw new Error(describeRun("pnpm store path", store));
  const workspace = readLockfile(readFileSync(join(ROOT, "pnpm-lock.yaml"), "utf8"));
  const tarballs = new Map<string, Tarball>(
    [...packed.values()].map((p) => [p.manifest.name, { importer: `packages/${p.library}`, path: p.tarball, version: p.manifest.version, dependencies: p.manifest.dependencies ?? {} }]),
  );
  const spec = (name: string): string => `file:../tarballs/${packed.get(name)!.file}`;

  const pnpmOptions = ["--frozen-lockfile", "--offline", "--store-dir", store.stdout.trim(), "--cache-dir", join(work, "empty-cache"), "--ignore-scripts", "--reporter", "append-only"];
  await Promise.all(
    CONSUMERS.map(async (consumer) => {
      const dir = join(work, consumer.name);
      mkdirSync(join(dir, "src"), { recursive: true });
      const project = consumerProject(workspace, consumer.dependencies, tarballs, spec);
      const manifest = { name: `consumer-${consumer.name}`, private: true, type: "module", dependencies: project.dependencies, pnpm: { overrides: project.overrides } };
      writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
      writeFileSync(join(dir, "pnpm-lock.yaml"), project.lockfile);
      const compilerOptions = { ...TSCONFIG, types: consumer.node ? ["node"] : [] };
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }, null, 2));
      copyFileSync(join(CONSUMER_SOURCES, `${consumer.name}.ts`), join(dir, "src", "main.ts"));
      if (!consumer.node) copyFileSync(join(CONSUMER_SOURCES, "console.d.ts"), join(dir, "src", "console.d.ts"));

      const install = await run("pnpm", ["install", ...pnpmOptions], dir);
      const tsc = install.code === 0 ? await run(process.execPath, [TSC, "-p", dir], dir) : notRun("install failed");
      const main = join(dir, "dist", "main.js");
      const executed = existsSync(main) ? await run(process.execPath, [main], dir) : notRun("nothing compiled");
      const result: ConsumerResult = { install, tsc, run: executed, output: lastJson(executed.stdout) };
      if (!consumer.node && existsSync(main)) {
        const bundle = await run(process.execPath, [BUNDLER, main, join(dir, "browser")], dir);
        const bare = bundle.code === 0 ? runBare(readFileSync(join(dir, "browser", "bundle.js"), "utf8")) : { printed: "", error: "not run: bundling failed" };
        result.browser = { bundle, output: lastJson(bare.printed), error: bare.error };
      }
      results.set(consumer.name, result);
    }),
  );
}

beforeAll(async () => {
  try {
    await setUp();
  } catch (error) {
    setupError = error;
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function ready(): void {
  if (setupError !== null) throw setupError;
}

function packOf(library: Library): Packed {
  ready();
  return [...packed.values()].find((p) => p.library === library)!;
}

function consumerResult(name: string): ConsumerResult {
  ready();
  const result = results.get(name)!;
  expect(result.install.code, describeRun("pnpm install --offline", result.install)).toBe(0);
  expect(result.tsc.code, describeRun("tsc (strict consumer, skipLibCheck false)", result.tsc)).toBe(0);
  expect(result.run.code, describeRun("node dist/main.js", result.run)).toBe(0);
  return result;
}

describe("packed tarballs", () => {
  it.each(LIBRARIES)("@pico/%s: dependencies have real versions, exports and types exist, only dist, src and README ship, no stale builds", (library) => {
    const pack = packOf(library);
    const { manifest, files } = pack;
    for (const field of ["dependencies", "devDependencies", "peerDependencies"] as const) {
      for (const [name, range] of Object.entries(manifest[field] ?? {})) {
        expect(range, `${field}.${name}`).not.toMatch(/^(workspace|link|file):/);
        if (packed.has(name)) expect(range, `${field}.${name}`).toBe(packed.get(name)!.manifest.version);
      }
    }
    expect(manifest.types).toBeDefined();
    expect(files.has(inPackage(manifest.types!)), `types: ${manifest.types}`).toBe(true);
    const workspaceExports = (JSON.parse(readFileSync(join(ROOT, "packages", library, "package.json"), "utf8")) as Manifest).exports ?? {};
    const withoutSource = Object.fromEntries(
      Object.entries(workspaceExports).map(([subpath, target]) => [subpath, typeof target === "string" ? target : Object.fromEntries(Object.entries(target).filter(([condition]) => condition !== "source"))]),
    );
    expect(manifest.exports, "publishConfig.exports must list every subpath of exports (minus the workspace-only source condition)").toEqual(withoutSource);
    const targets = exportTargets(manifest);
    expect(targets.length).toBeGreaterThan(0);
    for (const [where, path] of targets) expect(files.has(inPackage(path)), `exports ${where}: ${path}`).toBe(true);
    expect(files.has("README.md")).toBe(true);
    const unexpected = [...files.keys()].filter((path) => !/^(package\.json|README\.md|LICENSE)$/.test(path) && !/^(dist|src)\//.test(path));
    expect(unexpected).toEqual([]);
    expect([...files.keys()].filter((path) => /\.test\.(ts|js|d\.ts)$|test-utils\//.test(path))).toEqual([]);
    const missingSources = [...files.keys()]
      .filter((path) => path.endsWith(".js.map"))
      .flatMap((map) => (JSON.parse(files.get(map)!.toString("utf8")) as { sources: string[] }).sources.map((source) => posix.join(posix.dirname(map), source)))
      .filter((source) => !files.has(source));
    expect(missingSources, "source maps point at files the package does not ship").toEqual([]);
    const stale = [...files.keys()].filter((path) => /^dist\/.*\.js$/.test(path) && !files.has(path.replace(/^dist\//, "src/").replace(/\.js$/, ".ts")));
    expect(stale, "built files without a source (left in dist/ by an old build: rebuild from a clean dist/)").toEqual([]);
  });

  it.each(LIBRARIES)("@pico/%s: every package the import graphs of its exports need at run time is a declared dependency", (library) => {
    const pack = packOf(library);
    const entries = exportTargets(pack.manifest).filter(([, path]) => path.endsWith(".js")).map(([, path]) => inPackage(path));
    expect(entries).toContain("dist/index.js");
    const external = new Set(entries.flatMap((entry) => [...importGraph(pack.files, entry).external.keys()]));
    const declared = new Set([...Object.keys(pack.manifest.dependencies ?? {}), ...Object.keys(pack.manifest.peerDependencies ?? {})]);
    const undeclared = [...external].filter((s) => !isBuiltin(s) && !declared.has(packageOf(s)));
    expect(undeclared).toEqual([]);
    const intoSources = [...external].filter((s) => /^@pico\/[^/]+\/.+/.test(s));
    expect(intoSources, "imports another package's internals instead of its entry").toEqual([]);
  });

  it.each(PORTABLE)("@pico/%s: no Node built-in and no Node global is reachable from its entry (it must run in a browser)", (library) => {
    const pack = packOf(library);
    const { modules, external } = importGraph(pack.files, "dist/index.js");
    expect([...external.entries()].filter(([s]) => isBuiltin(s)).map(([s, from]) => `${s} <- ${from.join(", ")}`)).toEqual([]);
    const globals = [...modules].flatMap((path) => nodeGlobalsIn(pack.files.get(path)!.toString("utf8")).map((name) => `${name} in ${path}`));
    expect(globals).toEqual([]);
  });
});

describe("fresh projects that install the tarballs offline and use them through Node and strict TypeScript", () => {
  it.each(CONSUMERS.filter((c) => !c.node).map((c) => c.name))(
    "%s consumer bundled for a browser runs where only console and WebAssembly exist, and prints what it printed under Node",
    (name) => {
      const { output, browser } = consumerResult(name);
      expect(browser!.bundle.code, describeRun("bundle-for-browser.mjs", browser!.bundle)).toBe(0);
      expect(browser!.error).toBe("");
      expect(browser!.output).toEqual(output);
    },
  );

  it("@pico/core alone: autograd gives the seeds' gradients, gradcheck passes on a graph and on a custom Function", () => {
    const out = consumerResult("core").output;
    expect(out).toMatchObject({ aGrad: 6, bGrad: 4, AGrad: 2, BGrad: -10, graphChecked: true, customChecked: true, recordedUnderNoGrad: 0, funcsLeft: 0 });
    expect(out["customForward"]).toEqual([0.5, 2, 4.5]);
    expect(out["customGrad"]).toEqual([1, -2, 3]);
    expect(out["shapeError"]).toMatch(/\[3\].*\[2\]/);
  });

  it("@pico/optim with core only: one SGD step matches the hand value and Adam with StepLR finds a quadratic's minimum", () => {
    const out = consumerResult("optim").output as { afterSgd: number[]; firstLoss: number; lastLoss: number; x: number[]; lr: number; stateKeys: string[] };
    expect(out.afterSgd[0]).toBeCloseTo(3 - 0.1 * 6, 6);
    expect(out.firstLoss).toBeCloseTo(16 + 25 + 20.25, 4);
    expect(out.lastLoss).toBeLessThan(1e-4);
    out.x.forEach((value, i) => expect(value).toBeCloseTo([1, -2, 0.5][i]!, 2));
    expect(out.lr).toBeCloseTo(0.3 * 0.3 ** 3, 10);
    expect(out.stateKeys.sort()).toEqual(["paramGroups", "state"]);
  });

  it("@pico/nn with optim: a small Conv2d network's loss falls under Adam, and layer errors name the layer", () => {
    const out = consumerResult("nn").output as { firstLoss: number; lastLoss: number; predictions: number[]; stateKeys: string[]; parameters: number; layerError: string };
    expect(out.firstLoss).toBeGreaterThan(0.5);
    expect(out.lastLoss).toBeLessThan(out.firstLoss / 4);
    expect(out.predictions).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(out.stateKeys).toEqual(["0.weight", "0.bias", "4.weight", "4.bias"]);
    expect(out.parameters).toBe(4 * 9 + 4 + 64 * 3 + 3);
    expect(out.layerError).toMatch(/Conv2d/);
  });

  it("@pico/data with core: IDX (plain and gzip), safetensors, DataLoader, PNG through sharp and the installed MNIST files", () => {
    const out = consumerResult("data").output as Record<string, Record<string, unknown> & unknown[]>;
    const bytes = Array.from({ length: 12 }, (_, i) => i * 20);
    expect(out["idx"]).toEqual({ dtype: "ubyte", shape: [2, 2, 3], data: bytes });
    expect(out["idxGz"]).toEqual({ shape: [2, 2, 3], data: bytes });
    expect(out["safetensors"]).toEqual({ names: ["bias", "conv.weight"], shape: [2, 1, 3, 3], biasDtype: "float64", bias: [0.5, -1.25], metadata: { epoch: "4" }, sameWeights: true });
    expect(out["batchShapes"]).toEqual([
      [[4, 1, 4, 4], [4]],
      [[4, 1, 4, 4], [4]],
      [[2, 1, 4, 4], [2]],
    ]);
    expect(out["png"]).toEqual({ shape: [1, 2, 3], pixels: [0, 51, 102, 153, 204, 255] });
    expect(out["mnist"]).toEqual({ length: 10000, shape: [1, 28, 28], label: 7 });
  });
});
