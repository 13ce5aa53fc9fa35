import { builtinModules } from "node:module";
import { posix } from "node:path";

// Built JavaScript (tsc output) imports with literal specifiers; a computed `import(specifier)` is
// invisible here on purpose: it is how an optional Node-only module stays out of a portable graph.
const IMPORT_PATTERNS = [
  /\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire(?:\.resolve)?\s*\(\s*["']([^"']+)["']\s*\)/g,
];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export const isBuiltin = (specifier: string): boolean => specifier.startsWith("node:") || BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]!);

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
export const packageOf = (specifier: string): string => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

function importsOf(code: string): string[] {
  return IMPORT_PATTERNS.flatMap((pattern) => [...code.matchAll(pattern)].map((m) => m[1]!));
}

export interface ImportGraph {
  /** Files of the package reachable from the entry. */
  modules: Set<string>;
  /** Bare specifiers (other packages, built-ins) -> the files that import them. */
  external: Map<string, string[]>;
}

/** Walks the relative imports from `entry` through a package's files (as `untar` returns them). */
export function importGraph(files: ReadonlyMap<string, Uint8Array>, entry: string): ImportGraph {
  const modules = new Set<string>();
  const external = new Map<string, string[]>();
  const visit = (path: string): void => {
    if (modules.has(path)) return;
    const code = files.get(path);
    if (code === undefined) throw new Error(`${path} is imported but not in the package`);
    modules.add(path);
    for (const specifier of importsOf(Buffer.from(code).toString("utf8"))) {
      if (specifier.startsWith(".")) visit(posix.normalize(posix.join(posix.dirname(path), specifier)));
      else external.set(specifier, [...(external.get(specifier) ?? []), path]);
    }
  };
  visit(entry);
  return { modules, external };
}

/** Uses of Node-only globals (`process.`, `Buffer.`, `require(`, ...) in code, comments left out. */
export function nodeGlobalsIn(code: string): string[] {
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/[^\n]*/g, "$1");
  return [...stripped.matchAll(/\b(process|Buffer|__dirname|__filename|require)\b(?=\s*[.(])/g)].map((m) => m[1]!);
}
