// "Install one package on its own": each library is packed with `pnpm pack` (as it would be published),
// installed into a fresh project outside the workspace with pnpm, offline, from the local store, then
// used by a plain Node ESM program compiled by a strict TypeScript consumer against the packed
// declarations. The consumer programs live in scripts/packaging/consumer/.
//
// A fresh CI machine has every third-party package in the pnpm store (after `pnpm install
// --frozen-lockfile`) but no registry metadata, and offline pnpm cannot resolve versions without it.
// So each consumer gets a lockfile cut from the workspace's pnpm-lock.yaml: the entries its packages
// need, plus the tarballs with their sha512.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { builtinModules } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createContext, runInContext } from "node:vm";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CONSUMER_SOURCES = join(ROOT, "scripts", "packaging", "consumer");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const BUNDLER = join(ROOT, "scripts", "packaging", "bundle-for-browser.mjs");
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

interface Manifest {
  name: string;
  version: string;
  types?: string;
  exports?: Record<string, Record<string, string> | string>;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
interface Packed {
  library: Library;
  tarball: string;
  file: string;
  manifest: Manifest;
  /** Path inside the package (no leading `package/`) -> contents. */
  files: Map<string, Buffer>;
}
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface ConsumerResult {
  install: Run;
  tsc: Run;
  run: Run;
  output: Record<string, unknown>;
  /** Portable consumers only: the program bundled for a browser, run where only console and WebAssembly exist. */
  browser?: { bundle: Run; output: Record<string, unknown>; error: string };
}

function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...env, CI: "true" }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr: error !== null && stderr === "" ? error.message : stderr });
    });
  });
}

function lastJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text.trimEnd().split("\n").at(-1) ?? "") as Record<string, unknown>;
  } catch {
    return {};
  }
}

function describeRun(what: string, result: Run): string {
  return `${what} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** The files of a .tgz (ustar), keyed by their path without the leading `package/`. */
function untar(tgz: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(tgz);
  const files = new Map<string, Buffer>();
  const text = (start: number, length: number): string => tar.toString("utf8", start, start + length).replace(/\0.*$/s, "");
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = text(offset, 100);
    if (name === "") break;
    const size = Number.parseInt(text(offset + 124, 12).trim() || "0", 8);
    const prefix = text(offset + 345, 155);
    const path = (prefix === "" ? name : `${prefix}/${name}`).replace(/^package\//, "");
    if (tar[offset + 156] === 0x30 || tar[offset + 156] === 0) files.set(path, tar.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

// --- the workspace lockfile, read line by line (pnpm lockfile v9: two-space YAML, flow maps on one line)

interface LockEntry {
  text: string;
  dependencies: Map<string, string>;
}
interface Lockfile {
  header: string;
  importers: Map<string, Map<string, { specifier: string; version: string }>>;
  packages: Map<string, LockEntry>;
  snapshots: Map<string, LockEntry>;
}

const unquote = (s: string): string => (s.startsWith("'") && s.endsWith("'") ? s.slice(1, -1).replaceAll("''", "'") : s);
const quote = (s: string): string => (/^[A-Za-z0-9]/.test(s) && !s.includes(": ") ? s : `'${s.replaceAll("'", "''")}'`);
const ENTRY = /^ {2}('(?:[^']|'')*'|[^\s'][^:]*):(?: (.*))?$/;
const DEPENDENCY = /^ {6}('(?:[^']|'')*'|[^\s'][^:]*): (.+)$/;

function readLockfile(text: string): Lockfile {
  const sections = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.split("\n")) {
    const top = /^([A-Za-z]\w*):/.exec(line);
    if (top !== null) sections.set(top[1]!, (current = []));
    current.push(line);
  }
  const entries = (name: string): Map<string, LockEntry> => {
    const out = new Map<string, LockEntry>();
    let entry: LockEntry | null = null;
    let inDependencies = false;
    for (const line of (sections.get(name) ?? []).slice(1)) {
      const head = ENTRY.exec(line);
      if (head !== null) {
        entry = { text: line, dependencies: new Map() };
        out.set(unquote(head[1]!), entry);
        continue;
      }
      if (entry === null || line.trim() === "") continue;
      entry.text += `\n${line}`;
      if (/^ {4}\S/.test(line)) inDependencies = /^ {4}(dependencies|optionalDependencies):$/.test(line);
      const dep = DEPENDENCY.exec(line);
      if (inDependencies && dep !== null) entry.dependencies.set(unquote(dep[1]!), unquote(dep[2]!));
    }
    return out;
  };
  const importers = new Map<string, Map<string, { specifier: string; version: string }>>();
  let importer = new Map<string, { specifier: string; version: string }>();
  let dependency: { specifier: string; version: string } = { specifier: "", version: "" };
  for (const line of (sections.get("importers") ?? []).slice(1)) {
    const head = ENTRY.exec(line);
    if (head !== null) importers.set(unquote(head[1]!), (importer = new Map()));
    else if (/^ {6}\S/.test(line)) importer.set(unquote(line.trim().slice(0, -1)), (dependency = { specifier: "", version: "" }));
    else if (/^ {8}specifier: /.test(line)) dependency.specifier = unquote(line.trim().slice("specifier: ".length));
    else if (/^ {8}version: /.test(line)) dependency.version = unquote(line.trim().slice("version: ".length));
  }
  const header = [...(sections.get("lockfileVersion") ?? []), ...(sections.get("settings") ?? [])].join("\n").trimEnd();
  return { header, importers, packages: entries("packages"), snapshots: entries("snapshots") };
}

