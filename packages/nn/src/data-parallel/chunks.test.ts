import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import { Generator, Tensor, manualSeed, noGrad, tensor } from "@pico/core";
import { Adam } from "@pico/optim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchNorm1d } from "../layers/batch-norm1d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { Module } from "../module.js";
import { referenceCnn, syntheticDigits } from "../test-utils/reference-cnn.js";
import { chunkBounds } from "./chunks.js";
import { DataParallel } from "./data-parallel.js";
import { dataParallel } from "./node.js";
import { ReplicaError } from "./replica-error.js";

// DataParallel with chunkRows: the batch cut into chunks that the replicas claim as they come free. The
// replicas run test-utils/replica.mjs on @pico/nn's built dist.
const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);
const start = (model: string) => () => new Worker(replicaScript, { workerData: { model }, execArgv: [] });
const gc = (globalThis as { gc?: () => void }).gc;

function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? (e.name === "test-utils" ? 0 : newest(join(dir, e.name))) : e.name.endsWith(".test.ts") ? 0 : statSync(join(dir, e.name)).mtimeMs)));
}

beforeAll(() => {
  const dist = fileURLToPath(new URL("../../dist/data-parallel/node.js", import.meta.url));
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest(fileURLToPath(new URL(".", import.meta.url)))) {
    throw new Error("the data-parallel replicas load @pico/nn's dist, which is missing or older than src/data-parallel: run `pnpm turbo run build --filter=@pico/nn...` first");
  }
});

function gradients(model: Module): Float32Array[] {
  return model.parameters().map((p) => Float32Array.from(p.grad!.toTypedArray()));
}

/** The gradients of rows [from, to) of a batch of `rows` on one thread, weighted by the chunk's share of the rows, and its loss. */
function chunkGradients(model: Module, images: Tensor, labels: Tensor, from: number, to: number): { grads: Float32Array[]; loss: number } {
  const rows = images.shape[0]!;
  model.zeroGrad();
  const x = tensor(images.toTypedArray().slice(from * 784, to * 784), { shape: [to - from, 1, 28, 28] });
  const y = tensor(labels.toTypedArray().slice(from, to), { shape: [to - from] });
  const loss = new CrossEntropyLoss().forward(model.forward(x) as Tensor, y);
  loss.backward(Tensor.full([], (to - from) / rows));
  const grads = gradients(model);
  model.zeroGrad();
  return { grads, loss: loss.item() };
}

/** The largest |a - b| - (absolute + relative · |b|) over every element (<= 0: all within tolerance); one assertion instead of one per element. */
function worstExcess(a: ArrayLike<number>[], b: ArrayLike<number>[], absolute = 1e-6, relative = 1e-5): number {
  let worst = -Infinity;
  for (let i = 0; i < a.length; i++) {
    for (let e = 0; e < a[i]!.length; e++) worst = Math.max(worst, Math.abs(a[i]![e]! - b[i]![e]!) - (absolute + relative * Math.abs(b[i]![e]!)));
  }
  return worst;
}

describe("chunkBounds", () => {
  it("one shard per replica without chunkRows; else chunks of at most chunkRows rows, as equal as possible, at most 64 and the reserve", () => {
    expect(chunkBounds(15, 2, null, 64)).toEqual([0, 7, 15]);
    expect(chunkBounds(15, 2, 4, 64)).toEqual([0, 3, 7, 11, 15]);
    expect(chunkBounds(64, 2, 16, 64)).toEqual([0, 16, 32, 48, 64]);
    expect(chunkBounds(64, 2, 100, 64)).toEqual([0, 64]);
    expect(chunkBounds(200, 2, 1, 64)).toHaveLength(65);
    expect(chunkBounds(200, 2, 1, 5)).toEqual([0, 40, 80, 120, 160, 200]);
  });
});

