import { Worker } from "node:worker_threads";
import { Generator, Tensor, kernels, manualSeed, tensor } from "@pico/core";
import { Adam, AdamW, Optimizer, SGD } from "@pico/optim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { Linear } from "../layers/linear.js";
import { Sequential } from "../layers/sequential.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { referenceCnn, syntheticDigits } from "../test-utils/reference-cnn.js";
import type { DataParallel } from "./data-parallel.js";
import { dataParallel } from "./node.js";
import { CALL_COUNT, CHUNK_NEXT, CHUNK_TOTAL, SEQ, SLEEPERS, STEP_OPTIMIZES, SUMS_DONE } from "./protocol.js";
import { ReplicaError } from "./replica-error.js";
import { PatientAdam } from "./test-utils/patient-adam.js";
import { SignSGD } from "./test-utils/sign-sgd.js";

// DataParallel.trainStep against forwardBackward then optimizer.step on this thread, on the same
// DataParallel and batches: the same bits. The replicas run test-utils/replica.mjs on @pico/nn's dist
// (data-parallel.test.ts checks it is current).
const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);
const start = (model: string) => () => new Worker(replicaScript, { workerData: { model }, execArgv: [] });

/** Where two lists of arrays first differ ("array i, element k"), or "none". */
function firstDifference(a: readonly Float32Array[], b: readonly Float32Array[]): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.length !== b[i]!.length) return `array ${i}: lengths ${a[i]!.length} and ${b[i]!.length}`;
    for (let k = 0; k < a[i]!.length; k++) if (!Object.is(a[i]![k], b[i]![k])) return `array ${i}, element ${k}: ${a[i]![k]} and ${b[i]![k]}`;
  }
  return "none";
}

const copies = (tensors: Iterable<Tensor>): Float32Array[] => [...tensors].map((t) => Float32Array.from(t.toTypedArray()));

function stateOf(optimizer: Optimizer): Float32Array[] {
  const state: Float32Array[] = [];
  for (const s of optimizer.state.values()) for (const v of Object.values(s)) if (typeof v !== "number") state.push(Float32Array.from(v.toTypedArray()));
  return state;
}

interface Run {
  losses: number[];
  weights: Float32Array[];
  grads: Float32Array[];
  state: Float32Array[];
  /** Commands sent per step. */
  commands: number[];
  /** Per step: whether the STEP command carried the update, and the optimizer calls it recorded. */
  inStep: boolean[];
  calls: number[];
}

