import { afterEach, describe, expect, it } from "vitest";
import { Generator } from "../../random.js";
import { useKernels } from "../registry.js";
import { conv2dBackward, conv2dForward, conv2dGemmKernel, conv2dKernels, conv2dWasmKernel, type Conv2dKernel } from "./conv2d.js";
import { conv2dBackwardReference, conv2dReference, type Conv2dReferenceArgs } from "./conv2d-reference.js";
import type { Conv2dGeometry } from "./geometry.js";
import { expectClose } from "./test-utils/compare.js";
import { geometryOf } from "./test-utils/geometry.js";

const gen = new Generator(2024);
const random32 = (length: number): Float32Array => Float32Array.from({ length }, () => gen.normal());
const pick = <T>(xs: readonly T[]): T => xs[gen.randint(xs.length)]!;

interface Case {
  x: [number, number, number, number];
  w: [number, number, number, number];
  options: { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number };
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

/**
 * Random geometries the module computes without im2col (conv2dDirect): one group, unit stride and
 * dilation, outC a multiple of 4, output rows a multiple of 8; any padding (each image is padded in
 * the module first), including more than the kernel covers.
 */
function randomDirectCase(): Case {
  const kH = pick([1, 2, 3, 5]);
  const kW = pick([1, 2, 3, 5, 7]);
  const c = pick([1, 2, 3, 5]);
  const pH = pick([0, 0, 1, 2]);
  const pW = pick([0, 1, 3]);
  const h = Math.max(1, kH - 1 - 2 * pH + pick([2, 5, 8]));
  let w = kW - 1 - 2 * pW + pick([8, 16]);
  if (w < 1) w += 8;
  const x: Case["x"] = [pick([1, 3]), c, h, w];
  return { x, w: [pick([4, 8, 12]), c, kH, kW], options: { stride: [1, 1], padding: [pH, pW], dilation: [1, 1], groups: 1 } };
}

const cases: Case[] = [
  { x: [3, 1, 28, 28], w: [8, 1, 5, 5], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [1, 8, 12, 12], w: [16, 8, 5, 5], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [3, 4, 9, 7], w: [6, 2, 3, 3], options: { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 } },
  ...Array.from({ length: 24 }, randomCase),
  ...Array.from({ length: 10 }, randomDirectCase),
  // 1×1, unit stride, no padding, not the direct kernel's (outC not a multiple of 4): the planes are the columns.
  { x: [3, 6, 5, 7], w: [5, 6, 1, 1], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
  { x: [2, 4, 4, 5], w: [6, 2, 1, 1], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 } },
  { x: [2, 64, 8, 8], w: [30, 64, 1, 1], options: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } },
];
const name = (c: Case): string =>
  `x=[${c.x.join(",")}] w=[${c.w.join(",")}] s=[${c.options.stride.join(",")}] p=[${c.options.padding.join(",")}] d=[${c.options.dilation.join(",")}] g=${c.options.groups}`;

function referenceArgs(c: Case, x: Float32Array, w: Float32Array): Conv2dReferenceArgs {
  return { x: Float64Array.from(x), xShape: c.x, w: Float64Array.from(w), wShape: c.w, stride: c.options.stride, padding: c.options.padding, dilation: c.options.dilation, groups: c.options.groups };
}

/** Float32 tolerances against the float64 reference: im2col + GEMM sums in float32 (errors grow with the taps summed). */
const TOL = { atol: 1e-4, rtol: 1e-4 };

function check(kernel: Conv2dKernel, c: Case, options: { chunkColumns?: number } = {}): void {
  checkWith(kernel, c, TOL, options);
}

