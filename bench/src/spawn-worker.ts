import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WorkerResult } from "./worker-cli.js";
import { RESULT_PREFIX } from "./worker-cli.js";

export type SystemName = "pico" | "tfjs-wasm" | "tfjs-cpu";

export interface WorkerPlan {
  warmupSteps: number;
  trainSteps: number;
  inferCount: number;
  inferReps: number;
  /** Threads Pico.ts may use (the calling one included); tfjs-wasm's threads never start under Node. */
  picoThreads: number;
}

function workerCommand(system: SystemName, plan: WorkerPlan): { script: string; nodeFlags: string[]; extra: string[] } {
  if (system === "pico") return { script: "pico-worker.js", nodeFlags: [], extra: ["--threads", String(plan.picoThreads)] };
  return {
    script: "tfjs-worker.js",
    // vm modules load tfjs-core's own gradient definitions (see tfjs-gradients.ts).
    nodeFlags: ["--experimental-vm-modules", "--disable-warning=ExperimentalWarning"],
    extra: ["--backend", system === "tfjs-wasm" ? "wasm" : "cpu"],
  };
}

/**
 * Runs one system in its own Node process (so its peak RSS is its own) and returns its result.
 * The worker's stderr goes straight to ours; its stdout carries the result line.
 */
export function runSystem(system: SystemName, workloadPath: string, plan: WorkerPlan): Promise<WorkerResult> {
  const { script, nodeFlags, extra } = workerCommand(system, plan);
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const args = [
    ...nodeFlags,
    path,
    "--workload",
    workloadPath,
    "--warmup",
    String(plan.warmupSteps),
    "--steps",
    String(plan.trainSteps),
    "--infer-count",
    String(plan.inferCount),
    "--infer-reps",
    String(plan.inferReps),
    ...extra,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${system} worker (${script}) failed: exit code ${code}${signal === null ? "" : `, signal ${signal}`}; stdout:\n${stdout}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkerResult);
    });
  });
}
