import { PerformanceObserver } from "node:perf_hooks";
import { noGrad } from "@pico/core";
import { enableThreads } from "@pico/core/threads";
import { median } from "./median.js";
import type { OpSite } from "./op-profiler.js";
import { OpProfiler } from "./op-profiler.js";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { PicoNetwork } from "./pico-network.js";
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
  /**
   * Medians over the timed steps, in ms, of the time outside every operator, measured within each step
   * (the step's wall time less its operators' own times): in the forward (module glue, input tensors,
   * the loss's glue), in backward (the engine's bookkeeping, gradient sums, .grad copies, buffer
   * recycling), and zeroGrad with the optimizer's step; `totalMs` is the median of their per-step sum.
   */
  outside: { totalMs: number; forwardMs: number; backwardMs: number; optimizerMs: number };
  /**
   * Medians over the timed steps of the calling thread's garbage-collection pauses within each step, in
   * ms, and of their count: counted in whichever operator or glue they interrupted.
   */
  gc: { ms: number; count: number };
  trainSites: SiteTiming[];
  inferCount: number;
  inferCalls: number;
  inferMs: number;
  /** Median over the inference calls of each call's time outside operators, in ms. */
  inferOutsideMs: number;
  inferSites: SiteTiming[];
}

function timings(sites: readonly OpSite[]): SiteTiming[] {
  return sites.map((s) => ({ index: s.index, op: s.op, shape: s.shape, forwardMs: median(s.forwardMs), backwardMs: s.backwardMs.length === 0 ? 0 : median(s.backwardMs) }));
}

const args = parseWorkerArgs(process.argv.slice(2), ["threads"]);
if (args.maxWarmupSteps !== args.warmupSteps) throw new Error("breakdown-worker: --max-warmup is not supported (the breakdown warms up a fixed --warmup steps)");
if ((args.minTimedSeconds ?? 0) > 0) throw new Error("breakdown-worker: --min-timed-seconds is not supported (the breakdown times a fixed --steps steps)");
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
const gcPauses: { start: number; ms: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
});
gcObserver.observe({ entryTypes: ["gc"] });
const stepWindows: [number, number][] = [];
const total: number[] = [];
const forward: number[] = [];
const backward: number[] = [];
const optimizer: number[] = [];
const outsideForward: number[] = [];
const outsideBackward: number[] = [];
const outsideOptimizer: number[] = [];
const outside: number[] = [];
network.model.train();
for (let i = 0; i < args.trainSteps; i++) {
  profiler.beginPass();
  const t0 = performance.now();
  network.optimizer.zeroGrad();
  const tz = performance.now();
  const loss = network.lossOf(batch(args.warmupSteps + 1 + i));
  loss.item();
  const t1 = performance.now();
  const afterForward = profiler.passMs;
  loss.backward();
  const t2 = performance.now();
  const afterBackward = profiler.passMs;
  network.optimizer.step();
  const t3 = performance.now();
  stepWindows.push([t0, t3]);
  total.push(t3 - t0);
  forward.push(t1 - t0);
  backward.push(t2 - t1);
  optimizer.push(t3 - t2);
  // Operators the optimizer or zeroGrad may call count as theirs; none of the bench's do.
  const inOps = profiler.passMs;
  const glueForward = t1 - tz - afterForward.forward - afterForward.backward;
  const engine = t2 - t1 - (afterBackward.forward + afterBackward.backward - afterForward.forward - afterForward.backward);
  const optimizerOutside = tz - t0 + t3 - t2 - (inOps.forward + inOps.backward - afterBackward.forward - afterBackward.backward);
  outsideForward.push(glueForward);
  outsideBackward.push(engine);
  outsideOptimizer.push(optimizerOutside);
  outside.push(glueForward + engine + optimizerOutside);
}
const trainSites = timings(profiler.recorded);
// The observer hears of a collection in a later task.
await new Promise((resolve) => setTimeout(resolve, 0));
gcObserver.disconnect();
const gcInStep = stepWindows.map(([from, to]) => gcPauses.filter((p) => p.start >= from && p.start < to));

const inferCount = Math.min(args.inferCount, workload.inferBatch);
const images = workload.inferImages.subarray(0, inferCount * workload.imageShape.reduce((a, b) => a * b, 1));
noGrad(() => network.predict(images, inferCount));
profiler.reset();
const infer: number[] = [];
const inferOutside: number[] = [];
for (let r = 0; r < args.inferReps; r++) {
  profiler.beginPass();
  const t0 = performance.now();
  network.predict(images, inferCount);
  const ms = performance.now() - t0;
  infer.push(ms);
  const inOps = profiler.passMs;
  inferOutside.push(ms - inOps.forward - inOps.backward);
}
const inferSites = timings(profiler.recorded);
profiler.uninstall();

const result: BreakdownResult = {
  network: workload.network,
  threads: threaded ? threads : 1,
  trainSteps: args.trainSteps,
  step: { totalMs: median(total), forwardMs: median(forward), backwardMs: median(backward), optimizerMs: median(optimizer) },
  gc: { ms: median(gcInStep.map((ps) => ps.reduce((a, p) => a + p.ms, 0))), count: median(gcInStep.map((ps) => ps.length)) },
  outside: { totalMs: median(outside), forwardMs: median(outsideForward), backwardMs: median(outsideBackward), optimizerMs: median(outsideOptimizer) },
  trainSites,
  inferCount,
  inferCalls: args.inferReps,
  inferMs: median(infer),
  inferOutsideMs: median(inferOutside),
  inferSites,
};
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
process.exit(0);
