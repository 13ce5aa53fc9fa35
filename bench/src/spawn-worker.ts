import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { BreakdownResult } from "./breakdown-worker.js";
import type { MatmulResult } from "./matmul.js";
import type { MeasureOptions } from "./measure.js";
import type { WorkerResult } from "./worker-cli.js";
import { RESULT_PREFIX } from "./worker-cli.js";

export type SystemName = "pico" | "tfjs-wasm" | "tfjs-cpu" | "torch";
export const SYSTEM_NAMES: readonly SystemName[] = ["pico", "tfjs-wasm", "tfjs-cpu", "torch"];

/** One system at one thread count: what one worker process runs. */
export interface SystemRun {
  system: SystemName;
  threads: number;
  /** Pico only: data-parallel replicas (the step split by batch shards), each on `threads` kernel threads. */
  replicas?: number;
}

/** Systems whose thread count the bench sets; tfjs-wasm's threads never start under Node, tfjs-cpu has none. */
export function isThreaded(system: SystemName): boolean {
  return system === "pico" || system === "torch";
}

/** `pico 2t`, `torch 1t`, `tfjs-wasm`: the row name of a run. */
export function runLabel(run: SystemRun): string {
  if ((run.replicas ?? 1) > 1) return `${run.system} dp${run.replicas}`;
  return isThreaded(run.system) ? `${run.system} ${run.threads}t` : run.system;
}

/** What a worker measures (passed as its command line), and how nicely it runs. */
export interface WorkerPlan extends MeasureOptions {
  /** Run the worker under `nice -n` this (negative needs root: the worker then wins the cores from other processes). */
  niceness?: number;
}

/** The interpreter that has torch on this machine (the `python3` first on PATH may not). */
export const TORCH_PYTHON = "/usr/bin/python3";

export function torchWorkerPath(): string {
  // From dist/ and from src/ alike, the script lives in src/.
  return fileURLToPath(new URL("../src/torch-worker.py", import.meta.url));
}

interface Command {
  executable: string;
  args: string[];
}

function workerCommand(run: SystemRun): Command {
  const node = (script: string, flags: string[], extra: string[]): Command => ({
    executable: process.execPath,
    args: [...flags, fileURLToPath(new URL(`./${script}`, import.meta.url)), ...extra],
  });
  switch (run.system) {
    case "pico":
      return node("pico-worker.js", [], ["--threads", String(run.threads), ...((run.replicas ?? 1) > 1 ? ["--replicas", String(run.replicas)] : [])]);
    case "torch":
      return { executable: TORCH_PYTHON, args: [torchWorkerPath(), "--threads", String(run.threads)] };
    case "tfjs-wasm":
    case "tfjs-cpu":
      // vm modules load tfjs-core's own gradient definitions (see tfjs-gradients.ts).
      return node("tfjs-worker.js", ["--experimental-vm-modules", "--disable-warning=ExperimentalWarning"], ["--backend", run.system === "tfjs-wasm" ? "wasm" : "cpu"]);
  }
}

/**
 * Runs one system in its own process (so its peak RSS is its own) and returns its result, labelled
 * with the run (`pico 2t`).
 */
export async function runSystem(run: SystemRun, workloadPath: string, plan: WorkerPlan): Promise<WorkerResult> {
  const { executable, args } = workerCommand(run);
  const label = runLabel(run);
  const niceness = plan.niceness ?? 0;
  // A run on two cores or more is as fast as the cores are close (core-round-trip.ts): measured just before and after.
  const spread = run.threads > 1 || (run.replicas ?? 1) > 1;
  const before = spread ? await runCoreRoundTrip(niceness) : undefined;
  const result = await runForResult<WorkerResult>(label, executable, [...args, ...planArgs(workloadPath, plan)], niceness);
  if (before === undefined) return { ...result, system: label };
  const after = await runCoreRoundTrip(niceness);
  const info = { ...result.info, coreRoundTripBeforeNs: before ?? "not measured", coreRoundTripAfterNs: after ?? "not measured" };
  return { ...result, system: label, info };
}

/**
 * The cores' round trip (core-round-trip.ts), in ns, measured in a process of its own at `niceness`;
 * null where its two threads could not run at once within 2 s.
 */
