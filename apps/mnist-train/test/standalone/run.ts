import { execFile } from "node:child_process";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion without a shell. Left out of its environment: the npm_* variables of an
 * enclosing `pnpm test`, and NODE_PATH, which pnpm's bin shims (e.g. vitest's) point at the workspace's
 * hoisted node_modules, where require() would find packages a consumer never installed.
 */
export function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== "NODE_PATH"));
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...env, CI: "true" }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr: error !== null && stderr === "" ? error.message : stderr });
    });
  });
}

export const notRun = (why: string): Run => ({ code: null, stdout: "", stderr: `not run: ${why}` });

/** The last line of a program's output as JSON, or {} when it is not. */
export function lastJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text.trimEnd().split("\n").at(-1) ?? "") as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function describeRun(what: string, result: Run): string {
  return `${what} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}
