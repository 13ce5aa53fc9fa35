import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Generator } from "../random.js";
import { batchNormReference, batchNormWasm } from "./batch-norm.js";
import type { BatchNormKernel, BatchNormKernelArgs, BatchNormSync } from "./batch-norm.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./wasm/elementwise-wasm-threads.js";
import { kernelInfo } from "./registry.js";
import { wasmAvailable } from "./wasm/engine.js";
import { useNodeWorkers } from "../node-worker-launcher.js";

useNodeWorkers();

// The SIMD kernel computes in float32 (sums per block of 1024 in float32 lanes, then float64); the
// reference in float64. Documented tolerance: |Δ| <= 1e-5·(1 + |reference|) for y, and
// |Δ| <= 1e-5·max|reference| for dx, Σg and Σg·(x − mean) (scaled by their largest magnitude).

const gen = new Generator(11);
const random = (length: number, shift = 0, scale = 1): Float32Array => Float32Array.from({ length }, () => shift + scale * gen.normal());

interface Case {
  n: number;
  c: number;
  s: number;
  train: boolean;
  relu: boolean;
  affine: boolean;
}

function run(kernel: BatchNormKernel, x: Float32Array, g: Float32Array, running: Float64Array, params: { gamma: Float32Array | null; beta: Float32Array | null }, k: Case) {
  const args: BatchNormKernelArgs = { n: k.n, c: k.c, s: k.s, train: k.train, relu: k.relu, gamma: params.gamma, beta: params.beta, eps: 1e-5 };
  const y = new Float32Array(x.length);
  const stats = new Float64Array(3 * k.c);
  stats.set(running);
  const affine = new Float64Array(3 * k.c);
  expect(kernel.forward(x, y, args, stats, affine)).toBe(true);
  const dx = new Float32Array(x.length);
  const sums = new Float64Array(2 * k.c);
  expect(kernel.backward(x, g, dx, args, stats, affine, sums)).toBe(true);
  return { y, stats, dx, sums };
}

/** Within the tolerance; NaN and infinities where the reference has them. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, relative: boolean): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    if (!Number.isFinite(e)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) throw new Error(`${label}[${i}]: wasm ${a} vs reference ${e}`);
      continue;
    }
    const bound = relative ? 1e-5 * (1 + Math.abs(e)) : 1e-5 * Math.max(scale, 1e-30);
    if (!(Math.abs(a - e) <= bound)) throw new Error(`${label}[${i}]: wasm ${a} vs reference ${e}`);
  }
}

function compare(k: Case, edit?: (x: Float32Array) => void): void {
  const size = k.n * k.c * k.s;
  // An offset mean makes a one-pass variance lose digits; the two-pass kernels must not.
  const x = random(size, 3, 0.5);
  edit?.(x);
  const g = random(size);
  const running = new Float64Array(2 * k.c);
  for (let ch = 0; ch < k.c; ch++) {
    running[ch] = 3 + 0.1 * gen.normal();
    running[k.c + ch] = 0.25 + 0.1 * Math.abs(gen.normal());
  }
  const params = k.affine ? { gamma: random(k.c, 1, 0.2), beta: random(k.c, 0, 0.5) } : { gamma: null, beta: null };
  const want = run(batchNormReference, x, g, running, params, k);
  const got = run(batchNormWasm, x, g, running, params, k);
  expectClose(got.y, want.y, "y", true);
  expectClose(got.stats, want.stats, "stats", true);
  expectClose(got.dx, want.dx, "dx", false);
  expectClose(got.sums.subarray(0, k.c), want.sums.subarray(0, k.c), "sumG", false);
  expectClose(got.sums.subarray(k.c), want.sums.subarray(k.c), "sumGX", false);
}

const cases: Case[] = [];
// Statistics units of several small planes (s = 25, 7, 64, 3, 1; 1500 × 1: units of 1024 images, the last one
// shorter), of one plane (300, 1030) and of CHUNK-long pieces of one plane (1030, 2500); blocks of whole images
// and, where an image's channels exceed a block (80 × 1030), of a channel range.
for (const [n, c, s] of [[4, 3, 25], [2, 5, 7], [8, 16, 64], [3, 2, 1030], [1, 4, 3], [1500, 3, 1], [3, 4, 300], [2, 80, 1030], [2, 3, 2500]] as const) {
  for (const train of [true, false]) for (const relu of [false, true]) cases.push({ n, c, s, train, relu, affine: (n + c) % 2 === 0 || relu });
}
const name = (k: Case): string => `x=[${k.n},${k.c},${k.s}] train=${k.train} relu=${k.relu} affine=${k.affine}`;

describe.skipIf(!wasmAvailable())("batchNorm kernels: wasm against the reference", () => {
  for (const k of cases) it(name(k), () => compare(k));

  it("non-finite inputs: a channel with an infinity or a NaN gives the reference's mean, NaN variance and NaN outputs", () => {
    const k: Case = { n: 3, c: 4, s: 300, train: true, relu: true, affine: true };
    compare(k, (x) => {
      x[0 * 300 + 17] = Infinity; // channel 0
      x[(1 * 4 + 1) * 300 + 5] = -Infinity; // channel 1
      x[(2 * 4 + 2) * 300 + 299] = NaN; // channel 2
    });
    compare({ ...k, train: false }, (x) => {
      x[(1 * 4 + 3) * 300 + 2] = NaN;
    });
  });

  it("the reference's statistics are the batch's mean and biased variance, and y has mean β and std γ", () => {
    const [n, c, s] = [4, 2, 9];
    const x = random(n * c * s, 2, 3);
    const y = new Float32Array(x.length);
    const stats = new Float64Array(3 * c);
    const gamma = Float32Array.of(2, 0.5);
    const beta = Float32Array.of(1, -1);
    batchNormReference.forward(x, y, { n, c, s, train: true, relu: false, gamma, beta, eps: 0 }, stats, new Float64Array(3 * c));
    for (let ch = 0; ch < c; ch++) {
      const values: number[] = [];
      const outs: number[] = [];
      for (let b = 0; b < n; b++) for (let i = 0; i < s; i++) {
        values.push(x[(b * c + ch) * s + i]!);
        outs.push(y[(b * c + ch) * s + i]!);
      }
      const mean = (a: number[]): number => a.reduce((p, v) => p + v, 0) / a.length;
      const variance = (a: number[]): number => mean(a.map((v) => (v - mean(a)) ** 2));
      expect(stats[ch]).toBeCloseTo(mean(values), 5);
      expect(stats[c + ch]).toBeCloseTo(variance(values), 4);
      expect(mean(outs)).toBeCloseTo(beta[ch]!, 5);
      expect(Math.sqrt(variance(outs))).toBeCloseTo(gamma[ch]!, 4);
    }
  });
});

/**
 * A batch [n, c, s] normalised as two shards of images [0, cut) and [cut, n), each through a sync that
 * hands back the whole batch's statistics and gradient sums (taken by the reference on the whole batch)
 * and records the shard's own: the shards' outputs and input gradients must be the whole batch's, and
 * the shards' own figures must combine into the whole batch's.
 */
