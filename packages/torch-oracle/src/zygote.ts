import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pythonPath } from "./availability.js";
import { pythonEnv, serverScript } from "./oracle.js";

export interface Zygote {
  /** The Unix socket each connection to which gets a PyTorch server of its own. */
  socket: string;
  stop(): void;
}

/**
 * Starts a Python process that imports torch once and forks a server for every connection to its
 * socket, so that each test worker skips the second or so that importing torch costs. Resolves to
 * null when it cannot start (the workers then start servers of their own).
 */
export function startZygote(timeoutMs = 60_000): Promise<Zygote | null> {
  const socket = join(tmpdir(), `pico-torch-${process.pid}-${Date.now().toString(36)}.sock`);
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(pythonPath(), ["-u", serverScript(), "--zygote", socket], { stdio: ["pipe", "pipe", "pipe"], env: pythonEnv() });
  } catch {
    return Promise.resolve(null);
  }
  const stop = (): void => {
    child.stdin.end();
    child.kill();
    rmSync(socket, { force: true });
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stop();
      resolve(null);
    }, timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (!chunk.includes("ready")) return;
      clearTimeout(timer);
      resolve({ socket, stop });
    });
    child.stderr.resume();
    child.on("error", () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.on("exit", () => {
      clearTimeout(timer);
      rmSync(socket, { force: true });
      resolve(null);
    });
  });
}
