import { Generator, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adaptiveAvgPool2dBackward, adaptiveAvgPool2dForward, globalMean, globalMeanKernels } from "./adaptive-pool2d.js";

// The float32 global mean (output 1×1) has flat loops of its own (eight partial sums); the general window
// loops run on float64 with the same values in scan order, and must give the same numbers once rounded to
// float32: bit for bit where the float64 sums are exact, within an ulp where they are not.

function values(n: number, seed: number): Float32Array {
  const gen = new Generator(seed);
  const a = Float32Array.from({ length: n }, () => gen.normal() * 3);
  a[4] = -0;
  a[5] = Infinity;
  a[7] = Number.NaN;
  a[45] = Number.NaN;
  return a;
}

describe("global mean (adaptive average pooling to 1×1), float32 fast path against the general loops", () => {
  const g = { planes: 6, inHeight: 5, inWidth: 7, outHeight: 1, outWidth: 1 };
  const size = 5 * 7;

  it("x=[2,3,5,7] forward at an offset, NaN and infinity included", () => {
    expect(globalMean(g)).toBe(true);
    const x = values(g.planes * size + 4, 1);
    const out = new Float32Array(g.planes);
    adaptiveAvgPool2dForward({ data: x, offset: 4 }, g, out);
    const ref = new Float64Array(g.planes);
    adaptiveAvgPool2dForward({ data: Float64Array.from(x), offset: 4 }, g, ref);
    expect(new Int32Array(out.buffer)).toEqual(new Int32Array(Float32Array.from(ref).buffer));
  });

  it("x=[2,3,5,7] backward writes every element (gx not zero-filled); a −0 gradient lands as +0", () => {
    const gy = values(g.planes + 3, 2);
    const gx = new Float32Array(g.planes * size).fill(123);
    adaptiveAvgPool2dBackward({ data: gy, offset: 3 }, g, gx);
    const ref = new Float64Array(g.planes * size);
    adaptiveAvgPool2dBackward({ data: Float64Array.from(gy), offset: 3 }, g, ref);
    expect(new Int32Array(gx.buffer)).toEqual(new Int32Array(Float32Array.from(ref).buffer));
  });

  it("other output sizes are not global means", () => {
    expect(globalMean({ ...g, outHeight: 2 })).toBe(false);
  });

  it("x=[4,16,8,8] (the CIFAR head's planes, 64 elements): bit for bit; values spanning 1e-30 to 1e30 (inexact float64 sums): within an ulp", () => {
    const h = { planes: 64, inHeight: 8, inWidth: 8, outHeight: 1, outWidth: 1 };
    const gen = new Generator(3);
    const normal = Float32Array.from({ length: 64 * 64 }, () => gen.normal());
    const wide = Float32Array.from({ length: 64 * 64 }, () => gen.normal() * 10 ** Math.round(gen.normal() * 30));
    for (const [x, ulps] of [[normal, 0], [wide, 1]] as const) {
      const out = new Float32Array(h.planes);
      adaptiveAvgPool2dForward({ data: x, offset: 0 }, h, out);
      const ref = new Float64Array(h.planes);
      adaptiveAvgPool2dForward({ data: Float64Array.from(x), offset: 0 }, h, ref);
      const want = Float32Array.from(ref);
      for (let p = 0; p < h.planes; p++) {
        const apart = Math.abs(new Int32Array(out.buffer)[p]! - new Int32Array(want.buffer)[p]!);
        if (apart > ulps) expect.fail(`plane ${p}: ${out[p]} vs ${want[p]} (${apart} ulps apart)`);
      }
    }
  });
});

/** Values of every kind the sums meet: specials (NaN, ±Infinity, −0, subnormals) and magnitudes from 1e-30 to 1e30 (inexact float64 sums). */
function mixed(n: number, seed: number): Float32Array {
  const gen = new Generator(seed);
  const specials = [Number.NaN, Infinity, -Infinity, -0, 0, 1e-40, -3e-39];
  return Float32Array.from({ length: n }, (_, i) =>
    i % 97 === 13 ? specials[gen.randint(specials.length)]! : gen.normal() * 10 ** Math.round(gen.normal() * (i % 3 === 0 ? 30 : 1)),
  );
}

/** The first index where two float32 arrays differ in bits, NaN payloads aside, or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Int32Array(a.buffer, a.byteOffset, a.length), new Int32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < a.length; i++) if (x[i] !== y[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

/**
 * The WebAssembly global mean gives the TypeScript loops' bits, forward and backward (written over NaNs: every
 * element must be written), for planes of `size` values; `make` places the arrays (ordinary or resident).
 */
function compareGlobalMean(planes: number, size: number, seed: number, make: (a: Float32Array) => Float32Array = (a) => a): void {
  const js = globalMeanKernels.implementation("js")!;
  const x = mixed(planes * size, seed);
  const gy = mixed(planes, seed + 1);
  const want = new Float32Array(planes);
  js.forward(x, want, planes, size);
  const wantGx = new Float32Array(planes * size).fill(Number.NaN);
  js.backward(gy, wantGx, planes, size);
  const out = make(new Float32Array(planes).fill(Number.NaN));
  // The module's own entry points, which report a fallback (the family's "wasm" would fall back to the loops silently).
  expect(kernels.globalMeanWasm(make(x), out, planes, size)).toBe(true);
  expect(firstBitDifference(out, want), `forward ${planes}x${size}`).toBe(-1);
  const gx = make(new Float32Array(planes * size).fill(Number.NaN));
  expect(kernels.globalMeanBackwardWasm(make(gy), gx, planes, size)).toBe(true);
  expect(firstBitDifference(gx, wantGx), `backward ${planes}x${size}`).toBe(-1);
}

describe.skipIf(!kernels.wasmAvailable())("globalMean kernels: WebAssembly against the TypeScript loops, bit for bit", () => {
  // Sizes below, at and past a vector of 8 with tails; 600 and 9 planes of 8x8 and 64x64 span several of the calling thread's blocks.
  for (const [planes, size] of [[5, 1], [7, 7], [3, 8], [6, 15], [9, 49], [600, 64], [9, 4096], [2, 1025]] as const) {
    it(`planes=${planes} size=${size}`, () => compareGlobalMean(planes, size, planes + size));
  }
});

describe.skipIf(!kernels.wasmAvailable())("globalMean kernels on 2 threads (split by planes), ordinary and resident arrays", () => {
  beforeAll(async () => {
    expect(await enableThreads(2)).toBe(true);
  });
  afterAll(async () => {
    await disableThreads();
  });
  const resident = (a: Float32Array): Float32Array => {
    const r = kernels.empty("float32", [a.length]).data as Float32Array;
    r.set(a);
    return r;
  };
  // [64, 128, 8, 8]: the CIFAR-shaped network's head in training; 1,000 planes of 49 (7x7, odd tails) split unevenly.
  for (const [planes, size] of [[8192, 64], [1000, 49]] as const) {
    it(`planes=${planes} size=${size}, ordinary arrays`, () => compareGlobalMean(planes, size, 11));
    it(`planes=${planes} size=${size}, resident arrays`, () => compareGlobalMean(planes, size, 12, resident));
  }
});