describe("DataParallel.trainStep (2 replicas): forwardBackward and the optimizer's step in one command", () => {
  let dp: DataParallel;
  const model = (manualSeed(23), referenceCnn());
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  const control = (): Int32Array => (dp as unknown as { control: Int32Array }).control;

  beforeAll(async () => {
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("reference"), stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  /**
   * Three steps over batches of 15 (shards of 7 and 8) from the initial weights, through `step`; before
   * each, `clear` (the optimizer's zeroGrad unless given).
   */
  function train(optimizer: Optimizer, step: (o: Optimizer, x: Tensor, y: Tensor) => number, clear = (o: Optimizer, _s: number): void => o.zeroGrad()): Run {
    model.loadStateDict(initial);
    const run: Run = { losses: [], weights: [], grads: [], state: [], commands: [], inStep: [], calls: [] };
    for (let s = 0; s < 3; s++) {
      const { images, labels } = syntheticDigits(15, new Generator(70 + s));
      clear(optimizer, s);
      const before = control()[SEQ]!;
      run.losses.push(step(optimizer, images, labels));
      run.commands.push(control()[SEQ]! - before);
      run.inStep.push(control()[STEP_OPTIMIZES] === 1);
      run.calls.push(control()[CALL_COUNT]!);
    }
    run.weights = copies(model.parameters());
    run.grads = copies(model.parameters().map((p) => p.grad!));
    run.state = stateOf(optimizer);
    return run;
  }

  const plainStep = (o: Optimizer, x: Tensor, y: Tensor): number => {
    const { loss } = dp.forwardBackward(x, y);
    o.step();
    return loss;
  };
  const trainStep = (o: Optimizer, x: Tensor, y: Tensor): number => dp.trainStep(x, y, o).loss;

  function expectSameBits(got: Run, expected: Run): void {
    expect(got.losses).toEqual(expected.losses);
    expect(firstDifference(got.weights, expected.weights)).toBe("none");
    expect(firstDifference(got.grads, expected.grads)).toBe("none");
    expect(firstDifference(got.state, expected.state)).toBe("none");
  }

  it("gives forwardBackward and optimizer.step's bits for Adam (amsgrad, weight decay), AdamW and SGD with nesterov momentum; from the second step every call is recorded in the STEP command, the first updates after it", () => {
    const makers = [
      () => new Adam(model.parameters(), { lr: 1e-2, amsgrad: true, weightDecay: 1e-3 }),
      () => new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 }),
      () => new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true }),
    ];
    for (const make of makers) {
      const expected = train(make(), plainStep);
      const got = train(make(), trainStep);
      expectSameBits(got, expected);
      expect(got.weights[4]!.some((w, i) => w !== initial["7.weight"]!.toTypedArray()[i])).toBe(true);
      // One command a step. The first step's state is made by that step (not shared): its calls run on
      // this thread after the command; then all 8 parameters' calls, the small ones too, are recorded.
      expect(got.commands).toEqual([1, 1, 1]);
      expect(got.inStep).toEqual([true, true, true]);
      expect(got.calls).toEqual([0, 8, 8]);
    }
  });

  it("gives the same bits when the replica runs every chunk of the update (claimed while this thread still records the calls)", () => {
    const claimedAll = (c: Int32Array): boolean => Atomics.load(c, CHUNK_NEXT) === Atomics.load(c, CHUNK_TOTAL);
    // PatientAdam takes Adam's paths: split, and each .grad read without taking it (peekGradForStep).
    const probe = new PatientAdam(model.parameters(), { lr: 1e-2 }, control, claimedAll);
    expect([kernels.kernelOnlyStep(probe), kernels.stepKeepsNoGrad(probe)]).toEqual([true, true]);
    const expected = train(new Adam(model.parameters(), { lr: 1e-2, weightDecay: 1e-3 }), plainStep);
    const got = train(new PatientAdam(model.parameters(), { lr: 1e-2, weightDecay: 1e-3 }, control, claimedAll), trainStep);
    expectSameBits(got, expected);
    expect(got.inStep).toEqual([true, true, true]);
    expect(got.calls).toEqual([0, 8, 8]);
  });

  it("keeps the update in the command for an optimizer holding the model's parameters in another order, and runs step after it once the optimizer holds a parameter the model swapped for another tensor: the same bits", () => {
    const reversed = (): Adam => new Adam([...model.parameters()].reverse(), { lr: 1e-2 });
    const expected = train(reversed(), plainStep);
    const got = train(reversed(), trainStep);
    expectSameBits(got, expected);
    expect(got.inStep).toEqual([true, true, true]);
    expect(got.calls).toEqual([0, 8, 8]);
    // From step 2 the last layer's weight is a new tensor (same shape and values); the optimizer still
    // holds the old one, which no longer gets a gradient.
    const head = (model as Sequential).at(9) as Linear;
    const original = head.weight;
    const run = (fused: boolean): { values: Float32Array[]; state: Float32Array[]; inStep: boolean[] } => {
      model.loadStateDict(initial);
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      const inStep: boolean[] = [];
      try {
        for (let s = 0; s < 3; s++) {
          if (s === 1) head.weight = new Parameter(original.clone());
          const { images, labels } = syntheticDigits(15, new Generator(70 + s));
          model.zeroGrad();
          if (fused) dp.trainStep(images, labels, adam);
          else {
            dp.forwardBackward(images, labels);
            adam.step();
          }
          inStep.push(control()[STEP_OPTIMIZES] === 1);
        }
        return { values: copies([original, ...model.parameters()]), state: stateOf(adam), inStep };
      } finally {
        head.weight = original;
      }
    };
    const plain = run(false);
    const fused = run(true);
    expect(firstDifference(fused.values, plain.values)).toBe("none");
    expect(firstDifference(fused.state, plain.state)).toBe("none");
    expect(fused.inStep).toEqual([true, false, false]);
  });

  it("runs step after the command for a user's optimizer, under a custom optimizer kernel, and when a .grad holds memory of its own; a .grad accumulated in the shared block stays in the command: the same bits", () => {
    const own = { plain: train(new SignSGD(model.parameters(), { lr: 1e-3 }), plainStep), fused: train(new SignSGD(model.parameters(), { lr: 1e-3 }), trainStep) };
    expectSameBits(own.fused, own.plain);
    expect(own.fused.inStep).toEqual([false, false, false]);
    const family = kernels.optimizerKernels;
    family.override(kernels.optimizerJs);
    try {
      const expected = train(new Adam(model.parameters(), { lr: 1e-2 }), plainStep);
      const got = train(new Adam(model.parameters(), { lr: 1e-2 }), trainStep);
      expectSameBits(got, expected);
      expect(got.inStep).toEqual([false, false, false]);
      expect(got.commands).toEqual([1, 1, 1]);
    } finally {
      family.override(null);
    }
    // Step 2 starts from .grads of memory of their own (copies): the sum is added to them after the
    // command, and the update follows it, on this thread (those gradients are not in shared memory).
    const copiesOfGrads = (o: Optimizer, s: number): void => {
      if (s !== 1) return o.zeroGrad();
      for (const p of model.parameters()) p.grad = p.grad!.clone();
    };
    const ownGrads = { plain: train(new Adam(model.parameters(), { lr: 1e-2 }), plainStep, copiesOfGrads), fused: train(new Adam(model.parameters(), { lr: 1e-2 }), trainStep, copiesOfGrads) };
    expectSameBits(ownGrads.fused, ownGrads.plain);
    expect(ownGrads.fused.inStep).toEqual([true, false, true]);
    expect(ownGrads.fused.commands).toEqual([1, 1, 1]);
    // Step 3 accumulates onto step 2's .grads, the shared block: within the command.
    const accumulate = (o: Optimizer, s: number): void => {
      if (s !== 2) o.zeroGrad();
    };
    const accumulated = { plain: train(new Adam(model.parameters(), { lr: 1e-2 }), plainStep, accumulate), fused: train(new Adam(model.parameters(), { lr: 1e-2 }), trainStep, accumulate) };
    expectSameBits(accumulated.fused, accumulated.plain);
    expect(accumulated.fused.inStep).toEqual([true, true, true]);
    expect(accumulated.fused.calls).toEqual([0, 8, 8]);
  });

  it("runs step after the command for an optimizer that also steps a tensor other than the model's (a transposed view, updated through a copy written back at once): the same bits (REVIEW-1-s17 M1)", () => {
    const run = (fused: boolean, make: (params: Tensor[]) => Optimizer): { values: Float32Array[]; inStep: boolean[] } => {
      model.loadStateDict(initial);
      const base = tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]);
      const strided = new Tensor(base.data.transpose(1, 0), { requiresGrad: true });
      const opt = make([...model.parameters(), strided]);
      const inStep: boolean[] = [];
      for (let s = 0; s < 3; s++) {
        const { images, labels } = syntheticDigits(15, new Generator(70 + s));
        opt.zeroGrad();
        strided.grad = tensor(Array.from({ length: 4 }, () => [1, -1, 0.5]));
        if (fused) dp.trainStep(images, labels, opt);
        else {
          dp.forwardBackward(images, labels);
          opt.step();
        }
        inStep.push(control()[STEP_OPTIMIZES] === 1);
      }
      return { values: copies([strided, ...model.parameters()]), inStep };
    };
    for (const make of [(p: Tensor[]) => new Adam(p, { lr: 0.1 }), (p: Tensor[]) => new SGD(p, { lr: 0.1, momentum: 0.9 })]) {
      const plain = run(false, make);
      const fused = run(true, make);
      expect(firstDifference(fused.values, plain.values)).toBe("none");
      expect(Array.from(fused.values[0]!)).not.toEqual([1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12]);
      expect(fused.inStep).toEqual([false, false, false]);
    }
  });

  it("gives each step's gradients back to core's buffer pool once summed: after the first step no new array of fc1's weight gradient's size", () => {
    model.loadStateDict(initial);
    const adam = new Adam(model.parameters(), { lr: 1e-2 });
    const fc1 = model.parameters()[4]!.size;
    const lengths: number[] = [];
    const original = globalThis.Float32Array;
    globalThis.Float32Array = new Proxy(original, {
      construct(target, args, newTarget) {
        const made = Reflect.construct(target, args, newTarget === globalThis.Float32Array ? target : newTarget) as Float32Array;
        if (!(args[0] instanceof ArrayBuffer) && !(args[0] instanceof SharedArrayBuffer)) lengths.push(made.length);
        return made;
      },
    });
    const made: number[] = [];
    try {
      for (let s = 0; s < 4; s++) {
        const { images, labels } = syntheticDigits(15, new Generator(70 + s));
        adam.zeroGrad();
        lengths.length = 0;
        if (s % 2 === 0) dp.trainStep(images, labels, adam);
        else {
          dp.forwardBackward(images, labels);
          dp.step(adam);
        }
        made.push(lengths.filter((n) => n === fc1).length);
      }
    } finally {
      globalThis.Float32Array = original;
    }
    // The first step makes the gradient (and Adam's two moments); later steps take the pooled one.
    expect(made[0]).toBeGreaterThan(0);
    expect(made.slice(1)).toEqual([0, 0, 0]);
  });

  it("refuses what is not an optimizer; an optimizer that throws has its updates before the throw completed, its error rethrown, and the set keeps working", () => {
    const { images, labels } = syntheticDigits(15, new Generator(80));
    expect(() => dp.trainStep(images, labels, null as never)).toThrow(
      "DataParallel.trainStep: optimizer must be an optimizer (an object with step()), such as @pico/optim's Adam, but got null",
    );
    const adam = new Adam(model.parameters(), { lr: 1e-2 });
    train(adam, trainStep);
    const broken = new (class Broken {
      static splittableStep = true;
      get paramGroups(): Adam["paramGroups"] {
        return adam.paramGroups;
      }
      step(): void {
        adam.step();
        throw new RangeError("broken: after the update");
      }
    })();
    const weights = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
    const state = adam.stateDict();
    adam.zeroGrad();
    expect(() => dp.trainStep(images, labels, broken)).toThrow(new RangeError("broken: after the update"));
    expect(control()[CALL_COUNT]).toBe(8);
    const fused = copies(model.parameters());
    model.loadStateDict(weights);
    adam.loadStateDict(state);
    adam.zeroGrad();
    dp.forwardBackward(images, labels);
    expect(() => broken.step()).toThrow(new RangeError("broken: after the update"));
    expect(firstDifference(fused, copies(model.parameters()))).toBe("none");
    adam.zeroGrad();
    expect(Number.isFinite(dp.trainStep(images, labels, adam).loss)).toBe(true);
  });
});