/** A lockfile for a consumer project: its direct dependencies and everything they need, nothing more. */
function consumerLockfile(workspace: Lockfile, consumer: Consumer, packed: ReadonlyMap<string, Packed>): string {
  const spec = (name: string): string => `file:../tarballs/${packed.get(name)!.file}`;
  const rootImporter = workspace.importers.get(".")!;
  const snapshots = new Map<string, string>();
  const pending: string[] = [];
  const need = (key: string): void => {
    if (snapshots.has(key)) return;
    const entry = workspace.snapshots.get(key);
    if (entry === undefined) throw new Error(`consumer ${consumer.name}: ${key} is not in the workspace's pnpm-lock.yaml`);
    snapshots.set(key, entry.text);
    pending.push(key);
  };
  const picoEntries: string[] = [];
  const picoSnapshots: string[] = [];
  const addPico = (name: string): void => {
    const pack = packed.get(name)!;
    const key = `${name}@${spec(name)}`;
    if (picoEntries.some((e) => e.includes(`'${key}'`))) return;
    const integrity = `sha512-${createHash("sha512").update(readFileSync(pack.tarball)).digest("base64")}`;
    picoEntries.push(`  '${key}':\n    resolution: {integrity: ${integrity}, tarball: ${spec(name)}}\n    version: ${pack.manifest.version}`);
    const resolved = workspace.importers.get(`packages/${pack.library}`)!;
    const lines: string[] = [];
    for (const dep of Object.keys(pack.manifest.dependencies ?? {}).sort()) {
      if (packed.has(dep)) {
        addPico(dep);
        lines.push(`      ${quote(dep)}: ${spec(dep)}`);
        continue;
      }
      const version = resolved.get(dep)?.version;
      if (version === undefined) throw new Error(`${name}: dependency ${dep} has no resolution in the workspace lockfile`);
      need(`${dep}@${version}`);
      lines.push(`      ${quote(dep)}: ${quote(version)}`);
    }
    picoSnapshots.push(`  '${key}':${lines.length === 0 ? " {}" : `\n    dependencies:\n${lines.join("\n")}`}`);
  };
  const direct: string[] = [];
  for (const name of consumer.dependencies) {
    if (packed.has(name)) {
      addPico(name);
      direct.push(`      ${quote(name)}:\n        specifier: ${spec(name)}\n        version: ${spec(name)}`);
    } else {
      const root = rootImporter.get(name)!;
      need(`${name}@${root.version}`);
      direct.push(`      ${quote(name)}:\n        specifier: ${quote(root.specifier)}\n        version: ${quote(root.version)}`);
    }
  }
  for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
    for (const [dep, version] of workspace.snapshots.get(key)!.dependencies) need(`${dep}@${version}`);
  }
  const packages = new Map<string, string>();
  for (const key of snapshots.keys()) {
    const base = key.replace(/(.)\(.*$/, "$1");
    const entry = workspace.packages.get(base);
    if (entry === undefined) throw new Error(`consumer ${consumer.name}: package ${base} is not in the workspace's pnpm-lock.yaml`);
    packages.set(base, entry.text);
  }
  const overrides = [...packed.keys()].map((name) => `  ${quote(name)}: ${spec(name)}`);
  const block = (entries: Iterable<string>): string => [...entries].sort().join("\n\n");
  return [
    workspace.header,
    "",
    `overrides:\n${overrides.join("\n")}`,
    "",
    `importers:\n\n  .:\n    dependencies:\n${direct.join("\n")}`,
    "",
    `packages:\n\n${block([...packages.values(), ...picoEntries])}`,
    "",
    `snapshots:\n\n${block([...snapshots.values(), ...picoSnapshots])}`,
    "",
  ].join("\n");
}

// --- the import graph of built JavaScript

const IMPORT_PATTERNS = [
  /\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
];
function importsOf(code: string): string[] {
  return IMPORT_PATTERNS.flatMap((pattern) => [...code.matchAll(pattern)].map((m) => m[1]!));
}
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (specifier: string): boolean => specifier.startsWith("node:") || BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]!);
const packageOf = (specifier: string): string => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

/** Every module reachable from `entry` inside the package, and the bare specifiers they import. */
function importGraph(files: ReadonlyMap<string, Buffer>, entry: string): { modules: Set<string>; external: Map<string, string[]> } {
  const modules = new Set<string>();
  const external = new Map<string, string[]>();
  const visit = (path: string): void => {
    if (modules.has(path)) return;
    const code = files.get(path);
    if (code === undefined) throw new Error(`${path} is imported but not in the package`);
    modules.add(path);
    for (const specifier of importsOf(code.toString("utf8"))) {
      if (specifier.startsWith(".")) visit(posix.normalize(posix.join(posix.dirname(path), specifier)));
      else external.set(specifier, [...(external.get(specifier) ?? []), path]);
    }
  };
  visit(entry);
  return { modules, external };
}

