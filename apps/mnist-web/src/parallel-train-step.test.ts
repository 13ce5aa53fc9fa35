import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ArgumentError, PicoError, type Tensor, defaultGenerator, kernels, manualSeed, noGrad, tensor } from "@pico/core";
import { CrossEntropyLoss, type Module } from "@pico/nn";
import { type DataParallel, ReplicaError, dataParallel } from "@pico/nn/data-parallel";
import { Adam } from "@pico/optim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildModel } from "./models.js";
import { FailedBeforeGradientsError, FailedInUpdateError, parallelTrainStep } from "./parallel-train-step.js";

const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);
// @pico/nn's own test replica, by its path (no public entry point makes a gradient sum fail; its header
// names this use): its "sum-fails" model is the reference network (lenet) whose gradient sum throws in its third step.
const nnReplicaScript = new URL("../../../packages/nn/src/data-parallel/test-utils/replica.mjs", import.meta.url);

function batch(rows: number, targetRows = rows): [Tensor, Tensor] {
  const x = tensor(Float32Array.from({ length: rows * 28 * 28 }, () => defaultGenerator.normal()), { shape: [rows, 1, 28, 28] });
  const y = tensor(Float32Array.from({ length: targetRows }, (_, i) => (i * 7) % 10), { shape: [targetRows] });
  return [x, y];
}

const copies = (tensors: readonly Tensor[]): Float32Array[] => tensors.map((t) => Float32Array.from(t.toTypedArray()));

/** The error `run` throws (fails the test when it throws none). */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

/**
 * A step on `failing` (a batch) that must fail before its gradient is in: FailedBeforeGradientsError naming
 * its cause, the weights, `adam`'s state and every .grad as they were, and the next step trains (the weights
 * change). Returns the cause.
 */
function expectFailedBefore(dp: DataParallel, adam: Adam, parameters: readonly Tensor[], failing: [Tensor, Tensor]): unknown {
  adam.zeroGrad();
  const weights = copies(parameters);
  const state = JSON.stringify(adam.stateDict().state);
  const error = thrown(() => parallelTrainStep(dp, ...failing, adam, parameters));
  expect(error).toBeInstanceOf(FailedBeforeGradientsError);
  expect(error).toBeInstanceOf(PicoError);
  expect((error as Error).name).toBe("FailedBeforeGradientsError");
  const cause = (error as Error).cause;
  expect((error as Error).message).toBe(`mnist-web parallelTrainStep: the step failed before its gradient was in, and left the model as it was: ${(cause as Error).message}`);
  expect(copies(parameters)).toStrictEqual(weights);
  expect(parameters.every((p) => p.grad === null)).toBe(true);
  expect(JSON.stringify(adam.stateDict().state)).toBe(state);
  expect(parallelTrainStep(dp, ...batch(16), adam, parameters)).toBeGreaterThan(0);
  expect(copies(parameters)).not.toStrictEqual(weights);
  return cause;
}

/**
 * A seeded lenet in training mode, Adam over its parameters, and a DataParallel of it on 2 replicas, each a
 * Worker running `script` with the model `replicaModel`.
 */
async function lenetOnReplicas(seed: number, script: URL, replicaModel: string): Promise<{ model: Module; parameters: Tensor[]; adam: Adam; dp: DataParallel }> {
  manualSeed(seed);
  const model = buildModel("lenet");
  const parameters = model.parameters();
  const adam = new Adam(parameters, { lr: 1e-3 });
  const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: () => new Worker(script, { workerData: { model: replicaModel }, execArgv: [] }), stepTimeoutMs: 30_000 });
  model.train();
  return { model, parameters, adam, dp };
}

