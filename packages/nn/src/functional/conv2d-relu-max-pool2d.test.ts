import { ArgumentError, ShapeError, Tensor, gradcheck, kernels, noGrad, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, optionName, randomTensor, shapeName } from "../kernels/test-utils/compare.js";
import { conv2d } from "./conv2d.js";
import { Conv2dReluMaxPool2dFunction, conv2dReluMaxPool2d } from "./conv2d-relu-max-pool2d.js";
import { maxPool2d } from "./max-pool2d.js";

type Shape4 = [number, number, number, number];
type P = number | [number, number];

interface Case {
  x: Shape4;
  w: Shape4;
  s: P;
  p: P;
  d: P;
  g: number;
  k: P;
  ps?: P;
  pp: P;
  bias?: boolean;
}

const name = (c: Case): string =>
  `x=${shapeName(c.x)} w=${shapeName(c.w)} s=${optionName(c.s)} p=${optionName(c.p)} d=${optionName(c.d)} g=${c.g} ` +
  `pool k=${optionName(c.k)} s=${c.ps === undefined ? "k" : optionName(c.ps)} p=${optionName(c.pp)}${c.bias === false ? " no bias" : ""}`;

const convOptions = (c: Case) => ({ stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
const poolOptions = (c: Case) => ({ stride: c.ps, padding: c.pp });

function unfused(c: Case, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  return maxPool2d(conv2d(x, w, b, convOptions(c)).relu(), c.k, poolOptions(c));
}

function fused(c: Case, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  return conv2dReluMaxPool2d(x, w, b, convOptions(c), c.k, poolOptions(c));
}

function inputs(c: Case, seed: number, dtype: "float32" | "float64"): [Tensor, Tensor, Tensor | null] {
  const x = randomTensor(c.x, seed, { dtype, requiresGrad: true });
  const w = randomTensor(c.w, seed + 1, { dtype, requiresGrad: true });
  const b = c.bias === false ? null : randomTensor([c.w[0]], seed + 2, { dtype, requiresGrad: true });
  return [x, w, b];
}

/**
 * Runs both paths on the same inputs and expects the same bits in the output and in every gradient
 * (or, with `atol`, gradients within atol + atol·|expected|: a wider unfused GEMM, or the WebAssembly
 * fused kernel, sums the weight and bias gradients in another order).
 */
function expectSameAsUnfused(c: Case, seed: number, dtype: "float32" | "float64", make = inputs, atol = 0): void {
  const [x, w, b] = make(c, seed, dtype);
  const results = [unfused, fused].map((f) => {
    for (const t of [x, w, b]) t?.zeroGrad();
    const y = f(c, x, w, b);
    const gy = randomTensor(y.shape, seed + 3, { dtype });
    y.backward(gy);
    return [y, x.grad!, w.grad!, b?.grad ?? null].map((t) => (t === null ? [] : Array.from(t.toTypedArray())));
  });
  const [expected, actual] = results as [number[][], number[][]];
  expect(actual[0], "output").toEqual(expected[0]);
  ["input gradient", "weight gradient", "bias gradient"].forEach((what, i) => {
    if (atol === 0) expect(actual[i + 1], what).toEqual(expected[i + 1]);
    else expectClose(withoutNaN(actual[i + 1]!), withoutNaN(expected[i + 1]!), what, atol, atol);
  });
}

/** Runs `f` with the given kernels selected, then the default ones again. */
function withKernels<T>(choice: kernels.KernelChoice, f: () => T): T {
  kernels.useKernels(choice);
  try {
    return f();
  } finally {
    kernels.useKernels("wasm");
  }
}

/** NaN (which the ties test feeds in on purpose) as a number that compares equal to itself. */
const withoutNaN = (a: number[]): number[] => a.map((v) => (Number.isNaN(v) ? Number.MAX_VALUE : v));

const cases: Case[] = [
  { x: [2, 1, 12, 12], w: [3, 1, 5, 5], s: 1, p: 0, d: 1, g: 1, k: 2, pp: 0 },
  { x: [3, 2, 9, 7], w: [4, 2, 3, 2], s: 2, p: 1, d: 1, g: 1, k: 2, pp: 0 },
  { x: [2, 4, 9, 9], w: [6, 2, 3, 3], s: 1, p: 1, d: 2, g: 2, k: 3, ps: 1, pp: 1 },
  { x: [1, 3, 8, 7], w: [3, 1, 2, 3], s: [1, 2], p: [2, 1], d: [2, 1], g: 3, k: [2, 3], ps: [1, 2], pp: [1, 1], bias: false },
  { x: [2, 3, 6, 5], w: [5, 3, 1, 1], s: 1, p: 0, d: 1, g: 1, k: 3, ps: 2, pp: 1 },
  { x: [2, 2, 7, 6], w: [2, 2, 2, 2], s: 1, p: 0, d: 1, g: 1, k: 2, ps: 1, pp: 0 },
];

describe("conv2dReluMaxPool2d equals maxPool2d(relu(conv2d)) bit for bit", () => {
  cases.forEach((c, index) => {
    it(`float64 ${name(c)}`, () => expectSameAsUnfused(c, 100 + 10 * index, "float64"));
    it(`float32 TypeScript kernels ${name(c)}`, () => withKernels("js", () => expectSameAsUnfused(c, 300 + 10 * index, "float32")));
    it(`float32 default kernels ${name(c)} (gradients to float32 rounding)`, () => expectSameAsUnfused(c, 300 + 10 * index, "float32", inputs, 1e-5));
  });

  it("ties, all-negative and NaN windows: the first positive maximum gets the gradient, a NaN wins (the last one), a window with neither gets nothing", () => {
    // A 1×1 identity convolution makes the convolution output the input itself, except that a NaN
    // reaches the other channel too (NaN · 0); expected values are torch 1.13's.
    const N = Number.NaN;
    const c: Case = { x: [1, 2, 4, 6], w: [2, 2, 1, 1], s: 1, p: 0, d: 1, g: 1, k: 2, ps: [2, 1], pp: 0 };
    const plane0 = [3, 3, -1, -2, 0, 0, 3, 3, -4, -5, 0, -0, 1, 2, 2, 5, NaN, 1, 2, 1, 2, 5, 1, NaN];
    const plane1 = [-1, -2, -3, -4, -5, -6, -1, -2, -3, -4, -5, -6, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 7, 7];
    const make = (_c: Case, _seed: number, dtype: "float32" | "float64"): [Tensor, Tensor, Tensor | null] => [
      tensor([...plane0, ...plane1], { shape: c.x, dtype, requiresGrad: true }),
      tensor([1, 0, 0, 1], { shape: c.w, dtype, requiresGrad: true }),
      tensor([0, 0], { dtype, requiresGrad: true }),
    ];
    expectSameAsUnfused(c, 5, "float64", make);
    withKernels("js", () => expectSameAsUnfused(c, 5, "float32", make));
    expectSameAsUnfused(c, 5, "float32", make, 1e-6);
    const k2: Case = { ...c, ps: 2 };
    withKernels("js", () => expectSameAsUnfused(k2, 5, "float32", make));
    expectSameAsUnfused(k2, 5, "float32", make, 1e-6);
    const [x, w, b] = make(c, 0, "float64");
    const y = fused(c, x, w, b);
    expect(Array.from(y.toTypedArray())).toEqual([3, 3, 0, 0, 0, 2, 2, 5, N, N, 0, 0, 0, 0, 0, 7, 7, 7, N, N]);
    y.sum().backward();
    expect(Array.from(x.grad!.toTypedArray())).toEqual([
      ...[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1],
      ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1],
    ]);
  });

  it("the buffers it takes unfilled (arg-max indices, the WebAssembly input gradient) hold garbage from the pool: same bits as from fresh ones", () => {
    // Arrays of at least the buffer pool's 4 KiB minimum: the arg-max indices (1,024 floats) and x's gradient are recycled arrays.
    const c: Case = { x: [4, 8, 12, 12], w: [16, 8, 5, 5], s: 1, p: 0, d: 1, g: 1, k: 2, pp: 0 };
    const run = (): number[][] => {
      const [x, w, b] = inputs(c, 77, "float32");
      const y = fused(c, x, w, b);
      y.backward(randomTensor(y.shape, 80, { dtype: "float32" }));
      return [y, x.grad!, w.grad!, b!.grad!].map((t) => Array.from(t.toTypedArray()));
    };
    const fresh = run();
    // Garbage in every pooled array of the sizes the call takes (indices and gradient), then the same call.
    for (const length of [4 * 16 * 4 * 4, 4 * 8 * 12 * 12]) {
      const held = Array.from({ length: 3 }, () => kernels.allocate("float32", length).fill(Number.NaN));
      for (const a of held) kernels.recycle(a);
    }
    expect(run()).toEqual(fresh);
  });

  it("unbatched input [C, H, W]", () => {
    const c = cases[1]!;
    const [x, w, b] = inputs(c, 900, "float64");
    const one = x.detach().slice(0, 0, 1).squeeze(0);
    expect(Array.from(fused(c, one, w, b).toTypedArray())).toEqual(Array.from(unfused(c, one, w, b).toTypedArray()));
    expect(fused(c, one, w, b).shape).toEqual([4, 2, 2]);
  });

  it("without gradients (noGrad) the output is the same and nothing is recorded", () => {
    const c = cases[0]!;
    const [x, w, b] = inputs(c, 950, "float32");
    const expected = Array.from(unfused(c, x, w, b).toTypedArray());
    const y = noGrad(() => fused(c, x, w, b));
    expect(y.creator).toBeNull();
    expect(Array.from(y.toTypedArray())).toEqual(expected);
  });
});

describe("conv2dReluMaxPool2d gradcheck (float64, central differences)", () => {
  // Inputs far from ties and from zero would hide nothing here: gradcheck steps by 1e-6, and random
  // normals keep every window's maximum and its sign stable under that step.
  cases.slice(0, 5).forEach((c, index) => {
    it(name(c), () => {
      const [x, w, b] = inputs(c, 500 + 10 * index, "float64");
      const f = (xi: Tensor | undefined, wi: Tensor | undefined, bi: Tensor | undefined) =>
        conv2dReluMaxPool2d(xi!, wi!, bi ?? null, convOptions(c), c.k, poolOptions(c));
      expect(gradcheck(f, b === null ? [x, w] : [x, w, b])).toBe(true);
    });
  });
});

describe("conv2dReluMaxPool2d errors", () => {
  const x = Tensor.randn([2, 3, 8, 8]);
  const w = Tensor.randn([4, 3, 3, 3]);
  it("names the operator, the argument and what it got", () => {
    expect(() => conv2dReluMaxPool2d("x" as unknown as Tensor, w, null)).toThrow(ArgumentError);
    expect(() => conv2dReluMaxPool2d(x, w, null, {}, 2, { padding: 2 })).toThrow(
      "conv2dReluMaxPool2d: padding [2, 2] must be at most half of kernelSize [2, 2]",
    );
    expect(() => conv2dReluMaxPool2d(x, w, null, {}, 7)).toThrow(ShapeError);
    expect(() => conv2dReluMaxPool2d(Tensor.randn([2, 8, 8]), w, null)).toThrow(
      "conv2dReluMaxPool2d: expected unbatched input with 3 channels [3, H, W] (weight [4, 3, 3, 3], groups 1), but got shape [2, 8, 8]",
    );
    expect(() => Conv2dReluMaxPool2dFunction.apply(Tensor.randn([2, 2, 8, 8]), w, null, {}, 2, {})).toThrow("conv2d: expected input with 3 channels");
  });
});
