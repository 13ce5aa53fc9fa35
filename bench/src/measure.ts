import { warmupDone } from "./steady-warmup.js";
import type { Batch, Workload } from "./workload.js";
import { imageSize, trainBatch } from "./workload.js";

/** What the benchmark needs from a framework: the workload's network, loaded with its weights. */
export interface BenchSystem {
  /** Mean cross-entropy of a batch, without training (in eval mode where the network has BatchNorm). */
  loss(batch: Batch): number;
  /** One optimiser step on a batch, finished when it returns; the batch's loss before the step. */
  trainStep(batch: Batch): number;
  /** Logits [count, 10] for `count` NCHW images (eval mode), in JavaScript memory. */
  predict(images: Float32Array, count: number): Float32Array;
}

export interface MeasureOptions {
  /** Untimed training steps at least; the loss check's step. */
  warmupSteps: number;
  /**
   * Warm-up steps at most (>= warmupSteps): past warmupSteps, windows of trainSteps steps until the step
   * time is steady (see steady-warmup.ts). Equal to warmupSteps (the default): a fixed warm-up.
   */
  maxWarmupSteps?: number;
  /**
   * Past warmupSteps the windows go on, steady or not, until this many steps have run (default: warmupSteps;
   * see steady-warmup.ts for why); the caps (maxWarmupSteps, maxWarmupSeconds) still stop them.
   */
  settleSteps?: number;
  /** The steady rule's windows stop once they have taken this many seconds (default: no limit). */
  maxWarmupSeconds?: number;
  /** Timed training steps at least (also the warm-up windows' length). */
  trainSteps: number;
  /** Images per inference call (at most the workload's inference batch). */
  inferCount: number;
  /** Timed inference calls at least. */
  inferReps: number;
  /**
   * Each timed part goes on past trainSteps steps or inferReps calls, whole steps and calls, until it has
   * taken this many seconds (default 0: exactly trainSteps and inferReps).
   */
  minTimedSeconds?: number;
}

export interface Measurement {
  /** Loss on the first training batch from the initial weights. */
  firstLoss: number;
  /** Loss on the first training batch after all warm-up and timed steps. */
  lossAfterTraining: number;
  /** Loss on the first training batch after exactly `warmupSteps` steps: the same step for every system. */
  lossAfterWarmup: number;
  /** Warm-up steps taken (warmupSteps, plus the windows the steady rule added). */
  warmupSteps: number;
  /** Images per second of each warm-up window past warmupSteps (trainSteps steps each). */
  warmupWindows: number[];
  /** The loss of every training step (warm-up and timed), in order. */
  stepLosses: number[];
  /** Timed training steps taken (at least the options' trainSteps). */
  trainSteps: number;
  trainImages: number;
  trainSeconds: number;
  trainImagesPerSec: number;
  /** User + system CPU time of the whole process (all threads) during the timed steps. */
  trainCpuSeconds: number;
  inferCount: number;
  /** Timed inference calls made (at least the options' inferReps). */
  inferReps: number;
  inferSeconds: number;
  inferImagesPerSec: number;
  inferCpuSeconds: number;
  /** Peak resident set size of the process up to the end of training, in MB. */
  peakRssTrainMB: number;
  /** Peak resident set size of the whole run, inference included, in MB. */
  peakRssMB: number;
  /** Sum of the logits of the last inference call, so that it cannot be skipped. */
  inferChecksum: number;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/**
 * Runs `body` `count` times at least, and on until `seconds` have passed since it began (torch-worker.py's
 * repeat_timed is the same rule); returns how many times it ran and what the last run returned.
 */
function repeatTimed<T>(count: number, seconds: number, body: () => T): { runs: number; last: T | undefined } {
  const start = performance.now();
  let runs = 0;
  let last: T | undefined;
  while (runs < count || performance.now() - start < seconds * 1000) {
    last = body();
    runs++;
  }
  return { runs, last };
}

function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Loss check, then warm-up steps (at least warmupSteps, then until steady and settleSteps, or a cap) and timed
 * steps on the workload's batches in order (starting over after the last one), then one untimed and
 * `inferReps` timed inference calls; each timed part lasting at least minTimedSeconds.
 */
export function measure(system: BenchSystem, workload: Workload, options: MeasureOptions): Measurement {
  const { warmupSteps, trainSteps, inferCount, inferReps } = options;
  const minTimedSeconds = options.minTimedSeconds ?? 0;
  const maxWarmupSteps = options.maxWarmupSteps ?? warmupSteps;
  const maxWarmupSeconds = options.maxWarmupSeconds ?? Infinity;
  const settleSteps = options.settleSteps ?? warmupSteps;
  if (inferCount > workload.inferBatch || inferCount < 1) {
    throw new RangeError(`measure: inferCount must be in [1, ${workload.inferBatch}], but got ${inferCount}`);
  }
  if (!(minTimedSeconds >= 0 && Number.isFinite(minTimedSeconds))) {
    throw new RangeError(`measure: minTimedSeconds must be a non-negative number of seconds, but got ${minTimedSeconds}`);
  }
  if (maxWarmupSteps < warmupSteps) {
    throw new RangeError(`measure: maxWarmupSteps must be at least warmupSteps (${warmupSteps}), but got ${maxWarmupSteps}`);
  }
  const first = trainBatch(workload, 0);
  const firstLoss = system.loss(first);

  const stepLosses: number[] = [];
  const batch = (step: number): Batch => trainBatch(workload, step % workload.numBatches);
  let step = 0;
  const train = (): void => {
    stepLosses.push(system.trainStep(batch(step)));
    step++;
  };
  while (step < warmupSteps) train();
  const lossAfterWarmup = system.loss(first);
  const windowSeconds: number[] = [];
  const warmupStart = performance.now();
  while (step + trainSteps <= maxWarmupSteps && (performance.now() - warmupStart) / 1000 < maxWarmupSeconds && !warmupDone(step, settleSteps, windowSeconds)) {
    const start = performance.now();
    for (let i = 0; i < trainSteps; i++) train();
    windowSeconds.push((performance.now() - start) / 1000);
  }
  const warmedUp = step;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const timedSteps = repeatTimed(trainSteps, minTimedSeconds, train).runs;
  const trainSeconds = (performance.now() - t0) / 1000;
  const trainCpuSeconds = cpuSecondsSince(c0);
  const peakTrain = peakRssMB();
  const lossAfterTraining = system.loss(first);

  const images = workload.inferImages.subarray(0, inferCount * imageSize(workload));
  system.predict(images, inferCount);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  const { runs: timedCalls, last: logits } = repeatTimed(inferReps, minTimedSeconds, () => system.predict(images, inferCount));
  const inferSeconds = (performance.now() - t1) / 1000;
  const inferCpuSeconds = cpuSecondsSince(c1);
  let checksum = 0;
  for (const v of logits ?? []) checksum += v;
  const trainImages = timedSteps * workload.batchSize;
  return {
    firstLoss,
    lossAfterTraining,
    lossAfterWarmup,
    warmupSteps: warmedUp,
    warmupWindows: windowSeconds.map((seconds) => (trainSteps * workload.batchSize) / seconds),
    stepLosses,
    trainSteps: timedSteps,
    trainImages,
    trainSeconds,
    trainImagesPerSec: trainImages / trainSeconds,
    trainCpuSeconds,
    inferCount,
    inferReps: timedCalls,
    inferSeconds,
    inferImagesPerSec: (inferCount * timedCalls) / inferSeconds,
    inferCpuSeconds,
    peakRssTrainMB: peakTrain,
    peakRssMB: peakRssMB(),
    inferChecksum: checksum,
  };
}
