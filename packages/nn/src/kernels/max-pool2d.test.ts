import { Generator, kernels } from "@pico/core";
import { enableThreads, disableThreads } from "@pico/core/threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxPool2dForward, maxPool2x2Kernels } from "./max-pool2d.js";
import { pool2dGeometry } from "./pool-geometry.js";

// Values that stress the float32 2×2 kernel's integer ordering: signed zeros, infinities, NaNs of
// both signs, denormals, ties, and ordinary numbers of both signs.
const specials = [0, -0, Infinity, -Infinity, Number.NaN, 1e-45, -1e-45, 1, -1, 2.5, -2.5, 3.4e38, -3.4e38];

function sample(n: number, seed: number, withNaN: boolean): Float32Array {
  const gen = new Generator(seed);
  const a = new Float32Array(n);
  const bits = new Int32Array(a.buffer);
  for (let i = 0; i < n; i++) {
    const r = gen.random();
    if (r < 0.4) a[i] = specials[gen.randint(specials.length)]!;
    else a[i] = Math.round(gen.normal() * 4) / 2;
    if (!withNaN && Number.isNaN(a[i])) a[i] = 0;
    if (withNaN && r > 0.98) bits[i] = 0xffc00000 | 0;
  }
  return a;
}

describe("maxPool2dForward float32 2×2 (branch-free) against the float64 comparisons", () => {
  for (const stride of [2, 1, [1, 2]] as const) {
    for (const withNaN of [false, true]) {
      it(`x=[3,2,7,9] k=2 s=${JSON.stringify(stride)}${withNaN ? " with NaNs of both signs" : ""}: same values (bits of ±0 included) and arg-max`, () => {
        const shape = [3, 2, 7, 9];
        const g = pool2dGeometry("test", shape, 2, { stride });
        const n = 3 * 2 * 7 * 9;
        const offset = 5;
        const x32 = new Float32Array(n + offset);
        x32.set(sample(n, withNaN ? 2 : 1, withNaN), offset);
        const x64 = Float64Array.from(x32);
        const size = g.batch * g.channels * g.outHeight * g.outWidth;
        const [out32, out64] = [new Float32Array(size), new Float64Array(size)];
        const [arg32, arg64] = [new Int32Array(size), new Int32Array(size)];
        maxPool2dForward({ data: x32, offset }, g, out32, arg32);
        maxPool2dForward({ data: x64, offset }, g, out64, arg64);
        const same = Array.from(out32).every((v, i) => Object.is(v, out64[i]) || (Number.isNaN(v) && Number.isNaN(out64[i])));
        expect(same).toBe(true);
        expect(Array.from(arg32)).toEqual(Array.from(arg64));
        const noIndex = new Float32Array(size);
        maxPool2dForward({ data: x32, offset }, g, noIndex, null);
        expect(new Int32Array(noIndex.buffer)).toEqual(new Int32Array(out32.buffer));
      });
    }
  }
});

/** The first index where a and b differ, or -1 (toEqual on arrays this long takes a second). */
function firstDifference(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Every registered 2×2 kernel gives the reference's value bits (NaN signs included) and arg-max indices,
 * and from a gradient with the same special values (−0, NaN, infinities), the reference's input gradient
 * bits (written over garbage: the backward must write every element).
 */
function compareImplementations(shape: [number, number, number, number], stride: number, seed: number): void {
  const g = pool2dGeometry("test", shape, 2, { stride });
  const x = sample(shape.reduce((a, b) => a * b, 1), seed, true);
  const size = g.batch * g.channels * g.outHeight * g.outWidth;
  const gy = sample(size, seed + 1, true);
  const run = (backend: kernels.KernelBackend, withArgmax: boolean) => {
    const kernel = maxPool2x2Kernels.implementation(backend)!;
    const out = new Float32Array(size);
    const argmax = withArgmax ? new Int32Array(size) : null;
    const ran = kernel.forward(x, g, out, argmax);
    const gx = new Float32Array(x.length).fill(Number.NaN);
    const ranBackward = argmax !== null && kernel.backward(gy, argmax, gx, g);
    const bits = (a: Float32Array) => new Int32Array(a.buffer);
    return { ran, bits: bits(out), argmax, ranBackward, gx: bits(gx) };
  };
  const want = run("reference", true);
  for (const backend of ["js", ...(kernels.wasmAvailable() ? ["wasm" as const] : [])] as const) {
    for (const withArgmax of [true, false]) {
      const got = run(backend, withArgmax);
      if (!got.ran) continue;
      expect(firstDifference(got.bits, want.bits), `${backend} values`).toBe(-1);
      if (withArgmax) expect(firstDifference(got.argmax!, want.argmax!), `${backend} arg-max`).toBe(-1);
      if (got.ranBackward) expect(firstDifference(got.gx, want.gx), `${backend} input gradient`).toBe(-1);
    }
  }
}

describe("maxPool2x2 kernels against the reference, bit for bit", () => {
  // [4,8,32,34] and [2,40,33,35] (odd: a row and a column outside every window) span several of the wasm kernels' blocks.
  for (const [shape, stride] of [[[2, 3, 8, 8], 2], [[1, 2, 7, 13], 2], [[2, 2, 5, 9], 1], [[4, 8, 32, 34], 2], [[2, 40, 33, 35], 2]] as const) {
    it(`x=[${shape}] s=${stride}`, () => compareImplementations([...shape], stride, 3));
  }
});

describe.skipIf(!kernels.wasmAvailable())("maxPool2x2 kernels on 2 threads against the reference", () => {
  beforeAll(async () => {
    expect(await enableThreads(2)).toBe(true);
  });
  afterAll(async () => {
    await disableThreads();
  });
  it("x=[8,16,32,30] s=2 (split by plane)", () => compareImplementations([8, 16, 32, 30], 2, 4));
});

