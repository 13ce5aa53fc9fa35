// The commands the documentation shows exist as written: every `pnpm <script>` is a script of the package it
// runs in, every file a `node` or `npx vitest run` line names is there, and every --option given to the trainer
// or the benchmark is one that its --help lists (for the trainer, the --help of that command); the trainer's own
// README may also name an option on its own (`--lr X` in a table), which one of its commands must have. Needs the
// built programs, as the end-to-end tests do (`pnpm test` builds first).
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { workspacePackages } from "./block-project.js";
import { commandLines, longOptions, splitShell, unwrap } from "./command-lines.js";
import { markdownFiles, readText, REPOSITORY_ROOT } from "./markdown.js";

const TRAINER = "apps/mnist-train/dist/cli.js";
const TRAINER_COMMANDS = new Set(["train", "eval", "predict", "graph", "export"]);
const TRAINER_README = "apps/mnist-train/README.md";
const BENCH = "bench/dist/main.js";
/** pnpm's own commands (a name that is neither one of these nor a script is a stale command). */
const PNPM_COMMANDS = new Set(
  "add audit bin config create dlx env exec fetch i import init install link list ls outdated pack prune publish rebuild remove rm root store unlink up update why".split(" "),
);

const packages = workspacePackages();
const scriptsOf = (folder: string): Record<string, string> =>
  (JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};

const helpCache = new Map<string, string>();
/** What `node <program> [command] --help` prints (the built program). */
function help(program: string, command: string | null): string {
  const key = `${program} ${command ?? ""}`;
  const cached = helpCache.get(key);
  if (cached !== undefined) return cached;
  const path = join(REPOSITORY_ROOT, program);
  if (!existsSync(path)) throw new Error(`${program} is missing: build first (pnpm build)`);
  const run = spawnSync(process.execPath, [path, ...(command === null ? [] : [command]), "--help"], { encoding: "utf8" });
  const text = `${run.stdout}${run.stderr}`;
  helpCache.set(key, text);
  return text;
}

/** Runs every --help the checks read side by side, once, before them (each is a Node start-up of the built program). */
beforeAll(async () => {
  const wanted: [string, string | null][] = [...[null, ...TRAINER_COMMANDS].map((command): [string, string | null] => [TRAINER, command]), [BENCH, null]];
  await Promise.all(
    wanted
      .filter(([program]) => existsSync(join(REPOSITORY_ROOT, program)))
      .map(
        ([program, command]) =>
          new Promise<void>((done) => {
            const args = [join(REPOSITORY_ROOT, program), ...(command === null ? [] : [command]), "--help"];
            execFile(process.execPath, args, { encoding: "utf8" }, (_error, stdout, stderr) => {
              helpCache.set(`${program} ${command ?? ""}`, `${stdout}${stderr}`);
              done();
            });
          }),
      ),
  );
});

const listed = (helpText: string, option: string): boolean => new RegExp(`${option.replace(/[-]/g, "\\-")}(?![\\w-])`).test(helpText);

/** A file a command names, relative to the repository root or to the page. */
function resolvePath(file: string, path: string): string | null {
  for (const base of [REPOSITORY_ROOT, dirname(join(REPOSITORY_ROOT, file))]) {
    const absolute = resolve(base, path);
    if (existsSync(absolute)) return relative(REPOSITORY_ROOT, absolute);
  }
  return null;
}

/** What is wrong with one documented command, or null. */
function staleCommand(file: string, shown: readonly string[]): string | null {
  const words = unwrap(shown);
  const [program, ...args] = words;
  const checkOptions = (target: string, command: string | null, rest: readonly string[]): string | null => {
    const text = help(target, command);
    const unknown = longOptions(rest).filter((o) => o !== "--help" && !listed(text, o));
    const name = target === TRAINER ? `mnist-train${command === null ? "" : ` ${command}`}` : "the benchmark";
    return unknown.length === 0 ? null : `${unknown.join(", ")}: not an option of ${name} (see its --help)`;
  };
  const trainer = (rest: readonly string[]): string | null => {
    const command = rest[0] !== undefined && TRAINER_COMMANDS.has(rest[0]) ? rest[0] : null;
    if (command === null && rest[0] !== undefined && !rest[0].startsWith("-")) return `mnist-train has no command ${rest[0]}`;
    return checkOptions(TRAINER, command, command === null ? rest : rest.slice(1));
  };

  if (program === "pnpm") {
    let folder = REPOSITORY_ROOT;
    let i = 0;
    for (; i < args.length && args[i]!.startsWith("-"); i++) {
      const flag = args[i]!;
      if (flag === "--filter" || flag === "-F" || flag === "-C" || flag === "--dir") {
        const value = args[++i] ?? "";
        const byName = packages.get(value);
        folder = byName ?? resolve(REPOSITORY_ROOT, value);
      }
    }
    let script = args[i];
    if (script === "run") script = args[++i];
    if (script === undefined) return null;
    const rest = args.slice(i + 1).filter((w) => w !== "--");
    if (folder === REPOSITORY_ROOT && script === "train") return trainer(["train", ...rest]);
    if (folder === REPOSITORY_ROOT && script === "bench") return checkOptions(BENCH, null, rest);
    if (script in scriptsOf(folder) || PNPM_COMMANDS.has(script)) return null;
    return `pnpm ${script}: no such script in ${relative(REPOSITORY_ROOT, join(folder, "package.json")) || "package.json"}`;
  }
  if (program === "mnist-train") {
    // An error message quoted in the docs (`mnist-train train: ...`) is output, not a command.
    if (args[0] !== undefined && !TRAINER_COMMANDS.has(args[0]) && !args[0].startsWith("-")) return null;
    return trainer(args);
  }
  if (program === "node" && args[0] !== undefined && /\.(m|c)?js$/.test(args[0])) {
    const script = resolvePath(file, args[0]);
    if (script === null) return `node ${args[0]}: no such file`;
    if (script === TRAINER) return trainer(args.slice(1));
    if (script === BENCH) return checkOptions(BENCH, null, args.slice(1));
    return null;
  }
  if (program !== undefined && program.startsWith("--") && file === TRAINER_README) {
    const all = [null, ...TRAINER_COMMANDS].map((command) => help(TRAINER, command)).join("\n");
    const unknown = longOptions(words).filter((o) => !listed(all, o));
    return unknown.length === 0 ? null : `${unknown.join(", ")}: not an option of any mnist-train command`;
  }
  if (program === "npx" && args[0] === "vitest") {
    const missing = args.slice(2).filter((a) => !a.startsWith("-") && /\.test\.ts$/.test(a) && resolvePath(file, a) === null);
    return missing.length === 0 ? null : `npx vitest: no such test file ${missing.join(", ")}`;
  }
  return null;
}