function checkWith(kernel: Conv2dKernel, c: Case, tol: { atol: number; rtol: number }, options: { chunkColumns?: number } = {}): void {
  const g = geometryOf(c.x, c.w, c.options);
  const x = random32(2 + c.x.reduce((p, q) => p * q));
  const w = random32(c.w.reduce((p, q) => p * q));
  const b = random32(c.w[0]);
  const args = referenceArgs(c, x.subarray(2), w);
  const expected = conv2dReference(args, Float64Array.from(b));
  const out = new Float32Array(expected.length).fill(Number.NaN);
  const saved = kernel.forward(g, { data: x, offset: 2 }, { data: w, offset: 0 }, { data: b, offset: 0 }, out, { ...options, keepForBackward: true });
  expect(saved).not.toBeNull();
  expectClose(out, expected, "output", tol.atol, tol.rtol);
  const relu = new Float32Array(expected.length).fill(Number.NaN);
  kernel.forward(g, { data: x, offset: 2 }, { data: w, offset: 0 }, { data: b, offset: 0 }, relu, { ...options, relu: true });
  expectClose(relu, expected.map((v) => Math.max(v, 0)), "ReLU output", tol.atol, tol.rtol);
  // PyTorch's relu keeps NaN: a NaN bias makes output channel 0 NaN in every image, and nothing else.
  const nanBias = Float32Array.from(b, (v, i) => (i === 0 ? Number.NaN : v));
  kernel.forward(g, { data: x, offset: 2 }, { data: w, offset: 0 }, { data: nanBias, offset: 0 }, relu, { ...options, relu: true });
  const plane = g.outHeight * g.outWidth;
  expect(relu.findIndex((v, i) => Number.isNaN(v) !== (Math.floor(i / plane) % g.outChannels === 0)), "ReLU of a NaN bias").toBe(-1);
  const gy = random32(expected.length);
  const ref = conv2dBackwardReference(args, Float64Array.from(gy));
  const grads = { input: new Float32Array(args.x.length).fill(Number.NaN), weight: new Float32Array(w.length).fill(Number.NaN), bias: new Float32Array(b.length).fill(Number.NaN) };
  kernel.backward(g, saved!, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 2 }, grads);
  expectClose(grads.input, ref.gradInput, "input gradient", tol.atol, tol.rtol);
  expectClose(grads.weight, ref.gradWeight, "weight gradient", tol.atol, tol.rtol);
  expectClose(grads.bias, ref.gradBias, "bias gradient", tol.atol, tol.rtol);
  const inputOnly = { input: new Float32Array(args.x.length).fill(Number.NaN), weight: null, bias: null };
  kernel.backward(g, saved!, { data: gy, offset: 0 }, { data: w, offset: 0 }, null, inputOnly);
  expectClose(inputOnly.input, ref.gradInput, "input gradient alone", tol.atol, tol.rtol);
}

describe("conv2d kernels against the nested-loop reference (float32, forward, ReLU forward and every gradient)", () => {
  for (const c of cases) {
    it(`wasm ${name(c)}`, () => check(conv2dWasmKernel, c));
    it(`js ${name(c)}`, () => check(conv2dGemmKernel, c));
    if (c.x[0] > 1) it(`js ${name(c)}, one GEMM for the whole batch`, () => check(conv2dGemmKernel, c, { chunkColumns: 1 << 20 }));
  }
});

/**
 * Geometries the module computes by Winograd's F(4×4, 3×3) (assembly/winograd3x3.ts): one group, 3×3,
 * unit stride, at least 16 input and output channels; any padding, sizes not multiples of the 4×4 tile.
 */
function randomWinogradCase(): Case {
  const c = pick([16, 17, 24, 40]);
  const p = pick([0, 1, 1, 2]);
  const x: Case["x"] = [pick([1, 2, 5]), c, pick([3, 4, 8, 9, 14]), pick([3, 5, 8, 13, 16])];
  return { x, w: [pick([16, 20, 32]), c, 3, 3], options: { stride: [1, 1], padding: [p, p], dilation: [1, 1], groups: 1 } };
}

describe("F(4×4, 3×3) Winograd (wasm) against the nested-loop reference", () => {
  // Float32 Winograd rounds differently from the direct sum: its transforms scale values by up to 8 and 1/24
  // and cancel, so errors grow with the channels summed. Measured on these cases: ≤ 3e-5 relative to the
  // output's scale (inputs and weights standard normal, so outputs are ~sqrt(9·C)); cuDNN documents F(4×4, 3×3)
  // as less accurate than direct convolution in the same way. Tolerance: 2e-4 of sqrt(9·C) absolute.
  const cases = [
    { x: [2, 32, 32, 32], w: [32, 32, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } } as Case,
    { x: [3, 64, 8, 8], w: [128, 64, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } } as Case,
    // Channel counts neither a multiple of 4 nor of 16, in and out: the weight transforms' partial vectors and cache lines (forward and flipped).
    { x: [2, 18, 9, 13], w: [21, 18, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } } as Case,
    ...Array.from({ length: 12 }, randomWinogradCase),
  ];
  for (const c of cases) {
    it(`${name(c)}`, () => {
      const scale = Math.sqrt(9 * c.x[1]);
      checkWith(conv2dWasmKernel, c, { atol: 2e-4 * scale, rtol: 1e-4 });
    });
  }
});