describe("DataParallel with chunkRows (2 replicas, the reference network)", () => {
  let fast: DataParallel;
  let slow: DataParallel;
  const model = (manualSeed(31), referenceCnn());
  const twin = referenceCnn();
  const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
  twin.loadStateDict(initial);
  beforeAll(async () => {
    const options = { replicas: 2, stepTimeoutMs: 30_000, chunkRows: 4 };
    [fast, slow] = await Promise.all([
      dataParallel(model, new CrossEntropyLoss(), { ...options, worker: start("reference") }),
      // Its replica naps 3 ms before each chunk: this thread runs most of them.
      dataParallel(twin, new CrossEntropyLoss(), { ...options, worker: start("reference-slow") }),
    ]);
  });
  afterAll(async () => Promise.all([fast?.close(), slow?.close()]));

  it("adds the chunks' gradients in chunk order bit for bit, whoever ran which; loss and output are one process's", () => {
    const { images, labels } = syntheticDigits(15, new Generator(61));
    // Chunks of 3, 4, 4 and 4 rows.
    const bounds = [0, 3, 7, 11, 15];
    const single = referenceCnn();
    single.loadStateDict(initial);
    const chunks = bounds.slice(0, -1).map((from, k) => chunkGradients(single, images, labels, from, bounds[k + 1]!));
    const expected = chunks[0]!.grads.map((g, i) => g.map((v, e) => chunks.slice(1).reduce((sum, c) => Math.fround(sum + c.grads[i]![e]!), v)));
    const expectedLoss = chunks.reduce((sum, c, k) => sum + ((bounds[k + 1]! - bounds[k]!) / 15) * c.loss, 0);
    expect(fast.lastSplit).toBeNull();
    const whole = (() => {
      const loss = new CrossEntropyLoss().forward(single.forward(images) as Tensor, labels);
      loss.backward();
      return { grads: gradients(single), loss: loss.item(), output: noGrad(() => single.forward(images)).toTypedArray() };
    })();
    for (const [dp, m] of [[fast, model], [slow, twin], [fast, model]] as const) {
      for (let run = 0; run < 3; run++) {
        m.zeroGrad();
        const step = dp.forwardBackward(images, labels);
        expect(dp.lastSplit).toEqual({ mode: "chunks", bounds });
        const got = gradients(m);
        got.forEach((g, i) => expect(Array.from(g), `parameter ${i}`).toEqual(Array.from(expected[i]!)));
        expect(step.loss).toBe(expectedLoss);
        // The single-model gradient of the whole batch, to float32 rounding.
        expect(worstExcess(got, whole.grads)).toBeLessThanOrEqual(0);
        expect(step.loss).toBeCloseTo(whole.loss, 6);
        const output = step.output.toTypedArray();
        expect(step.output.shape).toEqual([15, 10]);
        whole.output.forEach((v, i) => expect(output[i]).toBeCloseTo(v, 5));
      }
    }
    // infer runs by shards and leaves lastSplit to forwardBackward; a batch of at most chunkRows rows is one chunk.
    expect(fast.infer(images).shape).toEqual([15, 10]);
    expect(fast.lastSplit).toEqual({ mode: "chunks", bounds });
    const small = syntheticDigits(3, new Generator(62));
    fast.forwardBackward(small.images, small.labels);
    expect(fast.lastSplit).toEqual({ mode: "chunks", bounds: [0, 3] });
    model.zeroGrad();
    twin.zeroGrad();
  });

  it("trains 3 Adam steps as one process does, to float32 rounding, and the same bits with either replica", () => {
    const train = (m: Module, step: (x: Tensor, y: Tensor) => number): { losses: number[]; weights: number[][] } => {
      m.loadStateDict(initial);
      const opt = new Adam(m.parameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const { images, labels } = syntheticDigits(13, new Generator(70 + s));
        opt.zeroGrad();
        losses.push(step(images, labels));
        opt.step();
      }
      return { losses, weights: m.parameters().map((p) => Array.from(p.toTypedArray())) };
    };
    const single = referenceCnn();
    const expected = train(single, (x, y) => {
      const loss = new CrossEntropyLoss().forward(single.forward(x) as Tensor, y);
      loss.backward();
      return loss.item();
    });
    const a = train(model, (x, y) => fast.forwardBackward(x, y).loss);
    const b = train(twin, (x, y) => slow.forwardBackward(x, y).loss);
    expect(b).toEqual(a);
    a.losses.forEach((l, i) => expect(l).toBeCloseTo(expected.losses[i]!, 5));
    expect(worstExcess(a.weights, expected.weights, 2e-6, 0)).toBeLessThanOrEqual(0);
    expect(a.losses[2]).toBeLessThan(a.losses[0]!);
  });

  it("keeps the heap flat over 150 chunked steps: growth over the last 60 under 4 KB a step", () => {
    expect(gc, "run vitest with --expose-gc (see vitest.config.ts)").toBeTypeOf("function");
    // 12 rows in chunks of 4: three chunks a step.
    const { images, labels } = syntheticDigits(12, new Generator(80));
    const opt = new Adam(model.parameters(), { lr: 1e-4 });
    const step = (): void => {
      opt.zeroGrad();
      fast.forwardBackward(images, labels);
      fast.step(opt);
    };
    // The JavaScript heap and the arrays' memory (a leaked gradient's values live outside the heap), but not
    // V8's compiled code, which still grows after 150 steps (0.6-1 KB a step).
    const memory = (): number => {
      for (let i = 0; i < 3; i++) gc!();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers - getHeapSpaceStatistics().find((s) => s.space_name === "code_space")!.space_used_size;
    };
    // The first 90 steps warm up (feedback and pools, 2-4 KB a step until step 100 or so, more on a loaded
    // machine); the slope over the last 60 steps, fitted to 5 samples, says whether the heap still grows.
    for (let i = 0; i < 90; i++) step();
    const at: number[] = [];
    const samples: number[] = [];
    for (let i = 0; i <= 60; i++) {
      if (i > 0) step();
      if (i % 15 === 0) {
        at.push(i);
        samples.push(memory());
      }
    }
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const [mx, my] = [mean(at), mean(samples)];
    const slope = at.reduce((a, x, k) => a + (x - mx) * (samples[k]! - my), 0) / at.reduce((a, x) => a + (x - mx) ** 2, 0);
    // Measured on a loaded 2-core machine: 1.0-1.5 KB a step (old space; single samples jump by up to 190 KB).
    // Keeping a copy of conv2's weight gradient (12.8 KB) at each chunk the calling thread ran (1.4 a step)
    // measured 18.7 KB a step; of conv1's (0.8 KB) 3.7, just under: a smaller leak passes.
    expect(slope, `bytes a step over the last 60 steps (samples ${samples.join(", ")})`).toBeLessThan(4096);
    model.loadStateDict(initial);
    model.zeroGrad();
  });
});