describe("commands in markdown", () => {
  it("reads the command lines of shell blocks and inline code", () => {
    const page = ["Run `pnpm bench -- --rounds 1` or:", "", "```sh", "$ cd x && pnpm pack # a comment", "node a.js \\", "  --flag 'b c'", "```", "", "then `pnpm test` again."].join("\n");
    expect(commandLines(page)).toEqual([
      { words: ["cd", "x"], line: 4 },
      { words: ["pnpm", "pack"], line: 4 },
      { words: ["node", "a.js", "--flag", "b c"], line: 5 },
      { words: ["pnpm", "bench", "--", "--rounds", "1"], line: 1 },
      { words: ["pnpm", "test"], line: 9 },
    ]);
  });

  it("tells a stale command from a good one", () => {
    expect(staleCommand("README.md", splitShell("pnpm train -- --epochs 1")[0]!)).toBeNull();
    expect(staleCommand("README.md", splitShell("pnpm train -- --epoch 1")[0]!)).toMatch(/--epoch: not an option of mnist-train train/);
    expect(staleCommand("README.md", splitShell(`node ${TRAINER} eval --checkpoint m.safetensors --test-limit 10`)[0]!)).toBeNull();
    expect(staleCommand("README.md", splitShell(`node ${TRAINER} predict --lr 1 a.png`)[0]!)).toMatch(/--lr: not an option of mnist-train predict/);
    expect(staleCommand("README.md", splitShell(`node ${TRAINER} serve`)[0]!)).toMatch(/mnist-train has no command serve/);
    expect(staleCommand("README.md", splitShell("pnpm bench -- --no-matmul --rounds 1")[0]!)).toBeNull();
    expect(staleCommand("README.md", splitShell("pnpm bench -- --turbo")[0]!)).toMatch(/--turbo: not an option of the benchmark/);
    expect(staleCommand("README.md", splitShell("pnpm test")[0]!)).toBeNull();
    expect(staleCommand("README.md", splitShell("pnpm no-such-script")[0]!)).toMatch(/pnpm no-such-script: no such script in package.json/);
    expect(staleCommand("README.md", splitShell("pnpm --filter @pico/core typecheck")[0]!)).toBeNull();
    expect(staleCommand("README.md", splitShell("pnpm --filter @pico/core lint")[0]!)).toMatch(/no such script in packages\/core\/package.json/);
    expect(staleCommand("README.md", splitShell("node scripts/no-such.mjs")[0]!)).toMatch(/no such file/);
    expect(staleCommand("README.md", splitShell("npx vitest run packages/core/src/no-such.test.ts")[0]!)).toMatch(/no such test file/);
    expect(staleCommand("README.md", splitShell("mnist-train train: --epochs must be an integer >= 1, but got '-1'")[0]!)).toBeNull();
  });

  it("looks through flock, timeout, nice, time and variable assignments", () => {
    expect(unwrap(splitShell("flock /tmp/bench.lock pnpm bench -- --rounds 1")[0]!)).toEqual(["pnpm", "bench", "--", "--rounds", "1"]);
    expect(unwrap(splitShell("CI=true timeout -s KILL 60 nice -n 5 time node a.js")[0]!)).toEqual(["node", "a.js"]);
    expect(staleCommand("README.md", splitShell("flock /tmp/bench.lock pnpm bench -- --turbo")[0]!)).toMatch(/--turbo: not an option/);
  });

  it("the trainer's README names no option its commands lack", () => {
    expect(staleCommand("apps/mnist-train/README.md", ["--epochs", "N"])).toBeNull();
    expect(staleCommand("apps/mnist-train/README.md", ["--checkpoint", "FILE"])).toBeNull();
    expect(staleCommand("apps/mnist-train/README.md", ["--learning-rate", "X"])).toMatch(/--learning-rate: not an option of any mnist-train command/);
    expect(staleCommand("README.md", ["--learning-rate", "X"])).toBeNull();
  });

  for (const file of markdownFiles()) {
    it(`${file}: every command it shows exists with the options it gives`, () => {
      const stale = commandLines(readText(join(REPOSITORY_ROOT, file)))
        .map(({ words, line }) => {
          const why = staleCommand(file, words);
          return why === null ? null : `${file}:${line}: ${words.join(" ")}: ${why}`;
        })
        .filter((why) => why !== null);
      expect(stale).toEqual([]);
    });
  }
});