describe("the WebAssembly backward over several slices of images (the later ones adding to the first's sums)", () => {
  // x, gy and the input gradient take 192 KB per image (Winograd) and 96 KB (im2col): two slices of 1 MB each.
  it("Winograd: x=[7,16,32,32] w=[16,16,3,3] p=1", () => {
    checkWith(conv2dWasmKernel, { x: [7, 16, 32, 32], w: [16, 16, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } }, { atol: 2e-4 * 12, rtol: 1e-4 });
  });
  it("im2col: x=[11,8,32,32] w=[8,8,3,3] p=1", () => {
    check(conv2dWasmKernel, { x: [11, 8, 32, 32], w: [8, 8, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } });
  });
});

/** Depthwise geometries (one kernel per channel), which the module computes without im2col. */
function randomDepthwiseCase(): Case {
  const c = pick([3, 8, 13]);
  const k: [number, number] = pick([[3, 3], [5, 5], [7, 7], [3, 5]] as [number, number][]);
  const s = pick([1, 1, 2]);
  const p = pick([0, 1, 2, 3]);
  const x: Case["x"] = [pick([1, 3]), c, k[0] + pick([0, 3, 9, 12]), k[1] + pick([1, 4, 11, 16])];
  return { x, w: [c, 1, k[0], k[1]], options: { stride: [s, s], padding: [p, Math.min(p, 2)], dilation: [1, 1], groups: c } };
}

describe("depthwise convolution (wasm, no im2col) against the nested-loop reference", () => {
  for (const c of Array.from({ length: 14 }, randomDepthwiseCase)) {
    it(name(c), () => check(conv2dWasmKernel, c));
  }
});

describe("conv2dForward / conv2dBackward (the family's wrapper)", () => {
  afterEach(() => useKernels("wasm"));
  const c = cases[2]!;
  const g: Conv2dGeometry = geometryOf(c.x, c.w, c.options);
  const size = (s: readonly number[]): number => s.reduce((p, q) => p * q);

  it("runs the chosen backend and records it for backward", () => {
    for (const backend of ["wasm", "js", "reference"] as const) {
      useKernels(backend);
      expect(conv2dKernels.resolve().backend).toBe(backend);
      const run = conv2dForward(g, { data: random32(size(c.x)), offset: 0 }, { data: random32(size(c.w)), offset: 0 }, null, new Float32Array(c.x[0] * c.w[0] * g.outHeight * g.outWidth));
      expect(run.kernel.backend).toBe(backend);
    }
  });

  it("float64 under wasm runs (and records) the TypeScript kernel, and matches the reference", () => {
    useKernels("wasm");
    const x = Float64Array.from(random32(size(c.x)));
    const w = Float64Array.from(random32(size(c.w)));
    const out = new Float64Array(c.x[0] * c.w[0] * g.outHeight * g.outWidth);
    const run = conv2dForward(g, { data: x, offset: 0 }, { data: w, offset: 0 }, null, out, { keepForBackward: true });
    expect(run.kernel.backend).toBe("js");
    const args: Conv2dReferenceArgs = { x, xShape: c.x, w, wShape: c.w, stride: c.options.stride, padding: c.options.padding, dilation: c.options.dilation, groups: c.options.groups };
    expectClose(out, conv2dReference(args, null), "float64 output", 1e-10, 1e-10);
  });

  it("a backward after useKernels changed runs the forward's kernel, with the same gradients", () => {
    const x = random32(size(c.x));
    const w = random32(size(c.w));
    const gy = random32(c.x[0] * c.w[0] * g.outHeight * g.outWidth);
    const gradients = (switchTo: "wasm" | "js"): Float32Array[] => {
      useKernels("wasm");
      const run = conv2dForward(g, { data: x, offset: 0 }, { data: w, offset: 0 }, null, new Float32Array(gy.length), { keepForBackward: true });
      useKernels(switchTo);
      const grads = { input: new Float32Array(x.length), weight: new Float32Array(w.length), bias: null };
      conv2dBackward(run, g, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: x, offset: 0 }, grads);
      return [grads.input, grads.weight];
    };
    const same = gradients("wasm");
    const switched = gradients("js");
    expect(switched[0]).toEqual(same[0]);
    expect(switched[1]).toEqual(same[1]);
  });
});

