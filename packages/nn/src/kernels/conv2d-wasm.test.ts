import { Generator, kernels, useKernels } from "@pico/core";
import { afterEach, describe, expect, it } from "vitest";
import { conv2dGeometry, type Conv2dOptions } from "../functional/conv2d.js";
import { conv2dBackwardReference, conv2dReference, type Conv2dReferenceArgs } from "./conv2d-reference.js";
import { wasmConv2dBackward, wasmConv2dForward, wasmConv2dReluMaxPool2dBackward, wasmConv2dReluMaxPool2dForward } from "./conv2d-wasm.js";
import { pool2dGeometry } from "./pool-geometry.js";
import { maxPool2dReference } from "./pool2d-reference.js";
import { col2im, col2imReference, im2col, im2colReference } from "./im2col.js";
import { expectClose } from "./test-utils/compare.js";

const gen = new Generator(2024);
const random32 = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const pick = <T>(xs: readonly T[]): T => xs[gen.randint(xs.length)]!;

interface Case {
  x: [number, number, number, number];
  w: [number, number, number, number];
  options: Required<Conv2dOptions> & { stride: [number, number]; padding: [number, number]; dilation: [number, number] };
}

/** Random geometries: odd sizes, stride, padding, dilation and groups; batch 1 or 3; redrawn until the output is non-empty. */
function randomCase(): Case {
  for (;;) {
    const groups = pick([1, 1, 2, 3]);
    const x: Case["x"] = [pick([1, 3]), groups * pick([1, 2, 3]), pick([1, 4, 7, 9, 12]), pick([1, 5, 8, 11])];
    const w: Case["w"] = [groups * pick([1, 2, 5]), x[1] / groups, pick([1, 2, 3, 5]), pick([1, 2, 3])];
    const options = {
      stride: [pick([1, 1, 2, 3]), pick([1, 2])] as [number, number],
      padding: [pick([0, 0, 1, 2]), pick([0, 1])] as [number, number],
      dilation: [pick([1, 1, 2]), pick([1, 2])] as [number, number],
      groups,
    };
    const oh = Math.floor((x[2] + 2 * options.padding[0] - options.dilation[0] * (w[2] - 1) - 1) / options.stride[0]) + 1;
    const ow = Math.floor((x[3] + 2 * options.padding[1] - options.dilation[1] * (w[3] - 1) - 1) / options.stride[1]) + 1;
    if (oh >= 1 && ow >= 1) return { x, w, options };
  }
}

/** Random geometries the module computes without im2col: one group, unit stride and dilation, no padding, outC a multiple of 4, output rows a multiple of 8 (at least 2 of them, to pool). */
function randomDirectCase(): Case {
  const kH = pick([1, 2, 3, 5]);
  const kW = pick([1, 2, 3, 5]);
  const c = pick([1, 2, 3]);
  const x: Case["x"] = [pick([1, 3]), c, kH - 1 + pick([2, 5, 8]), kW - 1 + pick([8, 16])];
  return { x, w: [pick([4, 8, 12]), c, kH, kW], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } };
}

const cases: Case[] = [
  { x: [3, 1, 28, 28], w: [8, 1, 5, 5], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [1, 8, 12, 12], w: [16, 8, 5, 5], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [3, 4, 9, 7], w: [6, 2, 3, 3], options: { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 } },
  ...Array.from({ length: 24 }, randomCase),
  ...Array.from({ length: 6 }, randomDirectCase),
];
const name = (c: Case): string =>
  `x=[${c.x.join(",")}] w=[${c.w.join(",")}] s=[${c.options.stride.join(",")}] p=[${c.options.padding.join(",")}] d=[${c.options.dilation.join(",")}] g=${c.options.groups}`;

function referenceArgs(c: Case, x: Float32Array, w: Float32Array): Conv2dReferenceArgs {
  return { x: Float64Array.from(x), xShape: c.x, w: Float64Array.from(w), wShape: c.w, stride: c.options.stride, padding: c.options.padding, dilation: c.options.dilation, groups: c.options.groups };
}