describe("mnist-web parallelTrainStep on 2 replicas of lenet", () => {
  let model: Module;
  let parameters: Tensor[];
  let adam: Adam;
  let dp: DataParallel;

  beforeAll(async () => {
    const dist = fileURLToPath(new URL("../../../packages/nn/dist/data-parallel/node.js", import.meta.url));
    if (!existsSync(dist)) throw new Error("the replicas load @pico/nn's dist, which is missing: run `pnpm turbo run build --filter=@pico/nn...` first");
    ({ model, parameters, adam, dp } = await lenetOnReplicas(31, replicaScript, "lenet"));
  });
  afterAll(async () => dp?.close());

  it("returns dp.trainStep's loss (forwardBackward's on the same weights and batch, and within float32 rounding a plain forward's on this thread) and leaves the batch's gradient in .grad", () => {
    const criterion = new CrossEntropyLoss();
    for (let s = 0; s < 2; s++) {
      const [x, y] = batch(16);
      const weights = copies(parameters);
      adam.zeroGrad();
      const expected = dp.forwardBackward(x, y).loss;
      const plain = noGrad(() => criterion.forward(model.forward(x) as Tensor, y).item());
      adam.zeroGrad();
      const loss = parallelTrainStep(dp, x, y, adam, parameters);
      expect(loss).toBe(expected);
      expect(Math.abs(loss - plain)).toBeLessThan(1e-5 * Math.abs(plain));
      expect(parameters.every((p) => p.grad !== null)).toBe(true);
      expect(copies(parameters)).not.toStrictEqual(weights);
    }
  });

  it("a step that fails before its gradient is in (the targets' rows) throws FailedBeforeGradientsError, its cause DataParallel's error, the model as it was; the next step trains", () => {
    const cause = expectFailedBefore(dp, adam, parameters, batch(16, 15));
    expect(cause).toBeInstanceOf(ArgumentError);
    expect((cause as Error).message).toBe("DataParallel.trainStep: target must have the input's 16 rows along axis 0 (and at most 8 dimensions), but got shape [15]");
  });

  it("a step whose optimizer throws in its update throws FailedInUpdateError with the optimizer's error as its cause", () => {
    // An Adam of its own whose step throws once its update is done; split and reading each .grad without taking it, as Adam.
    class ThrowingAdam extends Adam {
      static override splittableStep = true;
      static override stepKeepsNoGrad = true;
      override step<T>(closure?: () => T): T | undefined {
        super.step(closure);
        throw new RangeError("broken: after the update");
      }
    }
    const broken = new ThrowingAdam(parameters, { lr: 1e-3 });
    expect([kernels.kernelOnlyStep(broken), kernels.stepKeepsNoGrad(broken)]).toEqual([kernels.kernelOnlyStep(adam), kernels.stepKeepsNoGrad(adam)]);
    adam.zeroGrad();
    const error = thrown(() => parallelTrainStep(dp, ...batch(16), broken, parameters));
    expect(error).toBeInstanceOf(FailedInUpdateError);
    expect(error).not.toBeInstanceOf(FailedBeforeGradientsError);
    expect((error as Error).cause).toStrictEqual(new RangeError("broken: after the update"));
    expect((error as Error).message).toBe("mnist-web parallelTrainStep: the step failed once optimizer.step() had run: broken: after the update");
    expect(parameters.every((p) => p.grad !== null)).toBe(true);
  });

  it("refuses a step with a .grad left from before (it could not tell a failure before the gradient from one after), running nothing", () => {
    adam.zeroGrad();
    const grad = tensor(new Float32Array(parameters[2]!.size).fill(0.5), { shape: parameters[2]!.shape });
    parameters[2]!.grad = grad;
    const weights = copies(parameters);
    const error = thrown(() => parallelTrainStep(dp, ...batch(16), adam, parameters));
    expect(error).toBeInstanceOf(ArgumentError);
    expect((error as Error).message).toBe("mnist-web parallelTrainStep: every parameter's .grad must be null before the step (zeroGrad()), but parameter 2's is not");
    expect(copies(parameters)).toStrictEqual(weights);
    expect(parameters[2]!.grad).toBe(grad);
    expect(Array.from(grad.toTypedArray())).toStrictEqual(new Array<number>(grad.size).fill(0.5));
  });
});

describe("mnist-web parallelTrainStep with a replica that throws in its shard", () => {
  it("throws FailedBeforeGradientsError with the replica's ReplicaError as its cause, the weights, the optimizer's state and every .grad as they were; the next step trains", async () => {
    const { parameters, adam, dp } = await lenetOnReplicas(32, replicaScript, "lenet-bomb");
    try {
      adam.zeroGrad();
      parallelTrainStep(dp, ...batch(16), adam, parameters);
      // A batch of 7: the replica's shard has 4 rows, on which its model throws.
      const cause = expectFailedBefore(dp, adam, parameters, batch(7));
      expect(cause).toBeInstanceOf(ReplicaError);
      expect((cause as ReplicaError).replica).toBe(1);
      expect((cause as Error).message).toBe("DataParallel.trainStep: replica 1 (a worker) failed on its shard: RangeError: bomb: a shard of 4 rows");
    } finally {
      await dp.close();
    }
  });
});

describe("mnist-web parallelTrainStep with a replica whose gradient sum throws", () => {
  it("throws FailedInUpdateError (the step is not run again): optimizer.step() had run, so Adam counted the step once though no weight changed (REVIEW-2-s18 M1)", async () => {
    const { parameters, adam, dp } = await lenetOnReplicas(33, nnReplicaScript, "sum-fails");
    try {
      for (let s = 0; s < 2; s++) {
        adam.zeroGrad();
        parallelTrainStep(dp, ...batch(16), adam, parameters);
      }
      adam.zeroGrad();
      const weights = copies(parameters);
      // The replica's third sum throws, once this thread has recorded the update (optimizer.step() ran).
      const error = thrown(() => parallelTrainStep(dp, ...batch(16), adam, parameters));
      expect(error).toBeInstanceOf(FailedInUpdateError);
      expect(error).not.toBeInstanceOf(FailedBeforeGradientsError);
      const cause = (error as Error).cause;
      expect(cause).toBeInstanceOf(ReplicaError);
      expect((cause as ReplicaError).optimizerStepped).toBe(true);
      expect((error as Error).message).toBe(`mnist-web parallelTrainStep: the step failed once optimizer.step() had run: ${(cause as Error).message}`);
      expect(copies(parameters)).toStrictEqual(weights);
      expect(parameters.every((p) => p.grad === null)).toBe(true);
      // Three steps, each counted once (the page runs a FailedBeforeGradientsError's step again: 4 then).
      expect(new Set(Object.values(adam.stateDict().state).map((s) => (s as { step: number }).step))).toEqual(new Set([3]));
    } finally {
      await dp.close();
    }
  });
});
