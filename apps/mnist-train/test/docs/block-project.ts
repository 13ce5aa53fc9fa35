import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPOSITORY_ROOT } from "./markdown.js";

/** The folders pnpm-workspace.yaml lists (`dir/*` or `dir`) that hold a package.json, with the package's name. */
export function workspacePackages(root: string = REPOSITORY_ROOT): Map<string, string> {
  const globs = [...readFileSync(join(root, "pnpm-workspace.yaml"), "utf8").matchAll(/^\s*-\s*["']?([^"'\s]+)["']?\s*$/gm)].map((m) => m[1]!);
  const folders = globs.flatMap((glob) =>
    glob.endsWith("/*")
      ? readdirSync(join(root, glob.slice(0, -2)), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(root, glob.slice(0, -2), e.name))
      : [join(root, glob)],
  );
  const packages = new Map<string, string>();
  for (const folder of folders) {
    const manifest = join(folder, "package.json");
    if (!existsSync(manifest)) continue;
    const { name } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string };
    if (name !== undefined) packages.set(name, folder);
  }
  return packages;
}

/** Installed package names in a node_modules folder (scoped ones as `@scope/name`), without pnpm's own entries. */
function installed(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  return readdirSync(nodeModules).flatMap((entry) => {
    if (entry.startsWith(".")) return [];
    if (!entry.startsWith("@")) return [entry];
    return readdirSync(join(nodeModules, entry)).map((name) => `${entry}/${name}`);
  });
}

/**
 * A throw-away project outside the repository in which documentation blocks are compiled and run as a user's
 * program would be: its node_modules links every workspace package under its name (resolved through the
 * `source` export condition, so nothing needs building) and every third-party package the workspace installs.
 */
export class BlockProject {
  readonly folder = mkdtempSync(join(tmpdir(), "pico-doc-blocks-"));

  constructor(root: string = REPOSITORY_ROOT) {
    const modules = join(this.folder, "node_modules");
    const link = (name: string, target: string): void => {
      const path = join(modules, name);
      if (existsSync(path)) return;
      mkdirSync(dirname(path), { recursive: true });
      symlinkSync(target, path, "dir");
    };
    const packages = workspacePackages(root);
    for (const [name, folder] of packages) link(name, folder);
    for (const folder of [root, ...packages.values()]) {
      for (const name of installed(join(folder, "node_modules"))) link(name, join(folder, "node_modules", name));
    }
    writeFileSync(join(this.folder, "package.json"), JSON.stringify({ name: "doc-blocks", private: true, type: "module" }));
    for (const sub of ["check", "run"]) mkdirSync(join(this.folder, sub));
    const tsconfig = {
      extends: join(root, "tsconfig.base.json"),
      compilerOptions: { noEmit: true, types: ["node"], customConditions: ["source"] },
      include: ["check"],
    };
    writeFileSync(join(this.folder, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  }

  /** Writes the block as the user sees it (type-checked) and as it runs (instrumented); returns the file to import. */
  add(id: string, code: string, instrumented: string): string {
    writeFileSync(join(this.folder, "check", `${id}.ts`), `${code}\n`);
    const file = join(this.folder, "run", `${id}.ts`);
    writeFileSync(file, `${instrumented}\n`);
    return file;
  }

  /** Runs TypeScript (the workspace's, with the workspace's strict options) over every added block: diagnostics by block id. */
  typecheck(root: string = REPOSITORY_ROOT): Promise<Map<string, string[]>> {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    return new Promise((resolve, reject) => {
      execFile(process.execPath, [tsc, "-p", join(this.folder, "tsconfig.json"), "--pretty", "false"], { maxBuffer: 64 << 20 }, (error, stdout) => {
        if (error !== null && stdout === "") {
          reject(error);
          return;
        }
        const byBlock = new Map<string, string[]>();
        let last: string[] | null = null;
        for (const line of stdout.split("\n")) {
          const diagnostic = /(?:^|\/)check\/([^/(]+)\.ts\((\d+),(\d+)\): (.*)$/.exec(line);
          if (diagnostic === null) {
            // An indented line continues the message above it (TypeScript's elaboration of a type mismatch).
            if (last !== null && /^\s/.test(line)) last[last.length - 1] += ` ${line.trim()}`;
            else if (!/^\s/.test(line)) last = null;
            continue;
          }
          const list = byBlock.get(diagnostic[1]!) ?? [];
          list.push(`line ${diagnostic[2]} column ${diagnostic[3]}: ${diagnostic[4]}`);
          byBlock.set(diagnostic[1]!, list);
          last = list;
        }
        resolve(byBlock);
      });
    });
  }
}