describe("DataParallel.trainStep on threads that sleep instead of polling (polls: 0)", () => {
  it("gives forwardBackward and optimizer.step's bits: a thread asleep for the next call or the sums is woken; no sleeper is left counted", async () => {
    const model = (manualSeed(26), referenceCnn());
    const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("reference"), stepTimeoutMs: 30_000, polls: 0 });
    const control = (dp as unknown as { control: Int32Array }).control;
    try {
      const run = (fused: boolean): { losses: number[]; weights: Float32Array[]; state: Float32Array[] } => {
        model.loadStateDict(initial);
        const adam = new Adam(model.parameters(), { lr: 1e-2 });
        const losses: number[] = [];
        for (let s = 0; s < 4; s++) {
          const { images, labels } = syntheticDigits(15, new Generator(50 + s));
          adam.zeroGrad();
          if (fused) losses.push(dp.trainStep(images, labels, adam).loss);
          else {
            losses.push(dp.forwardBackward(images, labels).loss);
            adam.step();
          }
        }
        return { losses, weights: copies(model.parameters()), state: stateOf(adam) };
      };
      const plain = run(false);
      const fused = run(true);
      expect(fused.losses).toEqual(plain.losses);
      expect(firstDifference(fused.weights, plain.weights)).toBe("none");
      expect(firstDifference(fused.state, plain.state)).toBe("none");
      expect(control[STEP_OPTIMIZES]).toBe(1);
      expect(control[SUMS_DONE]).toBe(2);
      expect(control[SLEEPERS]).toBe(0);
    } finally {
      await dp.close();
    }
  });
});

