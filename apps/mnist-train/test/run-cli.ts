import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The built program, as a user runs it. */
export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** React to output (e.g. send a signal). */
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
  /** The folder the user runs it from (default: this process's). */
  cwd?: string;
}

/** Runs `node dist/cli.js ...args`; `onStdout` may react to output (e.g. send a signal). */
export function runCli(args: readonly string[], options: RunOptions | RunOptions["onStdout"] = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (pnpm build)`);
  return runCommand(process.execPath, [CLI, ...args], typeof options === "function" ? { onStdout: options } : options);
}

/**
 * The environment of a CLI under test: colours off, since picocolors turns them on wherever `CI` is set
 * and the tests compare the lines a user reads.
 */
export const PLAIN_ENV: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };

/** Runs a program with arguments as a shell would after splitting the line: no shell involved. */
export function runCommand(program: string, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, env: PLAIN_ENV });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Splits a printed command line into words the way a POSIX shell does for plain and single-quoted words. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (let m = pattern.exec(line); m !== null; m = pattern.exec(line)) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return words;
}

export function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}