function compareShards(kernel: BatchNormKernel, k: Case, cut: number): void {
  const size = k.n * k.c * k.s;
  const x = random(size, 3, 0.5);
  const g = random(size);
  const params = k.affine ? { gamma: random(k.c, 1, 0.2), beta: random(k.c, 0, 0.5) } : { gamma: null, beta: null };
  const whole = run(batchNormReference, x, g, new Float64Array(2 * k.c), params, k);
  const m = k.n * k.s;
  const shards = [[0, cut], [cut, k.n]].map(([b0, b1]) => {
    const seen = { stats: new Float64Array(2 * k.c), count: 0, sums: new Float64Array(2 * k.c), sumsCount: 0 };
    const sync: BatchNormSync = {
      statistics(stats, c, count) {
        seen.stats.set(stats.subarray(0, 2 * c));
        seen.count = count;
        stats.set(whole.stats.subarray(0, 2 * c));
        return m;
      },
      gradientSums(sums, c, count, total) {
        seen.sums.set(sums.subarray(0, 2 * c));
        seen.sumsCount = count;
        total.set(whole.sums);
        return m;
      },
    };
    const [i0, i1] = [b0! * k.c * k.s, b1! * k.c * k.s];
    const args: BatchNormKernelArgs = { n: b1! - b0!, c: k.c, s: k.s, train: true, relu: k.relu, ...params, eps: 1e-5, sync };
    const [y, dx] = [new Float32Array(i1 - i0), new Float32Array(i1 - i0)];
    const [stats, affine, sums] = [new Float64Array(3 * k.c), new Float64Array(3 * k.c), new Float64Array(2 * k.c)];
    expect(kernel.forward(x.subarray(i0, i1), y, args, stats, affine)).toBe(true);
    expect(kernel.backward(x.subarray(i0, i1), g.subarray(i0, i1), dx, args, stats, affine, sums)).toBe(true);
    expect([seen.count, seen.sumsCount]).toEqual([(b1! - b0!) * k.s, (b1! - b0!) * k.s]);
    expect(sums).toEqual(seen.sums);
    return { y, dx, stats, seen };
  });
  const [a, b] = shards as [(typeof shards)[0], (typeof shards)[0]];
  expectClose(Float32Array.of(...a.y, ...b.y), whole.y, "y", true);
  expectClose(Float32Array.of(...a.dx, ...b.dx), whole.dx, "dx", false);
  expectClose(a.stats, whole.stats, "stats", true);
  // The shards' own statistics, combined by Chan's formula, and their own sums, added.
  const [na, nb] = [a.seen.count, b.seen.count];
  const combined = new Float64Array(2 * k.c);
  for (let ch = 0; ch < k.c; ch++) {
    const d = b.seen.stats[ch]! - a.seen.stats[ch]!;
    combined[ch] = a.seen.stats[ch]! + (d * nb) / (na + nb);
    combined[k.c + ch] = (a.seen.stats[k.c + ch]! * na + b.seen.stats[k.c + ch]! * nb + (d * d * na * nb) / (na + nb)) / (na + nb);
  }
  expectClose(combined, whole.stats.subarray(0, 2 * k.c), "combined stats", true);
  expectClose(a.seen.sums.map((v, i) => v + b.seen.sums[i]!), whole.sums, "combined sums", false);
}

