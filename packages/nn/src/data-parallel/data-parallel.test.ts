import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Generator, Tensor, manualSeed, noGrad, tensor } from "@pico/core";
import { Adam, SGD } from "@pico/optim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchNorm1d } from "../layers/batch-norm1d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { Dropout } from "../layers/dropout.js";
import * as init from "../init.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { Tanh } from "../layers/tanh.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { Module } from "../module.js";
import { Parameter } from "../parameter.js";
import { referenceCnn, syntheticDigits } from "../test-utils/reference-cnn.js";
import type { DataParallel } from "./data-parallel.js";
import { dataParallel } from "./node.js";
import { DATA_BUFFER, INPUT_BUFFER, STAGED_BUFFER, TARGET_BUFFER } from "./protocol.js";
import { ReplicaError } from "./replica-error.js";

// The replicas run test-utils/replica.mjs in worker threads, on @pico/nn's built dist; a step that a bug
// leaves unanswered fails after stepTimeoutMs instead of blocking the test run.
const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);
const start = (model: string) => () => new Worker(replicaScript, { workerData: { model }, execArgv: [] });

function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? (e.name === "test-utils" ? 0 : newest(join(dir, e.name))) : e.name.endsWith(".test.ts") ? 0 : statSync(join(dir, e.name)).mtimeMs)));
}

beforeAll(() => {
  const dist = fileURLToPath(new URL("../../dist/data-parallel/node.js", import.meta.url));
  const src = fileURLToPath(new URL(".", import.meta.url));
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest(src)) {
    throw new Error("the data-parallel replicas load @pico/nn's dist, which is missing or older than src/data-parallel: run `pnpm turbo run build --filter=@pico/nn...` first");
  }
});

function values(model: Module): number[][] {
  return model.parameters().map((p) => Array.from(p.toTypedArray()));
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((xs, i) => xs.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i]![j]!)))));
  return m;
}

/** Three Adam steps of the reference network over batches of 15 (shards of 7 and 8); the losses and the weights after. */
/** A training step's forward, cross-entropy loss and backward on one process: what DataParallel must equal. */
function oneProcessStep(): (model: Module, x: Tensor, y: Tensor) => number {
  const lossFn = new CrossEntropyLoss();
  return (model, x, y) => {
    const loss = lossFn.forward(model.forward(x) as Tensor, y);
    loss.backward();
    return loss.item();
  };
}

function train(step: (model: Module, x: Tensor, y: Tensor) => number, model: Module): { losses: number[]; weights: number[][] } {
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const { images, labels } = syntheticDigits(15, new Generator(100 + s));
    opt.zeroGrad();
    losses.push(step(model, images, labels));
    opt.step();
  }
  return { losses, weights: values(model) };
}

