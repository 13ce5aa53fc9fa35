// Every ```ts (or ```typescript) block of every markdown file in the repository is a program that must
// type-check under the workspace's strict options and run without throwing, each block on its own, as a
// user who copies it would run it; each `console.log(...); // output` line must print that output
// (docs/writing-docs.md states the rules). Blocks that must not run use another fence language (sh, text).
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { formatWithOptions } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BlockProject } from "./block-project.js";
import { blockOutputs, outputMismatch, type BlockOutputs } from "./expected-output.js";
import { codeBlocks, markdownFiles, readText, REPOSITORY_ROOT } from "./markdown.js";

const RUNNABLE = new Set(["ts", "typescript"]);
const RULES = "every ts block is a program on its own; fence fragments and output as text (docs/writing-docs.md)";
const CONSOLE_KEY = Symbol.for("pico.doc-blocks.console");

interface Block {
  id: string;
  where: string;
  code: string;
  outputs: BlockOutputs;
}

const blocksByFile = markdownFiles().map((file) => {
  const blocks = codeBlocks(readText(`${REPOSITORY_ROOT}${file}`))
    .filter((block) => RUNNABLE.has(block.language))
    .map((block): Block => ({
      id: `${file.replace(/[^A-Za-z0-9]+/g, "-")}-L${block.line}`,
      where: `${file}:${block.line}`,
      code: block.code,
      outputs: blockOutputs(block.code),
    }));
  return { file, blocks };
});

/** What a block printed, by the block line of each checked console.log. */
class Recorder {
  readonly printed = new Map<number, string[]>();
  readonly console = {
    logAt: (line: number, ...args: unknown[]): void => {
      const list = this.printed.get(line) ?? [];
      list.push(formatWithOptions({ colors: false }, ...args));
      this.printed.set(line, list);
    },
    // Unchecked output is an error of its own (below); keep it out of the test log.
    log: (): void => {},
    info: (): void => {},
    warn: (): void => {},
    error: (): void => {},
    debug: (): void => {},
  };
}

const project = new BlockProject();
const files = new Map<string, string>();
for (const { blocks } of blocksByFile) {
  for (const block of blocks) {
    // The block's own first line stays line 1, so that line numbers in errors are the block's.
    const prelude = `const console = globalThis[Symbol.for(${JSON.stringify(CONSOLE_KEY.description)})];`;
    files.set(block.id, project.add(block.id, block.code, `${prelude} ${block.outputs.instrumented}`));
  }
}

let diagnostics: Map<string, string[]>;
beforeAll(async () => {
  diagnostics = await project.typecheck();
});
afterAll(() => {
  delete (globalThis as Record<symbol, unknown>)[CONSOLE_KEY];
  rmSync(project.folder, { recursive: true, force: true });
});

it("finds the documentation: the root README's blocks among them", () => {
  const root = blocksByFile.find(({ file }) => file === "README.md");
  expect(root?.blocks.length).toBeGreaterThanOrEqual(2);
});

for (const { file, blocks } of blocksByFile.filter(({ blocks }) => blocks.length > 0)) {
  describe(file, () => {
    for (const block of blocks) {
      it(`${block.where} type-checks`, () => {
        expect(diagnostics.get(block.id) ?? [], `${block.where}: TypeScript errors at block lines; ${RULES}`).toEqual([]);
      });

      it(`${block.where} runs and prints what its comments say`, async () => {
        expect(block.outputs.unchecked.map((line) => `${block.where} block line ${line}: console.log without "// <what it prints>"`)).toEqual([]);
        const recorder = new Recorder();
        (globalThis as Record<symbol, unknown>)[CONSOLE_KEY] = recorder.console;
        vi.resetModules(); // each block starts from freshly loaded packages: no state left by the one before
        // Files a block writes (relative paths) land in a scratch folder, not in the repository.
        const cwd = process.cwd();
        const scratch = join(project.folder, "cwd", block.id);
        mkdirSync(scratch, { recursive: true });
        process.chdir(scratch);
        try {
          await import(files.get(block.id)!);
        } catch (error) {
          throw new Error(`${block.where}: the block threw (${RULES}): ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
        } finally {
          process.chdir(cwd);
        }
        for (const { line, expected } of block.outputs.expectations) {
          const printed = recorder.printed.get(line);
          expect(printed, `${block.where} block line ${line} never ran`).toBeDefined();
          for (const text of printed!) {
            expect(outputMismatch(text, expected), `${block.where} block line ${line}`).toBeNull();
          }
        }
      });
    }
  });
}