describe("batchNorm kernels: a batch normalised by shards through a sync (synchronized BatchNorm)", () => {
  const shardCases: [Case, number][] = [
    [{ n: 5, c: 3, s: 25, train: true, relu: false, affine: true }, 2],
    [{ n: 4, c: 4, s: 300, train: true, relu: true, affine: false }, 1],
    [{ n: 8, c: 16, s: 64, train: true, relu: true, affine: true }, 4],
    [{ n: 3, c: 2, s: 2500, train: true, relu: false, affine: true }, 1],
  ];
  for (const [k, cut] of shardCases) {
    it(`reference ${name(k)} cut=${cut}`, () => compareShards(batchNormReference, k, cut));
    it.skipIf(!wasmAvailable())(`wasm ${name(k)} cut=${cut}`, () => compareShards(batchNormWasm, k, cut));
  }
});

describe.skipIf(!wasmAvailable())("batchNorm kernels: wasm on 2 threads against the reference", () => {
  beforeAll(async () => {
    expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
    expect(kernelInfo().families["batchNorm"]).toMatchObject({ backend: "wasm", threads: 2 });
  });
  afterAll(async () => {
    await stopWasmElementwiseThreads();
  });
  // Large enough to be split across the threads: by images, and by channel ranges of one image (40 × 1100).
  const split: Case[] = [
    { n: 8, c: 12, s: 1024, train: true, relu: true, affine: true },
    { n: 4, c: 9, s: 2049, train: true, relu: false, affine: false },
    { n: 8, c: 12, s: 1024, train: false, relu: true, affine: true },
    { n: 64, c: 16, s: 64, train: true, relu: true, affine: true },
    { n: 2, c: 40, s: 1100, train: true, relu: true, affine: false },
  ];
  for (const k of split) it(name(k), () => compare(k));

  it("more images than a job table holds, each larger than a block, and a small plane with a large batch: the same bits as on one thread", async () => {
    for (const k of [
      { n: 65, c: 64, s: 1025, train: true, relu: true, affine: true },
      { n: 2048, c: 32, s: 1, train: true, relu: false, affine: true },
    ]) {
      const size = k.n * k.c * k.s;
      // 4.3 M elements: a cheap pattern rather than normal draws.
      const x = new Float32Array(size);
      const g = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        x[i] = 3 + 0.5 * Math.sin(i * 0.7310585);
        g[i] = Math.cos(i * 0.1234567);
      }
      const running = new Float64Array(2 * k.c).fill(1);
      const params = { gamma: random(k.c, 1, 0.2), beta: random(k.c, 0, 0.5) };
      const threaded = run(batchNormWasm, x, g, running, params, k);
      await stopWasmElementwiseThreads();
      const single = run(batchNormWasm, x, g, running, params, k);
      expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
      for (const key of ["y", "stats", "dx", "sums"] as const) expect(Buffer.from(threaded[key].buffer).equals(Buffer.from(single[key].buffer)), `${name(k)} ${key}`).toBe(true);
      let mean = 0;
      for (let b = 0; b < k.n; b++) for (let i = 0; i < k.s; i++) mean += x[b * k.c * k.s + i]!;
      expect(single.stats[0]).toBeCloseTo(mean / (k.n * k.s), 5);
    }
  });

  it("the same bits as on one thread, call after call (the statistics' units do not depend on the blocks or on who claims them)", async () => {
    for (const k of split) {
      const size = k.n * k.c * k.s;
      const x = random(size, 3, 0.5);
      const g = random(size);
      const running = new Float64Array(2 * k.c).fill(1);
      const params = k.affine ? { gamma: random(k.c, 1, 0.2), beta: random(k.c, 0, 0.5) } : { gamma: null, beta: null };
      const threaded = [run(batchNormWasm, x, g, running, params, k), run(batchNormWasm, x, g, running, params, k), run(batchNormWasm, x, g, running, params, k)];
      await stopWasmElementwiseThreads();
      const single = run(batchNormWasm, x, g, running, params, k);
      expect(await installWasmElementwiseThreads({ threads: 2 })).toBe(true);
      for (const got of threaded) {
        for (const key of ["y", "stats", "dx", "sums"] as const) expect(Buffer.from(got[key].buffer).equals(Buffer.from(single[key].buffer)), `${name(k)} ${key}`).toBe(true);
      }
    }
  });
});