describe("wasmConv2dForward / wasmConv2dBackward against the nested-loop reference", () => {
  it("runs here (Node 20 has WebAssembly SIMD), so the tests below exercise the module", () => {
    expect(kernels.conv2dWasmAvailable()).toBe(true);
  });

  for (const c of cases) {
    it(`${name(c)}: output, ReLU output and the input, weight and bias gradients`, () => {
      const g = conv2dGeometry(c.x, c.w, [c.w[0]], c.options);
      const x = random32(2 + c.x.reduce((p, q) => p * q));
      const w = random32(c.w.reduce((p, q) => p * q));
      const b = random32(c.w[0]);
      const args = referenceArgs(c, x.subarray(2), w);
      const expected = conv2dReference(args, Float64Array.from(b));
      const out = new Float32Array(expected.length).fill(Number.NaN);
      expect(wasmConv2dForward({ data: x, offset: 2 }, { data: w, offset: 0 }, { data: b, offset: 0 }, g, out)).toBe(true);
      expectClose(out, expected, "output", 1e-4, 1e-4);
      expect(wasmConv2dForward({ data: x, offset: 2 }, { data: w, offset: 0 }, { data: b, offset: 0 }, g, out, true)).toBe(true);
      expectClose(out, expected.map((v) => Math.max(v, 0)), "ReLU output", 1e-4, 1e-4);

      const gy = random32(expected.length);
      const ref = conv2dBackwardReference(args, Float64Array.from(gy));
      const gx = new Float32Array(args.x.length).fill(Number.NaN);
      const gw = new Float32Array(w.length).fill(Number.NaN);
      const gb = new Float32Array(b.length).fill(Number.NaN);
      expect(wasmConv2dBackward({ data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 2 }, g, gx, gw, gb)).toBe(true);
      expectClose(gx, ref.gradInput, "input gradient", 1e-4, 1e-4);
      expectClose(gw, ref.gradWeight, "weight gradient", 1e-4, 1e-4);
      expectClose(gb, ref.gradBias, "bias gradient", 1e-4, 1e-4);
      const gwOnly = new Float32Array(w.length);
      expect(wasmConv2dBackward({ data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 2 }, g, null, gwOnly, null)).toBe(true);
      expectClose(gwOnly, ref.gradWeight, "weight gradient alone", 1e-4, 1e-4);
    });
  }

  it("declines float64 (gradcheck's dtype) and a weight gradient without x, writing nothing", () => {
    const c = cases[2]!;
    const g = conv2dGeometry(c.x, c.w, null, c.options);
    const x64 = Float64Array.from(random32(c.x.reduce((p, q) => p * q)));
    const w = random32(c.w.reduce((p, q) => p * q));
    const out = new Float64Array(c.x[0] * c.w[0] * g.outHeight * g.outWidth).fill(7);
    expect(wasmConv2dForward({ data: x64, offset: 0 }, { data: w, offset: 0 }, null, g, out)).toBe(false);
    expect(out.every((v) => v === 7)).toBe(true);
    const gw = new Float32Array(w.length).fill(7);
    expect(wasmConv2dBackward({ data: new Float32Array(out.length), offset: 0 }, { data: w, offset: 0 }, null, g, null, gw, null)).toBe(false);
    expect(gw.every((v) => v === 7)).toBe(true);
  });
});

