import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BenchSystem } from "./measure.js";
import { measure } from "./measure.js";
import { TORCH_PYTHON } from "./spawn-worker.js";
import type { Workload } from "./workload.js";

const torchFound = spawnSync(TORCH_PYTHON, ["-c", "import torch"]).status === 0;
// CI installs torch (.ci/run): there a missing torch is a failure, not a skip.
const runTorch = torchFound || process.env["CI"] !== undefined;
if (!runTorch) console.log(`torch-measure-rule.test.ts: skipped, ${TORCH_PYTHON} cannot import torch (apt-get install -y python3-torch)`);

interface Case {
  stepMs: number;
  callMs: number;
  warmup: number;
  maxWarmup: number;
  settle: number;
  maxWarmupSeconds?: number;
  steps: number;
  inferReps: number;
  minTimedSeconds: number;
  numBatches: number;
}

const CASES: Case[] = [
  // Timed parts lengthened to 3 s; a slow system past it in its minimum; no minimum time.
  { stepMs: 40, callMs: 70, warmup: 3, maxWarmup: 3, settle: 3, steps: 8, inferReps: 5, minTimedSeconds: 3, numBatches: 5 },
  { stepMs: 4000, callMs: 900, warmup: 3, maxWarmup: 3, settle: 3, steps: 8, inferReps: 5, minTimedSeconds: 3, numBatches: 5 },
  { stepMs: 1, callMs: 1, warmup: 3, maxWarmup: 3, settle: 3, steps: 8, inferReps: 5, minTimedSeconds: 0, numBatches: 5 },
  // The CIFAR defaults for a fast system and for a slow one (the 20 s of windows end its warm-up first); the reference network's.
  { stepMs: 62.5, callMs: 117.1875, warmup: 20, maxWarmup: 300, settle: 200, maxWarmupSeconds: 20, steps: 8, inferReps: 5, minTimedSeconds: 3, numBatches: 10 },
  { stepMs: 190, callMs: 300, warmup: 20, maxWarmup: 300, settle: 200, maxWarmupSeconds: 20, steps: 8, inferReps: 5, minTimedSeconds: 3, numBatches: 10 },
  { stepMs: 2.5, callMs: 8, warmup: 300, maxWarmup: 4000, settle: 3000, maxWarmupSeconds: 20, steps: 100, inferReps: 30, minTimedSeconds: 3, numBatches: 400 },
];

/** measure.ts on the fake clock and network of torch-measure-rule.py. */
function measured(c: Case): Record<string, unknown> {
  const n = 4;
  const size = 4;
  const trainImages = new Float32Array(c.numBatches * n * size);
  for (let b = 0; b < c.numBatches; b++) trainImages.fill(b, b * n * size, (b + 1) * n * size);
  const workload: Workload = {
    network: "reference",
    imageShape: [1, 2, 2],
    weights: [],
    batchSize: n,
    numBatches: c.numBatches,
    trainImages,
    trainLabels: new Int32Array(c.numBatches * n),
    inferBatch: 2,
    inferImages: new Float32Array(2 * size),
  };
  let clock = 0;
  let calls = 0;
  vi.spyOn(performance, "now").mockImplementation(() => clock);
  const system: BenchSystem = {
    loss: () => 0,
    trainStep: (batch) => {
      clock += c.stepMs;
      return batch.images[0]!;
    },
    predict: (_images, count) => {
      clock += c.callMs;
      return new Float32Array(count * 10).fill(++calls);
    },
  };
  const m = measure(system, workload, {
    warmupSteps: c.warmup,
    maxWarmupSteps: c.maxWarmup,
    settleSteps: c.settle,
    maxWarmupSeconds: c.maxWarmupSeconds ?? Infinity,
    trainSteps: c.steps,
    inferCount: 2,
    inferReps: c.inferReps,
    minTimedSeconds: c.minTimedSeconds,
  });
  vi.restoreAllMocks();
  return { warmupSteps: m.warmupSteps, trainSteps: m.trainSteps, trainImages: m.trainImages, trainSeconds: m.trainSeconds, inferReps: m.inferReps, inferSeconds: m.inferSeconds, inferChecksum: m.inferChecksum, stepLosses: m.stepLosses };
}

afterEach(() => vi.restoreAllMocks());

describe.runIf(runTorch)("torch-worker.py's measure and measure.ts", () => {
  it("warm up, time and check by one rule: the same steps, batches, calls, seconds and checksum on a fake clock", () => {
    expect(torchFound, `${TORCH_PYTHON} cannot import torch; CI must install python3-torch`).toBe(true);
    const helper = fileURLToPath(new URL("./torch-measure-rule.py", import.meta.url));
    const worker = fileURLToPath(new URL("./torch-worker.py", import.meta.url));
    const run = spawnSync(TORCH_PYTHON, [helper, worker, JSON.stringify(CASES)], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const torch = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(torch).toHaveLength(CASES.length);
    CASES.forEach((c, i) => {
      const ts = measured(c);
      for (const key of ["warmupSteps", "trainSteps", "trainImages", "inferReps", "inferChecksum", "stepLosses"]) {
        expect([i, key, torch[i]![key]]).toEqual([i, key, ts[key]]);
      }
      expect(torch[i]!.trainSeconds as number).toBeCloseTo(ts.trainSeconds as number, 9);
      expect(torch[i]!.inferSeconds as number).toBeCloseTo(ts.inferSeconds as number, 9);
    });
    // The first case went on past its 8 steps and 5 calls to 3 s; at 62.5 ms a step the warm-up reached its
    // 200 steps, at 190 ms its 20 s of windows ended it first.
    expect([torch[0]!.trainSteps, torch[0]!.inferReps]).toEqual([75, 43]);
    expect([torch[3]!.warmupSteps, torch[4]!.warmupSteps]).toEqual([204, 132]);
  });
});