describe("DataParallel with worker_threads (2 replicas)", () => {
  let dp: DataParallel;
  const model = (manualSeed(7), referenceCnn());
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  beforeAll(async () => {
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("reference"), stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  it("trains as one process does: losses and weights over 3 Adam steps to float32 rounding, the same bits on a second run", () => {
    const single = referenceCnn();
    single.loadStateDict(initial);
    const expected = train(oneProcessStep(), single);
    const parallel = () => {
      model.loadStateDict(initial);
      return train((_, x, y) => dp.forwardBackward(x, y).loss, model);
    };
    const first = parallel();
    first.losses.forEach((l, i) => expect(l).toBeCloseTo(expected.losses[i]!, 5));
    expect(maxDiff(first.weights, expected.weights)).toBeLessThan(2e-6);
    expect(first.losses[2]).toBeLessThan(first.losses[0]!);
    const second = parallel();
    expect(second.losses).toEqual(first.losses);
    expect(second.weights).toEqual(first.weights);
  });

  it("gathers the batch's output in row order and infers by shards", () => {
    const { images, labels } = syntheticDigits(9, new Generator(3));
    const expected = noGrad(() => model.forward(images)).toTypedArray();
    const step = dp.forwardBackward(images, labels);
    expect(step.output.shape).toEqual([9, 10]);
    const got = step.output.toTypedArray();
    expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    const inferred = dp.infer(images).toTypedArray();
    expected.forEach((v, i) => expect(inferred[i]).toBeCloseTo(v, 5));
    model.zeroGrad();
  });

  it("combines the shards' gradients bit for bit: this thread's shard's plus the replica's, each weighted by its rows, one float32 addition per element", () => {
    const { images, labels } = syntheticDigits(15, new Generator(6));
    const lossFn = new CrossEntropyLoss();
    const shardGradients = (from: number, to: number): Float32Array[] => {
      model.zeroGrad();
      const x = tensor(images.toTypedArray().slice(from * 784, to * 784), { shape: [to - from, 1, 28, 28] });
      const y = tensor(labels.toTypedArray().slice(from, to), { shape: [to - from] });
      lossFn.forward(model.forward(x) as Tensor, y).backward(Tensor.full([], (to - from) / 15));
      return model.parameters().map((p) => Float32Array.from(p.grad!.toTypedArray()));
    };
    // Shards of 7 and 8 rows (the larger one on the replica).
    const own = shardGradients(0, 7);
    const replica = shardGradients(7, 15);
    model.zeroGrad();
    dp.forwardBackward(images, labels);
    const sizes = model.parameters().map((p) => p.size);
    expect(sizes.some((n) => n % 4 !== 0)).toBe(true);
    model.parameters().forEach((p, i) => {
      const expected = own[i]!.map((g, k) => Math.fround(g + replica[i]![k]!));
      expect(Array.from(p.grad!.toTypedArray())).toEqual(Array.from(expected));
    });
    model.zeroGrad();
  });

  it("adds into gradients already there, as backward does", () => {
    const { images, labels } = syntheticDigits(8, new Generator(4));
    model.zeroGrad();
    dp.forwardBackward(images, labels);
    const once = model.parameters().map((p) => Array.from(p.grad!.toTypedArray()));
    dp.forwardBackward(images, labels);
    model.parameters().forEach((p, i) => p.grad!.toTypedArray().forEach((g, j) => expect(g).toBeCloseTo(2 * once[i]![j]!, 6)));
    model.zeroGrad();
  });

  it("adds into a .grad that is another Tensor over the sum's memory as into the one it left, and copies one that views shared gradients otherwise first", () => {
    const params = model.parameters();
    const batches = [syntheticDigits(15, new Generator(40)), syntheticDigits(15, new Generator(41))];
    /** Two forwardBackward calls without zeroGrad; `between` may replace the .grads in between; the .grads after. */
    const accumulate = (between: () => void): Float32Array[] => {
      for (const p of params) p.grad = null;
      dp.forwardBackward(batches[0]!.images, batches[0]!.labels);
      between();
      dp.forwardBackward(batches[1]!.images, batches[1]!.labels);
      return params.map((p) => Float32Array.from(p.grad!.toTypedArray()));
    };
    const same = accumulate(() => {});
    // A Tensor of its own over the same values, as a user's wrapper of .grad would be.
    const rewrapped = accumulate(() => params.forEach((p) => (p.grad = new Tensor(p.grad!.data))));
    rewrapped.forEach((g, i) => expect(g.every((v, k) => Object.is(v, same[i]![k]))).toBe(true));
    for (const p of params) p.grad = null;
    dp.forwardBackward(batches[1]!.images, batches[1]!.labels);
    const second = params.map((p) => Float32Array.from(p.grad!.toTypedArray()));
    expect(rewrapped[0]!.some((v, k) => Math.abs(v - 2 * second[0]![k]!) > 1e-6)).toBe(true);
    // .grad of conv1's weight (200 floats) views the start of fc1's summed weight gradient: the step
    // adds the batch's gradient to those values as they were, not to what this step writes there.
    let aliased: Float32Array | null = null;
    const partial = accumulate(() => {
      const fc1 = params[4]!.grad!;
      aliased = Float32Array.from(fc1.data.data.subarray(0, params[0]!.size));
      params[0]!.grad = new Tensor(tensor(fc1.data.data.subarray(0, params[0]!.size) as Float32Array, { shape: params[0]!.shape }).data);
    });
    expect(partial[0]!.every((v, k) => Object.is(v, Math.fround(aliased![k]! + second[0]![k]!)))).toBe(true);
    model.zeroGrad();
  });

  it("reads a batch written into batchBuffer where it is, with the bits of a copied one; batchBuffer refuses a bad length", () => {
    const { images, labels } = syntheticDigits(15, new Generator(13));
    const control = (dp as unknown as { control: Int32Array }).control;
    const grads = (): Float32Array[] => model.parameters().map((p) => Float32Array.from(p.grad!.toTypedArray()));
    const xs = dp.batchBuffer(15 * 784);
    const ys = dp.batchBuffer(15);
    xs.set(images.toTypedArray());
    ys.set(labels.toTypedArray());
    // Rows 3 to 11 of each, as tensors viewing the shared buffers from an offset.
    const rows = (from: number, to: number): [Tensor, Tensor] => [
      tensor(xs.subarray(from * 784, to * 784), { shape: [to - from, 1, 28, 28] }),
      tensor(ys.subarray(from, to), { shape: [to - from] }),
    ];
    for (const [from, to] of [[0, 15], [3, 12]] as const) {
      const [x, y] = rows(from, to);
      const copied = [tensor(x.toTypedArray().slice(), { shape: x.shape }), tensor(y.toTypedArray().slice(), { shape: y.shape })] as const;
      model.zeroGrad();
      const expected = dp.forwardBackward(copied[0], copied[1]);
      expect(control[INPUT_BUFFER]).toBe(DATA_BUFFER);
      const expectedGrads = grads();
      model.zeroGrad();
      const got = dp.forwardBackward(x, y);
      expect([control[INPUT_BUFFER], control[TARGET_BUFFER]]).toEqual([STAGED_BUFFER, STAGED_BUFFER]);
      expect(got.loss).toBe(expected.loss);
      expect(got.output.toTypedArray()).toEqual(expected.output.toTypedArray());
      expect(grads()).toEqual(expectedGrads);
      expect(dp.infer(x).toTypedArray()).toEqual(dp.infer(copied[0]).toTypedArray());
    }
    model.zeroGrad();
    expect(() => dp.batchBuffer(-1)).toThrow("DataParallel.batchBuffer: length must be an integer >= 0, but got number -1");
    expect(() => dp.batchBuffer(2 ** 40)).toThrow(
      /^DataParallel\.batchBuffer: 1099511627776 floats would take the batch buffers to \d+ bytes of shared memory, more than the 1073741824 allowed \(the maxDataBytes option\); \d+ bytes are taken, for the life of this DataParallel: make a loader's buffer once and reuse it every epoch$/,
    );
  });

  it("refuses a batch smaller than the replicas, and a parameter that changed shape, naming both", () => {
    const { images, labels } = syntheticDigits(1, new Generator(5));
    expect(() => dp.forwardBackward(images, labels)).toThrow(
      "DataParallel.forwardBackward: a batch of 1 sample(s) cannot be split over 2 replicas; each replica needs at least one sample (batch size >= replicas), but input has shape [1, 1, 28, 28]",
    );
    const head = (model as Sequential).at(9) as Linear;
    const weight = head.weight;
    head.weight = new Parameter(weight.data.shape[0] === 10 ? referenceCnn().parameters()[4]!.data : weight.data);
    const batch = syntheticDigits(4, new Generator(6));
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow(
      "DataParallel.forwardBackward: the model's parameters and buffers must keep their names, shapes and dtypes while it trains data-parallel, but entry 6 was parameter 9.weight [10, 120] float32 and is now parameter 9.weight [120, 256] float32",
    );
    head.weight = weight;
    expect(dp.forwardBackward(batch.images, batch.labels).output.shape).toEqual([4, 10]);
    model.zeroGrad();
  });

  it("checks a module added between steps (the model's structure is walked again when it changes): a Dropout in training mode and a new parameter are refused, and removing them trains again", () => {
    const batch = syntheticDigits(4, new Generator(6));
    expect(dp.forwardBackward(batch.images, batch.labels).output.shape).toEqual([4, 10]);
    model.registerModule("extra", new Dropout(0.5));
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow('DataParallel.forwardBackward: Dropout "extra" in training mode draws its masks');
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow('Dropout "extra"');
    model.registerModule("extra", new Linear(10, 10));
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow("but entry 8 was nothing and is now parameter extra.weight [10, 10] float32");
    // Refused on every step until the model matches again, not only on the step that saw the change.
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow("is now parameter extra.weight");
    Reflect.deleteProperty(model, "extra");
    expect(dp.forwardBackward(batch.images, batch.labels).output.shape).toEqual([4, 10]);
    model.zeroGrad();
  });

  it("refuses a module without state swapped or added on this thread (the replicas would run another model), naming the module and both classes, on every step until it is undone", () => {
    const batch = syntheticDigits(4, new Generator(8));
    const relu = model.at(1);
    model.registerModule("1", new Tanh());
    const swapped =
      'DataParallel.forwardBackward: the model\'s modules must keep their classes and order while it trains data-parallel (the replicas run the model their builder made), but module 2 was ReLU and is now Tanh ("1") (create a new DataParallel for the changed model)';
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow(swapped);
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow(swapped);
    model.registerModule("1", relu);
    model.registerModule("extra", new ReLU());
    expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow('but module 11 was nothing and is now ReLU ("extra")');
    Reflect.deleteProperty(model, "extra");
    // Another instance of the same class is the same model.
    model.registerModule("1", new ReLU());
    expect(dp.forwardBackward(batch.images, batch.labels).output.shape).toEqual([4, 10]);
    model.registerModule("1", relu);
    model.zeroGrad();
  });
});

describe("DataParallel with 3 replicas", () => {
  let dp: DataParallel;
  const model = (manualSeed(9), referenceCnn());
  beforeAll(async () => {
    // Three threads on this machine's two cores: they sleep instead of spinning while they wait.
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 3, worker: start("reference"), stepTimeoutMs: 30_000, polls: 1000 });
  });
  afterAll(async () => dp?.close());

  it("sums the three shards' gradients in replica order, every replica its slice from the others' blocks and its own gradients; the same bits again after a refused step", () => {
    // Shards of 5, 5 and 6 rows.
    const { images, labels } = syntheticDigits(16, new Generator(12));
    const lossFn = new CrossEntropyLoss();
    const shardGradients = (from: number, to: number): Float32Array[] => {
      model.zeroGrad();
      const x = tensor(images.toTypedArray().slice(from * 784, to * 784), { shape: [to - from, 1, 28, 28] });
      const y = tensor(labels.toTypedArray().slice(from, to), { shape: [to - from] });
      lossFn.forward(model.forward(x) as Tensor, y).backward(Tensor.full([], (to - from) / 16));
      return model.parameters().map((p) => Float32Array.from(p.grad!.toTypedArray()));
    };
    const shards = [shardGradients(0, 5), shardGradients(5, 10), shardGradients(10, 16)];
    const expected = model.parameters().map((_, i) => shards[0]![i]!.map((g, k) => Math.fround(Math.fround(g + shards[1]![i]![k]!) + shards[2]![i]![k]!)));
    const check = (): void => {
      model.zeroGrad();
      dp.forwardBackward(images, labels);
      model.parameters().forEach((p, i) => expect(Array.from(p.grad!.toTypedArray())).toEqual(Array.from(expected[i]!)));
    };
    check();
    // A step whose target has another row count fails before any replica starts; the next one sums as before.
    expect(() => dp.forwardBackward(images, tensor(new Float32Array(15), { shape: [15] }))).toThrow(/rows/);
    check();
    model.zeroGrad();
  });
});