describe("DataParallel.trainStep on 3 replicas claiming chunks of the batch (chunkRows 4)", () => {
  it("gives forwardBackward and optimizer.step's bits: every thread's sum in before any update's chunk is claimed", async () => {
    const model = (manualSeed(27), referenceCnn());
    const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 3, worker: start("reference"), stepTimeoutMs: 30_000, chunkRows: 4, polls: 1000 });
    const control = (dp as unknown as { control: Int32Array }).control;
    try {
      const run = (fused: boolean): { losses: number[]; weights: Float32Array[]; state: Float32Array[] } => {
        model.loadStateDict(initial);
        const sgd = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
        const losses: number[] = [];
        for (let s = 0; s < 3; s++) {
          const { images, labels } = syntheticDigits(15, new Generator(40 + s));
          sgd.zeroGrad();
          if (fused) losses.push(dp.trainStep(images, labels, sgd).loss);
          else {
            losses.push(dp.forwardBackward(images, labels).loss);
            sgd.step();
          }
        }
        return { losses, weights: copies(model.parameters()), state: stateOf(sgd) };
      };
      const plain = run(false);
      const fused = run(true);
      expect(dp.lastSplit).toEqual({ mode: "chunks", bounds: [0, 3, 7, 11, 15] });
      expect(fused.losses).toEqual(plain.losses);
      expect(firstDifference(fused.weights, plain.weights)).toBe("none");
      expect(firstDifference(fused.state, plain.state)).toBe("none");
      expect(control[STEP_OPTIMIZES]).toBe(1);
      expect(control[SUMS_DONE]).toBe(3);
      expect(control[SLEEPERS]).toBe(0);
    } finally {
      await dp.close();
    }
  });
});

