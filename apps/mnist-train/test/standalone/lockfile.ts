import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

// pnpm installs offline only from a lockfile or from cached registry metadata, and a fresh CI machine
// (after `pnpm install --frozen-lockfile`) has the store but no metadata. So a consumer project gets
// a lockfile cut from the workspace's: the entries its packages need, plus the local tarballs.
// The workspace's pnpm-lock.yaml (v9) is regular enough to read line by line: two-space indents,
// entries separated by blank lines, flow maps on one line.

interface Entry {
  /** The entry's lines, as in the workspace lockfile. */
  text: string;
  /** dependencies and optionalDependencies: name -> version (with any peer suffix). */
  dependencies: Map<string, string>;
}
interface Resolved {
  specifier: string;
  version: string;
}
export interface Lockfile {
  /** `lockfileVersion` and `settings`. */
  header: string;
  /** Importer path ("." or "packages/nn") -> dependency name -> how it resolved (all kinds of dependency). */
  importers: Map<string, Map<string, Resolved>>;
  packages: Map<string, Entry>;
  snapshots: Map<string, Entry>;
}

/** A packed workspace package, installed from its tarball. */
export interface Tarball {
  /** Its importer in the workspace lockfile, e.g. "packages/nn". */
  importer: string;
  path: string;
  version: string;
  /** The packed package.json's dependencies. */
  dependencies: Readonly<Record<string, string>>;
}

const unquote = (s: string): string => (s.startsWith("'") && s.endsWith("'") ? s.slice(1, -1).replaceAll("''", "'") : s);
const quote = (s: string): string => (/^[A-Za-z0-9]/.test(s) && !s.includes(": ") ? s : `'${s.replaceAll("'", "''")}'`);
const ENTRY = /^ {2}('(?:[^']|'')*'|[^\s'][^:]*):(?: (.*))?$/;
const DEPENDENCY = /^ {6}('(?:[^']|'')*'|[^\s'][^:]*): (.+)$/;

export function readLockfile(text: string): Lockfile {
  const sections = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.split("\n")) {
    const top = /^([A-Za-z]\w*):/.exec(line);
    if (top !== null) sections.set(top[1]!, (current = []));
    current.push(line);
  }
  const entries = (name: string): Map<string, Entry> => {
    const out = new Map<string, Entry>();
    let entry: Entry | null = null;
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
  const importers = new Map<string, Map<string, Resolved>>();
  let importer = new Map<string, Resolved>();
  let dependency: Resolved = { specifier: "", version: "" };
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

/**
 * The package.json dependencies and the pnpm-lock.yaml of a project that depends on `direct`: names
 * of `tarballs` (referenced as `file:<spec>`) or third-party packages at the workspace root's version.
 * Every tarball is also an override, so one packed package's dependency on another resolves to it.
 */
export function consumerProject(workspace: Lockfile, direct: readonly string[], tarballs: ReadonlyMap<string, Tarball>, spec: (name: string) => string): { dependencies: Record<string, string>; overrides: Record<string, string>; lockfile: string } {
  const root = workspace.importers.get(".")!;
  const snapshots = new Map<string, string>();
  const pending: string[] = [];
  const need = (key: string): void => {
    if (snapshots.has(key)) return;
    const entry = workspace.snapshots.get(key);
    if (entry === undefined) throw new Error(`${key} is not in the workspace's pnpm-lock.yaml`);
    snapshots.set(key, entry.text);
    pending.push(key);
  };
  const local = new Map<string, { entry: string; snapshot: string }>();
  const addLocal = (name: string): void => {
    if (local.has(name)) return;
    const tarball = tarballs.get(name)!;
    const key = `${name}@${spec(name)}`;
    const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball.path)).digest("base64")}`;
    const resolved = workspace.importers.get(tarball.importer);
    if (resolved === undefined) throw new Error(`${name}: importer ${tarball.importer} is not in the workspace's pnpm-lock.yaml`);
    const lines: string[] = [];
    for (const dep of Object.keys(tarball.dependencies).sort()) {
      if (tarballs.has(dep)) {
        addLocal(dep);
        lines.push(`      ${quote(dep)}: ${spec(dep)}`);
        continue;
      }
      const version = resolved.get(dep)?.version;
      if (version === undefined) throw new Error(`${name}: dependency ${dep} has no resolution in the workspace's pnpm-lock.yaml`);
      need(`${dep}@${version}`);
      lines.push(`      ${quote(dep)}: ${quote(version)}`);
    }
    local.set(name, {
      entry: `  '${key}':\n    resolution: {integrity: ${integrity}, tarball: ${spec(name)}}\n    version: ${tarball.version}`,
      snapshot: `  '${key}':${lines.length === 0 ? " {}" : `\n    dependencies:\n${lines.join("\n")}`}`,
    });
  };
  const dependencies: Record<string, string> = {};
  const importer: string[] = [];
  for (const name of direct) {
    if (tarballs.has(name)) {
      addLocal(name);
      dependencies[name] = spec(name);
    } else {
      const at = root.get(name);
      if (at === undefined) throw new Error(`${name} is not a dependency of the workspace root`);
      need(`${name}@${at.version}`);
      dependencies[name] = at.specifier;
    }
    const version = tarballs.has(name) ? spec(name) : root.get(name)!.version;
    importer.push(`      ${quote(name)}:\n        specifier: ${quote(dependencies[name]!)}\n        version: ${quote(version)}`);
  }
  for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
    for (const [dep, version] of workspace.snapshots.get(key)!.dependencies) need(`${dep}@${version}`);
  }
  const packages = new Map<string, string>();
  for (const key of snapshots.keys()) {
    const base = key.replace(/(.)\(.*$/, "$1");
    const entry = workspace.packages.get(base);
    if (entry === undefined) throw new Error(`package ${base} is not in the workspace's pnpm-lock.yaml`);
    packages.set(base, entry.text);
  }
  const overrides = Object.fromEntries([...tarballs.keys()].map((name) => [name, spec(name)]));
  const block = (entries: Iterable<string>): string => [...entries].sort().join("\n\n");
  const lockfile = [
    workspace.header,
    "",
    `overrides:\n${Object.entries(overrides).map(([name, to]) => `  ${quote(name)}: ${to}`).join("\n")}`,
    "",
    `importers:\n\n  .:\n    dependencies:\n${importer.join("\n")}`,
    "",
    `packages:\n\n${block([...packages.values(), ...[...local.values()].map((l) => l.entry)])}`,
    "",
    `snapshots:\n\n${block([...snapshots.values(), ...[...local.values()].map((l) => l.snapshot)])}`,
    "",
  ].join("\n");
  return { dependencies, overrides, lockfile };
}