describe("DataParallel refusals and failures", () => {
  it("refuses a replica whose model differs, naming the parameter and both shapes", async () => {
    await expect(dataParallel(referenceCnn(), new CrossEntropyLoss(), { replicas: 2, worker: start("narrow"), stepTimeoutMs: 30_000 })).rejects.toThrow(
      "DataParallel.create: replica 1 failed to start: Error: this replica's model differs from the calling thread's: parameter 4 is 7.weight [120, 256] float32 on the calling thread but 7.weight [100, 256] float32 in the replica",
    );
  });

  it("a throw in a replica's forward reaches the calling thread as a ReplicaError naming it, leaves .grad as it was, and the set keeps working", async () => {
    const model = markedCnn();
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("bomb"), stepTimeoutMs: 30_000 });
    try {
      const { images, labels } = syntheticDigits(7, new Generator(8));
      const error = caught(() => dp.forwardBackward(images, labels));
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as ReplicaError).replica).toBe(1);
      expect((error as Error).message).toBe("DataParallel.forwardBackward: replica 1 (a worker) failed on its shard: RangeError: bomb: a shard of 4 rows");
      expect(model.parameters().every((p) => p.grad === null)).toBe(true);
      const ok = syntheticDigits(6, new Generator(9));
      expect(Number.isFinite(dp.forwardBackward(ok.images, ok.labels).loss)).toBe(true);
      expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    } finally {
      await dp.close();
    }
    const { images, labels } = syntheticDigits(6, new Generator(9));
    expect(() => dp.forwardBackward(images, labels)).toThrow("DataParallel.forwardBackward: this DataParallel cannot run any more: it was closed");
  });

  it("a replica that does not finish in stepTimeoutMs fails the step with a ReplicaError and closes the set", async () => {
    const model = markedCnn();
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("sleeper"), stepTimeoutMs: 300 });
    const { images, labels } = syntheticDigits(7, new Generator(11));
    try {
      expect(() => dp.forwardBackward(images, labels)).toThrow("DataParallel.forwardBackward: replica 1 did not finish its shard within stepTimeoutMs (300 ms); this DataParallel is closed");
      expect(() => dp.infer(images)).toThrow("DataParallel.infer: this DataParallel cannot run any more: replica 1 did not finish a step within stepTimeoutMs (300 ms)");
    } finally {
      await dp.close();
    }
    expect(() => dp.infer(images)).toThrow("DataParallel.infer: this DataParallel cannot run any more: replica 1 did not finish a step within stepTimeoutMs (300 ms)");
  });

  it("a step that times out while accumulating hands back a .grad that the late replica's sum does not write afterwards", async () => {
    const model = markedCnn();
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("napper"), stepTimeoutMs: 300 });
    try {
      const first = syntheticDigits(10, new Generator(12)); // shards of 5 and 5: no nap
      dp.forwardBackward(first.images, first.labels);
      const w = model.parameters()[0]!;
      const before = Float32Array.from(w.grad!.toTypedArray());
      // Shards of 4 and 4, no zeroGrad: the replica naps 900 ms, then sums its slice.
      const second = syntheticDigits(8, new Generator(13));
      expect(() => dp.forwardBackward(second.images, second.labels)).toThrow("did not finish its shard within stepTimeoutMs (300 ms)");
      expect(Array.from(w.grad!.toTypedArray())).toEqual(Array.from(before));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      expect(Array.from(w.grad!.toTypedArray())).toEqual(Array.from(before));
    } finally {
      await dp.close();
    }
  });

  it("a replica whose thread exits mid-step fails the step with a ReplicaError naming it instead of blocking", async () => {
    const model = markedCnn();
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("exiter"), stepTimeoutMs: 30_000 });
    const { images, labels } = syntheticDigits(7, new Generator(12));
    try {
      expect(() => dp.forwardBackward(images, labels)).toThrow("DataParallel.forwardBackward: replica 1's thread exited with code 3 during its shard; this DataParallel is closed");
    } finally {
      await dp.close();
    }
  });

});