describe("wasmConv2dReluMaxPool2dForward / Backward against the nested-loop conv, ReLU and max-pool references", () => {
  for (const c of [...cases.slice(0, 14), ...cases.slice(-6)]) {
    it(`${name(c)}: pooled output, arg-max indices and gradients (and declines a pool other than 2×2 stride 2)`, () => {
      const g = conv2dGeometry(c.x, c.w, [c.w[0]], c.options);
      const pool = pool2dGeometry("test", [c.x[0], c.w[0], g.outHeight, g.outWidth], 2, {});
      const flat = (data: Float32Array) => ({ data, offset: 0 });
      const x = random32(c.x.reduce((p, q) => p * q));
      const w = random32(c.w.reduce((p, q) => p * q));
      const b = random32(c.w[0]);
      const pool3 = pool2dGeometry("test", [c.x[0], c.w[0], g.outHeight, g.outWidth], 1, {});
      expect(wasmConv2dReluMaxPool2dForward(flat(x), flat(w), flat(b), g, pool3, new Float32Array(c.x[0] * c.w[0] * g.outHeight * g.outWidth), null)).toBe(false);
      const pooledSize = c.x[0] * c.w[0] * pool.outHeight * pool.outWidth;
      if (pooledSize === 0) return;

      const args = referenceArgs(c, x, w);
      const conv = conv2dReference(args, Float64Array.from(b));
      const relu = conv.map((v) => Math.max(v, 0));
      const gy = random32(pooledSize);
      const poolArgs = { x: relu, xShape: [c.x[0], c.w[0], g.outHeight, g.outWidth] as const, kernel: [2, 2] as const, stride: [2, 2] as const, padding: [0, 0] as const };
      const pooled = maxPool2dReference(poolArgs, Float64Array.from(gy));
      const gradConv = pooled.gradInput.map((v, i) => (conv[i]! > 0 ? v : 0));
      const ref = conv2dBackwardReference(args, gradConv);

      const out = new Float32Array(pooledSize).fill(Number.NaN);
      const argmax = new Int32Array(pooledSize);
      expect(wasmConv2dReluMaxPool2dForward(flat(x), flat(w), flat(b), g, pool, out, argmax)).toBe(true);
      expectClose(out, pooled.out, "pooled output", 1e-4, 1e-4);
      const convImage = c.w[0] * g.outHeight * g.outWidth;
      const perImage = pooledSize / c.x[0];
      argmax.forEach((index, o) => {
        if (index === -1) expect(out[o]).toBe(0);
        else expect(Math.abs(conv[Math.floor(o / perImage) * convImage + index]! - out[o]!)).toBeLessThan(1e-4);
      });

      const got = { gx: new Float32Array(x.length).fill(Number.NaN), gw: new Float32Array(w.length).fill(Number.NaN), gb: new Float32Array(b.length).fill(Number.NaN) };
      expect(wasmConv2dReluMaxPool2dBackward(flat(gy), argmax, flat(w), flat(x), g, pool, got.gx, got.gw, got.gb)).toBe(true);
      expectClose(got.gx, ref.gradInput, "input gradient", 1e-4, 1e-4);
      expectClose(got.gw, ref.gradWeight, "weight gradient", 1e-4, 1e-4);
      expectClose(got.gb, ref.gradBias, "bias gradient", 1e-4, 1e-4);
      // The TypeScript fused kernel marks "nothing > 0" with an index past the image's output: no gradient either.
      const spare = argmax.map((i) => (i < 0 ? convImage : i));
      const again = new Float32Array(x.length);
      expect(wasmConv2dReluMaxPool2dBackward(flat(gy), spare, flat(w), null, g, pool, again, null, null)).toBe(true);
      expectClose(again, ref.gradInput, "input gradient with spare-slot indices", 1e-4, 1e-4);
    });
  }
});

describe("im2col / col2im dispatch (WebAssembly for float32) against the TypeScript reference", () => {
  afterEach(() => {
    useKernels("wasm");
  });

  for (const c of cases) {
    it(`${name(c)}: the same columns and the same col2im sums, with offsets and a wider ld`, () => {
      const g = conv2dGeometry(c.x, c.w, null, c.options);
      const channels = c.w[1];
      const plane = g.outHeight * g.outWidth;
      const rows = channels * g.kernelHeight * g.kernelWidth;
      const ld = plane + 3;
      const x = random32(1 + channels * g.inHeight * g.inWidth);
      const fast = new Float32Array(2 + rows * ld);
      const slow = new Float32Array(fast.length);
      im2col(x, 1, channels, g, fast, 2, ld);
      im2colReference(x, 1, channels, g, slow, 2, ld);
      expect(fast).toEqual(slow);
      const y = random32(fast.length);
      const back = random32(x.length);
      const backRef = Float32Array.from(back);
      col2im(y, 2, ld, channels, g, back, 1);
      col2imReference(y, 2, ld, channels, g, backRef, 1);
      expectClose(back, backRef, "col2im", 1e-6, 1e-6);
    });
  }

  it("float64 and useKernels('js') go through the TypeScript reference and still agree", () => {
    const c = cases[2]!;
    const g = conv2dGeometry(c.x, c.w, null, c.options);
    const plane = g.outHeight * g.outWidth;
    const x = random32(c.x[1] * g.inHeight * g.inWidth);
    const expected = new Float32Array(c.w[1] * 9 * plane * 2);
    im2colReference(x, 0, c.w[1], g, expected);
    const cols64 = new Float64Array(expected.length);
    im2col(Float64Array.from(x), 0, c.w[1], g, cols64);
    expect(Array.from(cols64)).toEqual(Array.from(expected));
    useKernels("js");
    const cols32 = new Float32Array(expected.length);
    im2col(x, 0, c.w[1], g, cols32);
    expect(cols32).toEqual(expected);
    expect(wasmConv2dForward({ data: x, offset: 0 }, { data: random32(c.w.reduce((p, q) => p * q)), offset: 0 }, null, g, new Float32Array(c.w[0] * plane * 4))).toBe(false);
  });
});
