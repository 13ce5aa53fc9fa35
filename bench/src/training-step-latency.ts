import { Generator, Tensor, compile, countTypedArrays } from "@pico/core";
import { median } from "./median.js";
import { crossEntropyOneHot, oneHot } from "./one-hot-cross-entropy.js";
import { PicoNetwork } from "./pico-network.js";
import { BATCH_SIZE, IMAGE_SHAPE, MNIST_MEAN, MNIST_STD, referenceWeights } from "./reference-network.js";

// One training step of the reference network (batch 64, Adam 1e-3, cross-entropy on one-hot targets)
// two ways from the same weights on the same batches: eager (forward, loss.backward(), optimizer.step())
// and compiled (compile with backward: the captured forward and backward replayed, then the same
// optimizer.step()). Rounds alternate; medians; typed arrays created per step.

export interface TrainingStepResult {
  batch: number;
  /** Median milliseconds per step, and every round's. */
  medians: { eager: number; compiled: number };
  rounds: { eager: number[]; compiled: number[] };
  /** Typed arrays (and bytes) created per step, over `allocationSteps` steps. */
  allocations: { eager: { arrays: number; bytes: number }; compiled: { arrays: number; bytes: number } };
  allocationSteps: number;
  /** The losses of the first steps, eager and compiled, equal bit for bit when the replay is exact. */
  sameLosses: boolean;
}

export function measureTrainingStep(options: { rounds: number; steps: number; seed: number }): TrainingStepResult {
  const g = new Generator(options.seed + 7);
  const batches = Array.from({ length: 8 }, () => ({
    x: Tensor.rand([BATCH_SIZE, ...IMAGE_SHAPE], { generator: g }).sub(MNIST_MEAN).div(MNIST_STD),
    y: oneHot(Array.from({ length: BATCH_SIZE }, () => Math.floor(g.random() * 10))),
  }));
  const eager = new PicoNetwork(referenceWeights(options.seed));
  const replayed = new PicoNetwork(referenceWeights(options.seed));
  const compiled = compile(
    { call: (x: Tensor, y: Tensor) => crossEntropyOneHot(replayed.model.call(x) as Tensor, y), namedParameters: () => replayed.model.namedParameters() },
    [batches[0]!.x, batches[0]!.y],
    { backward: true },
  );
  let k = 0;
  const eagerStep = (): number => {
    const { x, y } = batches[k++ % batches.length]!;
    eager.optimizer.zeroGrad();
    const loss = crossEntropyOneHot(eager.model.call(x) as Tensor, y);
    loss.backward();
    eager.optimizer.step();
    return loss.item();
  };
  let j = 0;
  const compiledStep = (): number => {
    const { x, y } = batches[j++ % batches.length]!;
    replayed.optimizer.zeroGrad();
    const loss = compiled(x, y).item();
    replayed.optimizer.step();
    return loss;
  };
  const first = [0, 1, 2].map(() => [eagerStep(), compiledStep()] as const);
  const sameLosses = first.every(([a, b]) => Object.is(a, b));
  const steps = Math.max(1, options.steps);
  for (let i = 0; i < steps; i++) {
    eagerStep();
    compiledStep();
  }
  const rounds = { eager: [] as number[], compiled: [] as number[] };
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? (["eager", "compiled"] as const) : (["compiled", "eager"] as const);
    for (const which of order) {
      const run = which === "eager" ? eagerStep : compiledStep;
      const start = performance.now();
      for (let i = 0; i < steps; i++) run();
      rounds[which].push((performance.now() - start) / steps);
    }
  }
  const allocationSteps = 10;
  const per = (count: { arrays: number; bytes: number }) => ({ arrays: count.arrays / allocationSteps, bytes: count.bytes / allocationSteps });
  const allocations = {
    eager: per(countTypedArrays(() => { for (let i = 0; i < allocationSteps; i++) eagerStep(); })),
    compiled: per(countTypedArrays(() => { for (let i = 0; i < allocationSteps; i++) compiledStep(); })),
  };
  return { batch: BATCH_SIZE, medians: { eager: median(rounds.eager), compiled: median(rounds.compiled) }, rounds, allocations, allocationSteps, sameLosses };
}

/** The lines bench/README.md quotes. */
export function formatTrainingStep(r: TrainingStepResult): string {
  const ms = (v: number): string => v.toFixed(2);
  const kib = (b: number): string => (b / 1024).toFixed(1);
  return [
    "| training step (batch 64, Adam) | Pico eager | Pico compiled (forward + backward replayed) | compiled vs eager | typed arrays per step: eager / compiled |",
    "|---|---|---|---|---|",
    `| reference network | ${ms(r.medians.eager)} ms | ${ms(r.medians.compiled)} ms | ${(r.medians.eager / r.medians.compiled).toFixed(2)}x | ` +
      `${r.allocations.eager.arrays.toFixed(1)} (${kib(r.allocations.eager.bytes)} KiB) / ${r.allocations.compiled.arrays.toFixed(1)} (${kib(r.allocations.compiled.bytes)} KiB) |`,
    "",
    `first 3 losses equal bit for bit: ${r.sameLosses}; rounds (ms per step) eager ${r.rounds.eager.map(ms).join(" ")}, compiled ${r.rounds.compiled.map(ms).join(" ")}`,
  ].join("\n");
}