/** data-parallel.test.ts's twin of test-utils/replica.mjs's batchNormNet: conv + BatchNorm2d twice, then Linear + BatchNorm1d, `middle` between the convolutions. */
function batchNormNet(middle: Module = new Sequential()): Sequential {
  return new Sequential(
    new Conv2d(1, 4, 5), new BatchNorm2d(4), new ReLU(), new MaxPool2d(4), middle as never,
    new Conv2d(4, 8, 3), new BatchNorm2d(8), new ReLU(), new Flatten(), new Linear(128, 16), new BatchNorm1d(16), new ReLU(), new Linear(16, 10),
  );
}

/** Passes its input on: on this thread, the stand-in for the module test-utils/replica.mjs puts before referenceCnn (a bomb, a sleeper...), which acts only in the replica. */
class Marker extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** The calling thread's model for replica.mjs's "bomb", "sleeper", "napper" and "exiter": Sequential(marker, referenceCnn()). */
function markedCnn(): Sequential {
  return new Sequential(new Marker() as never, referenceCnn());
}

/** Every buffer of `model` (running statistics, num_batches_tracked), by name. */
function buffers(model: Module): Record<string, number[]> {
  return Object.fromEntries(model.namedBuffers().map(([name, b]) => [name, Array.from(b.toTypedArray())]));
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

describe("DataParallel with BatchNorm in training mode (synchronized statistics, 2 replicas)", () => {
  let dp: DataParallel;
  const model = (manualSeed(21), batchNormNet());
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  beforeAll(async () => {
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm"), stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  /** Three SGD steps over batches of 15 (shards of 7 and 8): the losses, the first step's gradients, and the weights and buffers after. */
  function run(step: (m: Module, x: Tensor, y: Tensor) => number, m: Module) {
    const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
    const losses: number[] = [];
    let gradients: number[][] = [];
    for (let s = 0; s < 3; s++) {
      const { images, labels } = syntheticDigits(15, new Generator(300 + s));
      opt.zeroGrad();
      losses.push(step(m, images, labels));
      if (s === 0) gradients = m.parameters().map((p) => Array.from(p.grad!.toTypedArray()));
      opt.step();
    }
    return { losses, gradients, weights: values(m), buffers: buffers(m) };
  }

  it("trains as one process does: losses, gradients, weights, running statistics and num_batches_tracked to float32 rounding; the same bits on a second run", () => {
    const single = batchNormNet();
    single.loadStateDict(initial);
    const expected = run(oneProcessStep(), single);
    const parallel = () => {
      model.loadStateDict(initial);
      return run((_, x, y) => dp.forwardBackward(x, y).loss, model);
    };
    const first = parallel();
    first.losses.forEach((l, i) => expect(l).toBeCloseTo(expected.losses[i]!, 5));
    expect(maxDiff(first.gradients, expected.gradients)).toBeLessThan(2e-5);
    // Every gradient is there and not trivially small: the comparison means something.
    expect(Math.max(...first.gradients.map((g) => Math.max(...g.map(Math.abs))))).toBeGreaterThan(1e-2);
    expect(maxDiff(first.weights, expected.weights)).toBeLessThan(2e-5);
    for (const [name, values] of Object.entries(expected.buffers)) {
      values.forEach((v, i) => expect(Math.abs(first.buffers[name]![i]! - v), `${name}[${i}]`).toBeLessThan(2e-5 * (1 + Math.abs(v))));
    }
    expect(first.buffers["1.num_batches_tracked"]).toEqual([3]);
    expect(first.buffers["10.num_batches_tracked"]).toEqual([3]);
    // The running variance moved (unbiased, from the whole batch): not the initial 1 any more.
    expect(first.buffers["6.running_var"]!.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
    const second = parallel();
    expect(second.losses).toEqual(first.losses);
    expect(second.weights).toEqual(first.weights);
    expect(second.buffers).toEqual(first.buffers);
  });

  it("a shard's BatchNorm normalises with the whole batch's statistics: the step's output is one process's, also when a shard holds one row", () => {
    model.loadStateDict(initial);
    const single = batchNormNet();
    single.loadStateDict(initial);
    for (const rows of [3, 9]) {
      const { images, labels } = syntheticDigits(rows, new Generator(40 + rows));
      const expected = noGrad(() => single.forward(images)).toTypedArray();
      const got = dp.forwardBackward(images, labels).output.toTypedArray();
      expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
    }
    model.zeroGrad();
    // Evaluation: the running statistics, which one process moved the same way.
    model.eval();
    single.eval();
    const { images } = syntheticDigits(9, new Generator(50));
    const expected = noGrad(() => single.forward(images)).toTypedArray();
    const got = dp.infer(images).toTypedArray();
    expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
    model.train();
  });

  it("a replaced parameter or buffer leaves its old tensor with its values in memory of its own; two swapped parameters keep both", () => {
    model.loadStateDict(initial);
    model.eval();
    const conv = model.at(0) as Conv2d;
    const bn = model.at(1) as BatchNorm2d;
    const { images, labels } = syntheticDigits(6, new Generator(70));
    dp.forwardBackward(images, labels);
    const oldWeight = conv.weight;
    const oldMean = bn.running_mean;
    const weightBefore = Array.from(oldWeight.toTypedArray());
    const meanBefore = Array.from(oldMean!.toTypedArray());
    conv.weight = new Parameter(Tensor.full([4, 1, 5, 5], 0.25));
    bn.running_mean = Tensor.full([4], 0.5);
    // BatchNorm's weight (ones) and bias (zeros), both [4], swapped.
    const gamma = Array.from(bn.weight!.toTypedArray());
    const beta = Array.from(bn.bias!.toTypedArray());
    [bn.weight, bn.bias] = [bn.bias, bn.weight];
    model.zeroGrad();
    const expected = noGrad(() => model.forward(images)).toTypedArray();
    const got = dp.forwardBackward(images, labels).output.toTypedArray();
    expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
    expect(Array.from(oldWeight.toTypedArray())).toEqual(weightBefore);
    expect(Array.from(oldMean!.toTypedArray())).toEqual(meanBefore);
    expect(oldWeight.data.data.buffer).not.toBe(conv.weight.data.data.buffer);
    expect(Array.from(conv.weight.toTypedArray()).every((v) => v === 0.25)).toBe(true);
    expect(Array.from(bn.running_mean!.toTypedArray())).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(bn.weight!.toTypedArray())).toEqual(beta);
    expect(Array.from(bn.bias!.toTypedArray())).toEqual(gamma);
    model.zeroGrad();
    model.train();
  });
});

describe("DataParallel with BatchNorm: failures mid-step", () => {
  it("BatchNorm without running statistics in evaluation mode normalises by the whole batch's statistics", async () => {
    const model = new Sequential(new Conv2d(1, 4, 5), new BatchNorm2d(4, { trackRunningStats: false }), new ReLU(), new MaxPool2d(4), new Flatten(), new Linear(144, 10));
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm-untracked"), stepTimeoutMs: 30_000 });
    try {
      model.eval();
      const { images } = syntheticDigits(8, new Generator(10));
      const expected = noGrad(() => model.forward(images)).toTypedArray();
      const got = dp.infer(images).toTypedArray();
      expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    } finally {
      await dp.close();
    }
  });

  it("a replica that throws between two BatchNorm exchanges, or this thread throwing first, is a plain failure: the other side stops waiting and the set keeps working", async () => {
    class Bomb extends Module {
      armed = false;
      forward(x: Tensor): Tensor {
        if (this.armed) throw new RangeError("this thread's bomb");
        return x;
      }
    }
    const bomb = new Bomb();
    const model = batchNormNet(bomb);
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm-bomb"), stepTimeoutMs: 30_000 });
    try {
      const { images, labels } = syntheticDigits(7, new Generator(13));
      const error = caught(() => dp.forwardBackward(images, labels));
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as Error).message).toBe("DataParallel.forwardBackward: replica 1 (a worker) failed on its shard: RangeError: bomb: a shard of 4 rows");
      expect(model.parameters().every((p) => p.grad === null)).toBe(true);
      bomb.armed = true;
      const batch = syntheticDigits(6, new Generator(14));
      expect(() => dp.forwardBackward(batch.images, batch.labels)).toThrow("this thread's bomb");
      bomb.armed = false;
      expect(Number.isFinite(dp.forwardBackward(batch.images, batch.labels).loss)).toBe(true);
      expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    } finally {
      await dp.close();
    }
  });

  it("replicas whose forwards run their BatchNorm layers in another order fail the step naming both layers, and the set keeps working", async () => {
    class Swap extends Module {
      readonly a = new BatchNorm2d(4);
      readonly b = new BatchNorm2d(4);
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const model = batchNormNet(new Swap());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm-swapped"), stepTimeoutMs: 30_000 });
    try {
      const { images, labels } = syntheticDigits(7, new Generator(17));
      const error = caught(() => dp.forwardBackward(images, labels));
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as Error).message).toBe(
        "DataParallel.forwardBackward: replica 1 (a worker) failed on its shard: ExchangeAbort: the replicas' BatchNorm exchanges differ: exchange 2 of this step is " +
          'BatchNorm2d "4.b"\'s statistics (4 channels) on replica 1 but BatchNorm2d "4.a"\'s statistics (4 channels) on replica 0; ' +
          "every replica must run the same BatchNorm layers in the same order (a forward must not branch on its shard's data)",
      );
      const even = syntheticDigits(6, new Generator(18));
      expect(Number.isFinite(dp.forwardBackward(even.images, even.labels).loss)).toBe(true);
    } finally {
      await dp.close();
    }
  });

  it("a replica whose thread exits between two BatchNorm exchanges fails the step with a ReplicaError naming it, not a hang", async () => {
    const model = batchNormNet(new Sequential());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm-exiter"), stepTimeoutMs: 30_000 });
    try {
      const { images, labels } = syntheticDigits(7, new Generator(15));
      const error = caught(() => dp.forwardBackward(images, labels));
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as Error).message).toBe("DataParallel.forwardBackward: replica 1's thread exited with code 3 during its shard; this DataParallel is closed");
    } finally {
      await dp.close();
    }
  });

  it("a replica that does not reach a BatchNorm exchange within stepTimeoutMs fails the step and closes the set", async () => {
    const model = batchNormNet(new Sequential());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm-sleeper"), stepTimeoutMs: 300 });
    try {
      const { images, labels } = syntheticDigits(7, new Generator(16));
      expect(() => dp.forwardBackward(images, labels)).toThrow("DataParallel.forwardBackward: replica 1 did not finish its shard within stepTimeoutMs (300 ms); this DataParallel is closed");
    } finally {
      await dp.close();
    }
  });
});

