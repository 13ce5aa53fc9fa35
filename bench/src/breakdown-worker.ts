import { noGrad } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import type { OpSite } from "./op-profiler.js";
import { OpProfiler } from "./op-profiler.js";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { PicoNetwork } from "./pico-network.js";
import { median } from "./report.js";
import { RESULT_PREFIX, parseWorkerArgs } from "./worker-cli.js";
import { trainBatch, readWorkload } from "./workload.js";

/** Median milliseconds of one operator call site, forward and backward, per pass. */
export interface SiteTiming {
  index: number;
  op: string;
  shape: string;
  forwardMs: number;
  backwardMs: number;
}

export interface BreakdownResult {
  network: string;
  threads: number;
  trainSteps: number;
  /** Medians over the timed steps, in ms: the whole step and its parts. */
  step: { totalMs: number; forwardMs: number; backwardMs: number; optimizerMs: number };
  trainSites: SiteTiming[];
  inferCount: number;
  inferCalls: number;
  inferMs: number;
  inferSites: SiteTiming[];
}

function timings(sites: readonly OpSite[]): SiteTiming[] {
  return sites.map((s) => ({ index: s.index, op: s.op, shape: s.shape, forwardMs: median(s.forwardMs), backwardMs: s.backwardMs.length === 0 ? 0 : median(s.backwardMs) }));
}

const args = parseWorkerArgs(process.argv.slice(2), ["threads"]);
const threads = Number(args.extra.threads ?? "1");
const threaded = threads > 1 && (await enableThreads(threads));
const workload = readWorkload(args.workloadPath);
const network = workload.network === "cifar" ? new PicoCifarNetwork(workload.weights) : new PicoNetwork(workload.weights);
const batch = (step: number) => trainBatch(workload, step % workload.numBatches);

for (let i = 0; i < args.warmupSteps; i++) network.trainStep(batch(i));

const profiler = new OpProfiler();
profiler.install();
// One profiled step first, so that patching costs nothing in the timed ones.
profiler.beginPass();
network.trainStep(batch(args.warmupSteps));
profiler.reset();
const total: number[] = [];
const forward: number[] = [];
const backward: number[] = [];
const optimizer: number[] = [];
network.model.train();
for (let i = 0; i < args.trainSteps; i++) {
  profiler.beginPass();
  const t0 = performance.now();
  network.optimizer.zeroGrad();
  const loss = network.lossOf(batch(args.warmupSteps + 1 + i));
  loss.item();
  const t1 = performance.now();
  loss.backward();
  const t2 = performance.now();
  network.optimizer.step();
  const t3 = performance.now();
  total.push(t3 - t0);
  forward.push(t1 - t0);
  backward.push(t2 - t1);
  optimizer.push(t3 - t2);
}
const trainSites = timings(profiler.recorded);

const inferCount = Math.min(args.inferCount, workload.inferBatch);
const images = workload.inferImages.subarray(0, inferCount * workload.imageShape.reduce((a, b) => a * b, 1));
noGrad(() => network.predict(images, inferCount));
profiler.reset();
const infer: number[] = [];
for (let r = 0; r < args.inferReps; r++) {
  profiler.beginPass();
  const t0 = performance.now();
  network.predict(images, inferCount);
  infer.push(performance.now() - t0);
}
const inferSites = timings(profiler.recorded);
profiler.uninstall();

const result: BreakdownResult = {
  network: workload.network,
  threads: threaded ? threads : 1,
  trainSteps: args.trainSteps,
  step: { totalMs: median(total), forwardMs: median(forward), backwardMs: median(backward), optimizerMs: median(optimizer) },
  trainSites,
  inferCount,
  inferCalls: args.inferReps,
  inferMs: median(infer),
  inferSites,
};
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
process.exit(0);