describe("DataParallel.trainStep with a replica that fails", () => {
  /**
   * Two good trainSteps (Adam) of `model` on 2 replicas running `worker`, batches of `rows`, then one of a
   * batch of `failRows` that must fail as a ReplicaError of replica 1 with `message`, leaving the weights,
   * Adam's arrays and .grad (null after zeroGrad) as they were; the next step trains. Returns CALL_COUNT,
   * the error's optimizerStepped and Adam's step counts (one per parameter) right after the failure.
   */
  async function expectFailedStep(model: Module, worker: string, rows: number, failRows: number, seed: number, message: string): Promise<{ calls: number; stepped: boolean; steps: number[] }> {
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start(worker), stepTimeoutMs: 30_000 });
    try {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      for (let s = 0; s < 2; s++) {
        const { images, labels } = syntheticDigits(rows, new Generator(seed + s));
        adam.zeroGrad();
        dp.trainStep(images, labels, adam);
      }
      const weights = copies(model.parameters());
      const state = stateOf(adam);
      adam.zeroGrad();
      const { images, labels } = syntheticDigits(failRows, new Generator(seed + 2));
      let error: unknown = null;
      try {
        dp.trainStep(images, labels, adam);
      } catch (e) {
        error = e;
      }
      const calls = (dp as unknown as { control: Int32Array }).control[CALL_COUNT]!;
      const steps = [...adam.state.values()].map((s) => s.step as number);
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as ReplicaError).replica).toBe(1);
      expect((error as Error).message).toBe(message);
      expect(firstDifference(copies(model.parameters()), weights)).toBe("none");
      for (const p of model.parameters()) expect(p.grad).toBeNull();
      expect(firstDifference(stateOf(adam), state)).toBe("none");
      const next = syntheticDigits(rows, new Generator(seed + 3));
      adam.zeroGrad();
      expect(Number.isFinite(dp.trainStep(next.images, next.labels, adam).loss)).toBe(true);
      expect(firstDifference(copies(model.parameters()), weights)).not.toBe("none");
      return { calls, stepped: (error as ReplicaError).optimizerStepped, steps };
    } finally {
      await dp.close();
    }
  }

  it("a throw in a replica's shard leaves the weights, the optimizer's state and .grad (null after zeroGrad) as they were, as a ReplicaError naming it", async () => {
    const model = (manualSeed(24), new Sequential(new (class Marker extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    })(), referenceCnn()));
    // The failing batch has 7 rows: the replica's shard has 4, on which its model throws.
    const { stepped, steps } = await expectFailedStep(model, "bomb", 6, 7, 90, "DataParallel.trainStep: replica 1 (a worker) failed on its shard: RangeError: bomb: a shard of 4 rows");
    expect(stepped).toBe(false);
    expect(new Set(steps)).toEqual(new Set([2]));
  });

  it("a replica whose gradient sum throws fails the step before the update: no thread updates a slice (none with a stale gradient), the weights, the optimizer's arrays and .grad stay as they were (REVIEW-1-s18 M1), and the ReplicaError says optimizer.step() had run", async () => {
    // The replica's third sum throws, once the update's calls are recorded (the second step recorded them all).
    const { calls, stepped, steps } = await expectFailedStep((manualSeed(28), referenceCnn()), "sum-fails", 16, 16, 30,
      "DataParallel.trainStep: replica 1 (a worker) failed in its sum of the shards' gradients: RangeError: sum-fails: the third sum refused (no parameter and no optimizer state array was updated, but optimizer.step() had run: counters it keeps, such as Adam's step count, advanced)",
    );
    expect(calls).toBe(8);
    // optimizer.step() had run (REVIEW-2-s18 M1): the error says so, and Adam counted the failed step once.
    expect(stepped).toBe(true);
    expect(new Set(steps)).toEqual(new Set([3]));
  });

  it("a replica whose gradient sum throws after this thread stopped waiting for the sums fails as one in its sum, as at once (REVIEW-2-s18 L1)", async () => {
    const model = (manualSeed(29), referenceCnn());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("late-sum-fails"), stepTimeoutMs: 30_000 });
    try {
      const adam = new Adam(model.parameters(), { lr: 1e-2 });
      const weights = copies(model.parameters());
      const { images, labels } = syntheticDigits(16, new Generator(70));
      adam.zeroGrad();
      let error: unknown = null;
      try {
        dp.trainStep(images, labels, adam);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as Error).message).toBe(
        "DataParallel.trainStep: replica 1 (a worker) failed in its sum of the shards' gradients: RangeError: late-sum-fails: the first sum refused (no parameter and no optimizer state array was updated, but optimizer.step() had run: counters it keeps, such as Adam's step count, advanced)",
      );
      expect((error as ReplicaError).optimizerStepped).toBe(true);
      expect(firstDifference(copies(model.parameters()), weights)).toBe("none");
      for (const p of model.parameters()) expect(p.grad).toBeNull();
    } finally {
      await dp.close();
    }
  });

  it("a replica whose optimizer kernel throws fails the step as one in its part of the optimizer step", async () => {
    const model = (manualSeed(25), referenceCnn());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("bad-kernel"), stepTimeoutMs: 30_000 });
    try {
      // The replica claims the first call's first chunk before this thread records the next (this thread claims none while it records).
      const control = (): Int32Array => (dp as unknown as { control: Int32Array }).control;
      const adam = new PatientAdam(model.parameters(), { lr: 1e-2 }, control, (c) => Atomics.load(c, CHUNK_TOTAL) === 0 || Atomics.load(c, CHUNK_NEXT) > 0);
      const messages: string[] = [];
      for (let s = 0; s < 2; s++) {
        const { images, labels } = syntheticDigits(6, new Generator(60 + s));
        adam.zeroGrad();
        try {
          dp.trainStep(images, labels, adam);
        } catch (error) {
          messages.push((error as Error).message);
        }
      }
      // The first step's update runs on this thread (its state is made by it); the second's on both.
      expect(messages).toEqual([
        "DataParallel.trainStep: replica 1 (a worker) failed in its part of the optimizer step: RangeError: bad kernel: adam refused (the optimizer step is incomplete: the parameters were partly updated)",
      ]);
    } finally {
      await dp.close();
    }
  });
});