/** test-utils/replica.mjs's VersionProbe: batchNormNet's 10 logits, then the versions this thread sees of the first convolution's weight and the first BatchNorm's running mean. */
class VersionProbe extends Module {
  readonly net = batchNormNet();
  forward(x: Tensor): Tensor {
    const y = this.net.forward(x) as Tensor;
    const n = y.shape[0]!;
    const conv = this.net.at(0) as Conv2d;
    const bn = this.net.at(1) as BatchNorm2d;
    return Tensor.cat([y, Tensor.full([n, 1], conv.weight.version), Tensor.full([n, 1], bn.running_mean!.version)], 1);
  }
}

describe("DataParallel: what a replica prepared from the weights stays until the calling thread writes them", () => {
  let dp: DataParallel;
  const model = (manualSeed(31), new VersionProbe());
  const conv = model.net.at(0) as Conv2d;
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  beforeAll(async () => {
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("versions"), stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  /** Infers a batch of 8 by shards (the replica's are rows 4-7) in evaluation mode, checks the logits against this thread's forward of the whole batch, and returns the versions the replica saw. */
  function inferred(): { weight: number; mean: number } {
    model.eval();
    const { images } = syntheticDigits(8, new Generator(60));
    const expected = noGrad(() => model.forward(images)).toTypedArray();
    const got = dp.infer(images).toTypedArray();
    for (let row = 0; row < 8; row++) for (let k = 0; k < 10; k++) expect(got[row * 12 + k]).toBeCloseTo(expected[row * 12 + k]!, 5);
    return { weight: got[7 * 12 + 10]!, mean: got[7 * 12 + 11]! };
  }

  it("a replica bumps a version only when the calling thread wrote the values: init, bumpVersion, a replaced parameter, loadStateDict, running statistics, an optimizer step", () => {
    const first = inferred();
    // Nothing written: the replica keeps its versions (and so its folded BatchNorm and prepared weights).
    expect(inferred()).toEqual(first);
    noGrad(() => init.normal(conv.weight, 0, 0.5));
    expect(inferred()).toEqual({ weight: first.weight + 1, mean: first.mean });
    // A direct write into the weight's floats, announced by bumpVersion as on one thread.
    conv.weight.data.data[0] = 3;
    conv.weight.bumpVersion();
    expect(inferred()).toEqual({ weight: first.weight + 2, mean: first.mean });
    // A new Parameter of the same shape moves into shared memory with its values: the replica sees a write.
    conv.weight = new Parameter(tensor(Float32Array.from({ length: 100 }, (_, i) => Math.sin(i)), { shape: [4, 1, 5, 5] }));
    expect(inferred()).toEqual({ weight: first.weight + 3, mean: first.mean });
    model.loadStateDict(initial);
    const loaded = inferred();
    expect(loaded).toEqual({ weight: first.weight + 4, mean: first.mean + 1 });
    // A training step moves the running statistics, the optimizer the weights: both bumped once.
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    model.train();
    const { images, labels } = syntheticDigits(8, new Generator(61));
    opt.zeroGrad();
    dp.forwardBackward(images, labels);
    opt.step();
    const trained = inferred();
    expect(trained).toEqual({ weight: loaded.weight + 1, mean: loaded.mean + 1 });
    expect(inferred()).toEqual(trained);
  });
});