describe("DataParallel with chunkRows: what runs by shards, failures, refusals", () => {
  it("refuses a chunkRows that is not an integer >= 1 or null", async () => {
    for (const bad of [0, 1.5, -2, "4"]) {
      await expect(DataParallel.create(referenceCnn(), new CrossEntropyLoss(), [], { chunkRows: bad as number })).rejects.toThrow(
        `DataParallel.create: chunkRows must be an integer >= 1 (rows of a chunk) or null (one shard per replica), but got ${typeof bad} ${bad}`,
      );
    }
  });

  it("a model whose BatchNorm normalises with batch statistics trains by shards (its statistics are the whole batch's); in evaluation mode it is chunked", async () => {
    const net = (): Sequential =>
      new Sequential(
        new Conv2d(1, 4, 5), new BatchNorm2d(4), new ReLU(), new MaxPool2d(4), new Sequential(),
        new Conv2d(4, 8, 3), new BatchNorm2d(8), new ReLU(), new Flatten(), new Linear(128, 16), new BatchNorm1d(16), new ReLU(), new Linear(16, 10),
      );
    const model = (manualSeed(33), net());
    const single = net();
    single.loadStateDict(model.stateDict());
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("batch-norm"), stepTimeoutMs: 30_000, chunkRows: 2 });
    try {
      const { images, labels } = syntheticDigits(9, new Generator(90));
      const expected = noGrad(() => single.forward(images)).toTypedArray();
      const got = dp.forwardBackward(images, labels).output.toTypedArray();
      expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      expect(dp.lastSplit).toEqual({ mode: "shards", bounds: [0, 4, 9] });
      single.loadStateDict(model.stateDict());
      const whole = (() => {
        single.zeroGrad();
        new CrossEntropyLoss().forward(single.forward(images) as Tensor, labels).backward();
        return gradients(single);
      })();
      expect(worstExcess(gradients(model), whole, 2e-5, 0)).toBeLessThanOrEqual(0);
      // Evaluation mode: the running statistics, no exchange, so chunks of 1, 2, 2, 2 and 2 rows, added in chunk order.
      model.zeroGrad();
      model.eval();
      single.loadStateDict(model.stateDict());
      single.eval();
      const bounds = [0, 1, 3, 5, 7, 9];
      const chunks = bounds.slice(0, -1).map((from, k) => chunkGradients(single, images, labels, from, bounds[k + 1]!).grads);
      dp.forwardBackward(images, labels);
      expect(dp.lastSplit).toEqual({ mode: "chunks", bounds });
      gradients(model).forEach((g, i) => {
        const sum = chunks[0]![i]!.map((v, e) => chunks.slice(1).reduce((acc, c) => Math.fround(acc + c[i]![e]!), v));
        expect(Array.from(g), `parameter ${i}`).toEqual(Array.from(sum));
      });
    } finally {
      await dp.close();
    }
  });

  it("a replica whose chunk's output has another shape fails the step before the gradients settle (.grad as it was); the next step takes no row of this one", async () => {
    /** Naps `nap` ms in its next forward (this thread's chunk 0), letting the replica claim the next chunks. */
    class NapWhenAsked extends Module {
      nap = 0;
      forward(x: Tensor): Tensor {
        if (this.nap > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.nap);
        this.nap = 0;
        return x;
      }
    }
    const napper = new NapWhenAsked();
    const model = (manualSeed(21), new Sequential(napper as never, referenceCnn(), new Sequential()));
    // This thread naps 50 ms in chunk 0, so the replica claims chunk 1 of 3 (rows 2-3); the replica's first
    // forward naps 200 ms and appends a column, so this thread runs chunk 2.
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("widen-once"), stepTimeoutMs: 30_000, chunkRows: 2 });
    try {
      const g = new Generator(5);
      for (const p of model.parameters()) p.grad = Tensor.randn(p.shape, { generator: g });
      const grads = model.parameters().map((p) => p.grad!);
      const before = gradients(model);
      const a = syntheticDigits(6, new Generator(50));
      napper.nap = 50;
      expect(() => dp.forwardBackward(a.images, a.labels)).toThrow(
        new ReplicaError("DataParallel.forwardBackward: replica 1's output for rows 2-3 has shape [2, 11] (float32), but this thread's has [2, 10] float32: the replicas' models differ", 1),
      );
      expect(model.parameters().map((p) => p.grad)).toEqual(grads);
      expect(gradients(model)).toEqual(before);
      // This thread runs chunk 0 only; the replica chunks 1 and 2, whose rows must be this batch's.
      model.zeroGrad();
      napper.nap = 300;
      const b = syntheticDigits(6, new Generator(51));
      const { output, loss } = dp.forwardBackward(b.images, b.labels);
      expect(napper.nap).toBe(0);
      const expected = noGrad(() => model.forward(b.images) as Tensor);
      expect(worstExcess([output.toTypedArray()], [expected.toTypedArray()], 1e-5, 1e-4)).toBeLessThanOrEqual(0);
      expect(loss).toBeCloseTo(new CrossEntropyLoss().forward(expected, b.labels).item(), 5);
    } finally {
      await dp.close();
    }
  });

  it("a replica that throws on its chunk fails the step with a ReplicaError naming it, leaves .grad as it was, and the set keeps working", async () => {
    /** Naps 300 ms on this thread's chunk of 4 rows, so that the replica claims the other. */
    class Nap extends Module {
      forward(x: Tensor): Tensor {
        if (x.shape[0] === 4) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        return x;
      }
    }
    const model = new Sequential(new Nap() as never, referenceCnn());
    // The replica's Bomb throws on 4 rows: chunk 1 of a batch of 8 in chunks of 4 (this thread runs chunk 0).
    const dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker: start("bomb"), stepTimeoutMs: 30_000, chunkRows: 4 });
    try {
      const ok = syntheticDigits(6, new Generator(9));
      dp.forwardBackward(ok.images, ok.labels);
      const before = gradients(model);
      const { images, labels } = syntheticDigits(8, new Generator(8));
      let error: unknown = null;
      try {
        dp.forwardBackward(images, labels);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as ReplicaError).replica).toBe(1);
      expect((error as Error).message).toBe("DataParallel.forwardBackward: replica 1 (a worker) failed on its shard: RangeError: bomb: a shard of 4 rows");
      expect(gradients(model)).toEqual(before);
      model.zeroGrad();
      expect(Number.isFinite(dp.forwardBackward(ok.images, ok.labels).loss)).toBe(true);
      expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    } finally {
      await dp.close();
    }
  });
});