describe("Winograd geometries with a NaN or an infinity (checked in the module, slice by slice)", () => {
  // 20 images of 16×32×32 make two slices; the NaN sits in the last image, the second slice.
  const x: Case["x"] = [20, 16, 32, 32];
  const c: Case = { x, w: [16, 16, 3, 3], options: { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } };
  const g = geometryOf(c.x, c.w, c.options);
  const size = (s: readonly number[]): number => s.reduce((p, q) => p * q);

  it("forward: NaN only where a direct sum puts it (the 3×3 windows over the pixel, in every output channel)", () => {
    const input = random32(size(x));
    input[19 * 16 * 1024 + 3 * 1024 + 10 * 32 + 10] = Number.NaN;
    expect(conv2dWasmKernel.forward(g, { data: input, offset: 0 }, { data: random32(size(c.w)), offset: 0 }, null, new Float32Array(20 * 16 * 1024), {})).toBeNull();
    const out = new Float32Array(20 * 16 * 1024);
    conv2dForward(g, { data: input, offset: 0 }, { data: random32(size(c.w)), offset: 0 }, null, out);
    expect(out.filter((v) => Number.isNaN(v)).length).toBe(16 * 9);
    expect(out.every((v) => Number.isNaN(v) || Number.isFinite(v))).toBe(true);
  });

  it("weight gradient alone: an infinity in the output gradient of a later slice leaves the Winograd way", () => {
    const input = random32(size(x));
    const w = random32(size(c.w));
    const run = conv2dForward(g, { data: input, offset: 0 }, { data: w, offset: 0 }, null, new Float32Array(20 * 16 * 1024));
    const gy = random32(20 * 16 * 1024);
    gy[19 * 16 * 1024 + 5 * 1024 + 7 * 32 + 9] = Number.POSITIVE_INFINITY;
    const grads = { input: null, weight: new Float32Array(size(c.w)), bias: null };
    conv2dBackward(run, g, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: input, offset: 0 }, grads);
    // Direct sums: output channel 5's 16·9 weights each meet the infinity once, times a non-zero pixel (±infinity,
    // never the NaN of Winograd's ∞ − ∞); no other channel's.
    const bad = Array.from(grads.weight.keys()).filter((i) => !Number.isFinite(grads.weight[i]!));
    expect(bad.every((i) => Math.floor(i / (16 * 9)) === 5 && !Number.isNaN(grads.weight[i]!))).toBe(true);
    expect(bad.length).toBe(16 * 9);
  });

  it("input and weight gradients together (one Winograd pass): an infinity in the output gradient has both computed again by im2col", () => {
    const input = random32(size(x));
    const w = random32(size(c.w));
    const run = conv2dForward(g, { data: input, offset: 0 }, { data: w, offset: 0 }, null, new Float32Array(20 * 16 * 1024));
    const gy = random32(20 * 16 * 1024);
    gy[19 * 16 * 1024 + 5 * 1024 + 7 * 32 + 9] = Number.POSITIVE_INFINITY;
    const grads = { input: new Float32Array(size(x)), weight: new Float32Array(size(c.w)), bias: new Float32Array(16) };
    conv2dBackward(run, g, { data: gy, offset: 0 }, { data: w, offset: 0 }, { data: input, offset: 0 }, grads);
    // Direct sums: the infinity reaches image 19's 3×3 pixels around (7, 9) in each of the 16 input channels,
    // times a non-zero weight (±infinity, never NaN), and nothing else.
    const badInput = Array.from(grads.input.keys()).filter((i) => !Number.isFinite(grads.input[i]!));
    expect(badInput.length).toBe(16 * 9);
    expect(badInput.every((i) => !Number.isNaN(grads.input[i]!) && Math.floor(i / (16 * 1024)) === 19)).toBe(true);
    expect(badInput.every((i) => Math.abs(Math.floor((i % 1024) / 32) - 7) <= 1 && Math.abs((i % 32) - 9) <= 1)).toBe(true);
    const badWeight = Array.from(grads.weight.keys()).filter((i) => !Number.isFinite(grads.weight[i]!));
    expect(badWeight.length).toBe(16 * 9);
    expect(badWeight.every((i) => Math.floor(i / (16 * 9)) === 5 && !Number.isNaN(grads.weight[i]!))).toBe(true);
    expect(Array.from(grads.bias.keys()).filter((i) => !Number.isFinite(grads.bias[i]!))).toEqual([5]);
  });
});