export async function runCoreRoundTrip(niceness: number): Promise<number | null> {
  const script = fileURLToPath(new URL("./core-round-trip-worker.js", import.meta.url));
  const result = await runForResult<{ roundTripNs: number | null }>("core round trip", process.execPath, [script], niceness);
  return result.roundTripNs === null ? null : Math.round(result.roundTripNs);
}

/** Pico's per-operator breakdown (breakdown-worker.ts) in its own process. */
export function runBreakdown(threads: number, workloadPath: string, plan: WorkerPlan): Promise<BreakdownResult> {
  const script = fileURLToPath(new URL("./breakdown-worker.js", import.meta.url));
  return runForResult<BreakdownResult>(`pico ${threads}t breakdown`, process.execPath, [script, "--threads", String(threads), ...planArgs(workloadPath, plan)], plan.niceness ?? 0);
}

/** The command-line arguments that hand `plan` to a worker (worker-cli.ts and torch-worker.py read them). */
export function planArgs(workloadPath: string, plan: WorkerPlan): string[] {
  return [
    "--workload",
    workloadPath,
    "--warmup",
    String(plan.warmupSteps),
    ...(plan.maxWarmupSteps === undefined ? [] : ["--max-warmup", String(plan.maxWarmupSteps)]),
    ...(plan.maxWarmupSeconds === undefined ? [] : ["--max-warmup-seconds", String(plan.maxWarmupSeconds)]),
    ...(plan.settleSteps === undefined ? [] : ["--settle-steps", String(plan.settleSteps)]),
    "--steps",
    String(plan.trainSteps),
    ...(plan.minTimedSeconds === undefined ? [] : ["--min-timed-seconds", String(plan.minTimedSeconds)]),
    "--infer-count",
    String(plan.inferCount),
    "--infer-reps",
    String(plan.inferReps),
  ];
}

/** The matmul GFLOP/s comparison (matmul-worker.ts) in its own process. */
export function runMatmulWorker(threads: number, niceness: number): Promise<MatmulResult[]> {
  const script = fileURLToPath(new URL("./matmul-worker.js", import.meta.url));
  return runForResult<MatmulResult[]>("matmul", process.execPath, [script, "--threads", String(threads)], niceness);
}

/** PyTorch's autograd-profiler breakdown (torch-worker.py --profile) in its own process. */
export function runTorchProfileWorker<T>(threads: number, workloadPath: string, plan: WorkerPlan): Promise<T> {
  return runForResult<T>(`torch ${threads}t profile`, TORCH_PYTHON, [torchWorkerPath(), "--profile", "--threads", String(threads), ...planArgs(workloadPath, plan)], plan.niceness ?? 0);
}

/**
 * nice(1) sets the priority before the worker starts any thread, so all of them inherit it. Where the
 * kernel groups processes by session for scheduling (autogroup: each session gets an equal share of
 * the cores, whatever its processes' nice values), the worker gets a session of its own (`detached`)
 * and that group gets the niceness too.
 */
function spawnNiced(executable: string, args: string[], niceness: number): ChildProcessByStdio<null, Readable, null> {
  const child = spawn("nice", ["-n", String(niceness), executable, ...args], { stdio: ["ignore", "pipe", "inherit"], detached: true });
  if (child.pid !== undefined && existsSync(`/proc/${child.pid}/autogroup`)) {
    try {
      writeFileSync(`/proc/${child.pid}/autogroup`, String(niceness));
    } catch {
      // Not permitted (a negative niceness needs root): the worker keeps the default share.
    }
  }
  return child;
}

/** Runs a worker; its stderr goes straight to ours, its stdout carries the JSON result line. */
export function runForResult<T>(label: string, executable: string, args: string[], niceness: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = niceness === 0 ? spawn(executable, args, { stdio: ["ignore", "pipe", "inherit"] }) : spawnNiced(executable, args, niceness);
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", (error) => reject(new Error(`${label} worker (${executable}) could not start: ${error.message}`)));
    child.on("close", (code, signal) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${label} worker (${executable} ${args[0] ?? ""}) failed: exit code ${code}${signal === null ? "" : `, signal ${signal}`}; stdout:\n${stdout}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as T);
    });
  });
}