const exportTargets = (manifest: Manifest): [string, string][] =>
  Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]) =>
    typeof target === "string" ? [[subpath, target] as [string, string]] : Object.entries(target).map(([condition, path]) => [`${subpath} (${condition})`, path] as [string, string]),
  );
const inPackage = (path: string): string => posix.normalize(path).replace(/^\.\//, "");

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
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  const packs = await Promise.all(LIBRARIES.map((library) => run("pnpm", ["pack", "--json", "--pack-destination", tarballs], join(ROOT, "packages", library))));
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
  const rootImporter = workspace.importers.get(".")!;

  const pnpmOptions = ["--frozen-lockfile", "--offline", "--store-dir", store.stdout.trim(), "--cache-dir", join(work, "empty-cache"), "--ignore-scripts", "--reporter", "append-only"];
  await Promise.all(
    CONSUMERS.map(async (consumer) => {
      const dir = join(work, consumer.name);
      mkdirSync(join(dir, "src"), { recursive: true });
      const dependencies = Object.fromEntries(consumer.dependencies.map((name) => [name, packed.has(name) ? `file:../tarballs/${packed.get(name)!.file}` : rootImporter.get(name)!.specifier]));
      const overrides = Object.fromEntries([...packed.values()].map((p) => [p.manifest.name, `file:../tarballs/${p.file}`]));
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `consumer-${consumer.name}`, private: true, type: "module", dependencies, pnpm: { overrides } }, null, 2));
      writeFileSync(join(dir, "pnpm-lock.yaml"), consumerLockfile(workspace, consumer, packed));
      const compilerOptions = {
        target: "ES2022",
        lib: ["ES2022"],
        types: consumer.node ? ["node"] : [],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        skipDefaultLibCheck: true,
        rootDir: "src",
        outDir: "dist",
      };
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }, null, 2));
      copyFileSync(join(CONSUMER_SOURCES, `${consumer.name}.ts`), join(dir, "src", "main.ts"));
      if (!consumer.node) copyFileSync(join(CONSUMER_SOURCES, "console.d.ts"), join(dir, "src", "console.d.ts"));

      const install = await run("pnpm", ["install", ...pnpmOptions], dir);
      const tsc = install.code === 0 ? await run(process.execPath, [TSC, "-p", dir], dir) : { code: null, stdout: "", stderr: "not run: install failed" };
      const main = join(dir, "dist", "main.js");
      const executed = existsSync(main) ? await run(process.execPath, [main], dir) : { code: null, stdout: "", stderr: "not run: nothing compiled" };
      const output = lastJson(executed.stdout);
      const result: ConsumerResult = { install, tsc, run: executed, output };
      if (!consumer.node && existsSync(main)) {
        const bundle = await run(process.execPath, [BUNDLER, main, join(dir, "browser")], dir);
        const printed: string[] = [];
        let error = "";
        if (bundle.code === 0) {
          const context = createContext({ console: { log: (...data: unknown[]) => printed.push(data.join(" ")) }, WebAssembly: Reflect.get(globalThis, "WebAssembly") });
          try {
            runInContext(readFileSync(join(dir, "browser", "bundle.js"), "utf8"), context, { filename: "bundle.js" });
          } catch (e) {
            error = e instanceof Error ? (e.stack ?? e.message) : String(e);
          }
        }
        result.browser = { bundle, output: lastJson(printed.join("\n")), error };
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

  it.each(LIBRARIES)("@pico/%s: every package its entry's import graph needs at run time is a declared dependency", (library) => {
    const pack = packOf(library);
    const { external } = importGraph(pack.files, "dist/index.js");
    const declared = new Set([...Object.keys(pack.manifest.dependencies ?? {}), ...Object.keys(pack.manifest.peerDependencies ?? {})]);
    const undeclared = [...external.keys()].filter((s) => !isBuiltin(s) && !declared.has(packageOf(s)));
    expect(undeclared).toEqual([]);
    const intoSources = [...external.keys()].filter((s) => /^@pico\/[^/]+\/.+/.test(s));
    expect(intoSources, "imports another package's internals instead of its entry").toEqual([]);
  });

  it.each(PORTABLE)("@pico/%s: no Node built-in and no Node global is reachable from its entry (it must run in a browser)", (library) => {
    const pack = packOf(library);
    const { modules, external } = importGraph(pack.files, "dist/index.js");
    expect([...external.entries()].filter(([s]) => isBuiltin(s)).map(([s, from]) => `${s} <- ${from.join(", ")}`)).toEqual([]);
    const globals = [...modules].flatMap((path) => {
      const code = pack.files.get(path)!.toString("utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/[^\n]*/g, "$1");
      return [...code.matchAll(/\b(process|Buffer|__dirname|__filename|require)\b(?=\s*[.(])/g)].map((m) => `${m[1]} in ${path}`);
    });
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
