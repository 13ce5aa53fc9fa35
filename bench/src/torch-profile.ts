import type { WorkerPlan } from "./spawn-worker.js";
import { runTorchProfileWorker } from "./spawn-worker.js";

/** One operator in PyTorch's autograd profiler: self CPU time per pass, in ms. */
export interface TorchOp {
  op: string;
  calls: number;
  selfMs: number;
}

/** What `torch-worker.py --profile` prints. */
export interface TorchProfile {
  network: string;
  threads: number;
  trainSteps: number;
  /** Wall time per step while profiling (the profiler adds a little). */
  stepMs: number;
  trainOps: TorchOp[];
  inferCount: number;
  inferCalls: number;
  inferMs: number;
  inferOps: TorchOp[];
}

export function runTorchProfile(threads: number, workloadPath: string, plan: WorkerPlan): Promise<TorchProfile> {
  return runTorchProfileWorker<TorchProfile>(threads, workloadPath, plan);
}

const SHOWN = 15;

function opLines(ops: readonly TorchOp[], passMs: number): string[] {
  const width = Math.max(8, ...ops.slice(0, SHOWN).map((o) => o.op.length));
  const lines = [`  ${"operator".padEnd(width)}  calls  self ms  of pass`];
  for (const o of ops.slice(0, SHOWN)) {
    lines.push(`  ${o.op.padEnd(width)}  ${o.calls.toFixed(0).padStart(5)}  ${o.selfMs.toFixed(2).padStart(7)}  ${((100 * o.selfMs) / passMs).toFixed(1).padStart(6)}%`);
  }
  const rest = ops.slice(SHOWN).reduce((a, o) => a + o.selfMs, 0);
  if (ops.length > SHOWN) lines.push(`  ${`(${ops.length - SHOWN} more operators)`.padEnd(width)}         ${rest.toFixed(2).padStart(7)}  ${((100 * rest) / passMs).toFixed(1).padStart(6)}%`);
  return lines;
}

/** PyTorch's operators by self CPU time (all threads' work is charged to the operator that launched it). */
export function formatTorchProfile(p: TorchProfile): string {
  return [
    `PyTorch ${p.network} network, ${p.threads} thread${p.threads > 1 ? "s" : ""}: training step ${p.stepMs.toFixed(1)} ms under the autograd profiler (${p.trainSteps} steps)`,
    ...opLines(p.trainOps, p.stepMs),
    `inference at batch ${p.inferCount}: ${p.inferMs.toFixed(1)} ms per call under the profiler (${p.inferCalls} calls)`,
    ...opLines(p.inferOps, p.inferMs),
  ].join("\n");
}
