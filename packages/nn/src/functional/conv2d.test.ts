import { ArgumentError, ShapeError, Tensor, gradcheck, kernels, noGrad } from "@pico/core";

const { conv2dBackwardReference, conv2dOutputShapeReference, conv2dReference } = kernels;
type Conv2dReferenceArgs = kernels.Conv2dReferenceArgs;
import { describe, expect, it } from "vitest";
import { expectClose, float64Of, optionName, randomTensor, shapeName } from "../kernels/test-utils/compare.js";
import { pair } from "./pair.js";
import { Conv2dFunction, conv2d } from "./conv2d.js";

type Shape4 = [number, number, number, number];
type P = number | [number, number];

interface Case {
  x: Shape4;
  w: Shape4;
  s: P;
  p: P;
  d: P;
  g: number;
  bias?: boolean;
}

const name = (c: Case): string =>
  `x=${shapeName(c.x)} w=${shapeName(c.w)} s=${optionName(c.s)} p=${optionName(c.p)} d=${optionName(c.d)} g=${c.g}${c.bias === false ? " no bias" : ""}`;

function referenceArgs(c: Case, x: Tensor, w: Tensor): Conv2dReferenceArgs {
  return {
    x: float64Of(x),
    xShape: c.x,
    w: float64Of(w),
    wShape: c.w,
    stride: pair("test", "s", c.s, 1),
    padding: pair("test", "p", c.p, 0),
    dilation: pair("test", "d", c.d, 1),
    groups: c.g,
  };
}

const referenceCases: Case[] = [
  { x: [1, 1, 5, 5], w: [1, 1, 3, 3], s: 1, p: 0, d: 1, g: 1 },
  { x: [2, 3, 7, 5], w: [4, 3, 3, 2], s: 2, p: 1, d: 1, g: 1 },
  { x: [3, 2, 5, 7], w: [5, 2, 2, 3], s: 1, p: 0, d: 1, g: 1 },
  { x: [1, 3, 9, 8], w: [2, 3, 3, 3], s: [2, 3], p: [1, 2], d: 1, g: 1 },
  { x: [2, 2, 9, 9], w: [3, 2, 3, 3], s: 1, p: 2, d: 2, g: 1 },
  { x: [2, 2, 8, 7], w: [2, 2, 2, 3], s: 2, p: [0, 1], d: [3, 2], g: 1 },
  { x: [2, 4, 6, 5], w: [6, 2, 3, 3], s: 1, p: 1, d: 1, g: 2 },
  { x: [3, 4, 7, 6], w: [4, 1, 3, 3], s: 2, p: 1, d: 1, g: 4 },
  { x: [1, 3, 6, 6], w: [6, 1, 2, 2], s: 1, p: 0, d: 2, g: 3 },
  { x: [2, 3, 4, 5], w: [4, 3, 1, 1], s: 1, p: 0, d: 1, g: 1 },
  { x: [2, 4, 4, 5], w: [6, 2, 1, 1], s: 1, p: 0, d: 1, g: 2, bias: false },
  { x: [2, 3, 5, 5], w: [2, 3, 1, 1], s: 2, p: 1, d: 1, g: 1 },
  { x: [1, 2, 3, 3], w: [2, 2, 5, 5], s: 1, p: 2, d: 1, g: 1 },
  { x: [2, 1, 28, 28], w: [8, 1, 5, 5], s: 1, p: 0, d: 1, g: 1 },
  { x: [2, 8, 12, 12], w: [16, 8, 5, 5], s: 1, p: 0, d: 1, g: 1, bias: false },
  { x: [1, 2, 4, 4], w: [3, 2, 4, 4], s: 3, p: 3, d: 1, g: 1 },
];

function checkAgainstReference(c: Case, index: number): void {
  const x = randomTensor(c.x, 100 + index, { requiresGrad: true });
  const w = randomTensor(c.w, 200 + index, { requiresGrad: true });
  const b = c.bias === false ? null : randomTensor([c.w[0]], 300 + index, { requiresGrad: true });
  const y = conv2d(x, w, b, { stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
  const args = referenceArgs(c, x, w);
  expect(y.shape).toEqual(conv2dOutputShapeReference(args));
  expect(y.dtype).toBe("float64");
  expectClose(float64Of(y), conv2dReference(args, b === null ? null : float64Of(b)), "output");
  const gy = randomTensor(y.shape, 400 + index);
  y.backward(gy);
  const ref = conv2dBackwardReference(args, float64Of(gy));
  expectClose(float64Of(x.grad!), ref.gradInput, "input gradient");
  expectClose(float64Of(w.grad!), ref.gradWeight, "weight gradient");
  if (b !== null) expectClose(float64Of(b.grad!), ref.gradBias, "bias gradient");
}

describe("conv2d against the nested-loop reference (float64, forward and every gradient)", () => {
  referenceCases.forEach((c, index) => {
    it(name(c), () => checkAgainstReference(c, index));
  });

  it("x=[3,2,6,5] w=[4,2,3,3] s=1 p=1 d=1 g=1 float32 matches the float64 reference to 1e-4", () => {
    const c: Case = { x: [3, 2, 6, 5], w: [4, 2, 3, 3], s: 1, p: 1, d: 1, g: 1 };
    const x = randomTensor(c.x, 7, { dtype: "float32", requiresGrad: true });
    const w = randomTensor(c.w, 8, { dtype: "float32", requiresGrad: true });
    const b = randomTensor([4], 9, { dtype: "float32", requiresGrad: true });
    const y = conv2d(x, w, b, { padding: 1 });
    expect(y.dtype).toBe("float32");
    const args = referenceArgs(c, x, w);
    expectClose(float64Of(y), conv2dReference(args, float64Of(b)), "output", 1e-4, 1e-4);
    const gy = randomTensor(y.shape, 10, { dtype: "float32" });
    y.backward(gy);
    const ref = conv2dBackwardReference(args, float64Of(gy));
    expectClose(float64Of(x.grad!), ref.gradInput, "input gradient", 1e-4, 1e-4);
    expectClose(float64Of(w.grad!), ref.gradWeight, "weight gradient", 1e-4, 1e-4);
    expectClose(float64Of(b.grad!), ref.gradBias, "bias gradient", 1e-4, 1e-4);
  });

  it("x=[2,3,5,6] non-contiguous (transposed) input and output gradient w=[2,3,3,3] s=1 p=1 matches the reference", () => {
    const base = randomTensor([2, 3, 6, 5], 11, { requiresGrad: true });
    const x = base.transpose(2, 3);
    const w = randomTensor([2, 3, 3, 3], 12, { requiresGrad: true });
    const y = conv2d(x, w, null, { padding: 1 });
    const c: Case = { x: [2, 3, 5, 6], w: [2, 3, 3, 3], s: 1, p: 1, d: 1, g: 1 };
    const args = referenceArgs(c, x, w);
    expectClose(float64Of(y), conv2dReference(args, null), "output");
    const gz = randomTensor([2, 2, 6, 5], 13);
    y.transpose(2, 3).backward(gz);
    const ref = conv2dBackwardReference(args, float64Of(gz.transpose(2, 3)));
    expectClose(float64Of(base.grad!.transpose(2, 3)), ref.gradInput, "input gradient");
    expectClose(float64Of(w.grad!), ref.gradWeight, "weight gradient");
  });
});

const gradcheckCases: Case[] = [
  { x: [2, 3, 5, 4], w: [2, 3, 3, 2], s: 1, p: 0, d: 1, g: 1 },
  { x: [1, 2, 7, 5], w: [3, 2, 3, 3], s: 2, p: 1, d: 1, g: 1 },
  { x: [3, 1, 5, 7], w: [2, 1, 2, 3], s: [1, 2], p: [2, 1], d: 1, g: 1 },
  { x: [2, 2, 7, 6], w: [2, 2, 2, 2], s: 1, p: 1, d: 2, g: 1 },
  { x: [2, 4, 5, 5], w: [4, 2, 3, 3], s: 1, p: 1, d: 1, g: 2 },
  { x: [2, 3, 5, 6], w: [3, 1, 3, 3], s: 2, p: 1, d: 1, g: 3 },
  { x: [1, 4, 4, 5], w: [2, 4, 1, 1], s: 1, p: 0, d: 1, g: 1 },
];

describe("conv2d gradcheck (float64, central differences)", () => {
  for (const c of gradcheckCases) {
    it(name(c), () => {
      const x = randomTensor(c.x, 1, { requiresGrad: true });
      const w = randomTensor(c.w, 2, { requiresGrad: true });
      const b = randomTensor([c.w[0]], 3, { requiresGrad: true });
      const opts = { stride: c.s, padding: c.p, dilation: c.d, groups: c.g };
      expect(gradcheck((xi, wi, bi) => conv2d(xi!, wi!, bi!, opts), [x, w, b])).toBe(true);
    });
  }

  it("unbatched x=[2,5,4] w=[3,2,2,3] s=1 p=1 d=1 g=1", () => {
    const x = randomTensor([2, 5, 4], 4, { requiresGrad: true });
    const w = randomTensor([3, 2, 2, 3], 5, { requiresGrad: true });
    expect(gradcheck((xi, wi) => conv2d(xi!, wi!, null, { padding: 1 }), [x, w])).toBe(true);
  });
});

describe("conv2d behaviour", () => {
  it("unbatched x=[2,5,4] gives [outC, oH, oW] equal to the batched result", () => {
    const x = randomTensor([2, 5, 4], 20);
    const w = randomTensor([3, 2, 3, 3], 21);
    const y = conv2d(x, w, null, { padding: 1 });
    expect(y.shape).toEqual([3, 5, 4]);
    expectClose(float64Of(y), float64Of(conv2d(x.reshape([1, 2, 5, 4]), w, null, { padding: 1 })), "unbatched output");
  });

  it("computes only the gradients that are needed", () => {
    const x = randomTensor([1, 2, 4, 4], 22);
    const w = randomTensor([2, 2, 3, 3], 23, { requiresGrad: true });
    const b = randomTensor([2], 24);
    conv2d(x, w, b).sum().backward();
    expect(x.grad).toBeNull();
    expect(b.grad).toBeNull();
    expect(w.grad?.shape).toEqual([2, 2, 3, 3]);
  });

  it("records nothing under noGrad", () => {
    const x = randomTensor([1, 1, 4, 4], 25, { requiresGrad: true });
    const w = randomTensor([1, 1, 2, 2], 26, { requiresGrad: true });
    const y = noGrad(() => conv2d(x, w));
    expect(y.requiresGrad).toBe(false);
  });

  it("refuses float32 weights with a float64 input, as torch", () => {
    expect(() => conv2d(randomTensor([1, 1, 3, 3], 27), randomTensor([1, 1, 2, 2], 28, { dtype: "float32" }))).toThrow("conv2d: weight must have the input's dtype, float64");
  });

  it("x=[2,3,6,5] w=[4,3,3,3] p=1: a later call leaves earlier outputs and the inputs untouched (scratch buffers never escape)", () => {
    const c: Case = { x: [2, 3, 6, 5], w: [4, 3, 3, 3], s: 1, p: 1, d: 1, g: 1 };
    const x = randomTensor(c.x, 30, { requiresGrad: true });
    const w = randomTensor(c.w, 31, { requiresGrad: true });
    const xBefore = float64Of(x);
    const wBefore = float64Of(w);
    const y1 = conv2d(x, w, null, { padding: 1 });
    const y2 = conv2d(randomTensor(c.x, 32), w, null, { padding: 1 });
    y2.sum().backward();
    expectClose(float64Of(y1), conv2dReference(referenceArgs(c, x, w), null), "first output");
    expectClose(float64Of(x), xBefore, "input");
    expectClose(float64Of(w), wBefore, "weight");
  });

  it("x=[1,2,5,4] w=[3,2,2,2] s=2 p=1: backward twice with retainGraph accumulates the same gradients twice", () => {
    const x = randomTensor([1, 2, 5, 4], 33, { requiresGrad: true });
    const w = randomTensor([3, 2, 2, 2], 34, { requiresGrad: true });
    const b = randomTensor([3], 35, { requiresGrad: true });
    const y = conv2d(x, w, b, { stride: 2, padding: 1 });
    const gy = randomTensor(y.shape, 36);
    y.backward(gy, { retainGraph: true });
    const once = [x, w, b].map((t) => float64Of(t.grad!));
    y.backward(gy);
    [x, w, b].forEach((t, i) => expectClose(float64Of(t.grad!), once[i]!.map((v) => 2 * v), `gradient ${i}`));
  });

  it("x=[2,2,5,4] sliced from a [4,2,5,4] batch (a view with an offset) w=[3,2,3,3] s=1 p=1 matches the reference", () => {
    const base = randomTensor([4, 2, 5, 4], 37, { requiresGrad: true });
    const x = base.slice(0, 1, 3);
    const w = randomTensor([3, 2, 3, 3], 38, { requiresGrad: true });
    const y = conv2d(x, w, null, { padding: 1 });
    const args = referenceArgs({ x: [2, 2, 5, 4], w: [3, 2, 3, 3], s: 1, p: 1, d: 1, g: 1 }, x, w);
    expectClose(float64Of(y), conv2dReference(args, null), "output");
    const gy = randomTensor(y.shape, 39);
    y.backward(gy);
    expectClose(float64Of(base.grad!.slice(0, 1, 3)), conv2dBackwardReference(args, float64Of(gy)).gradInput, "input gradient");
  });

  it("x=[0,3,5,5] w=[2,3,3,3]: an empty batch gives an empty output", () => {
    const y = conv2d(Tensor.zeros([0, 3, 5, 5]), Tensor.zeros([2, 3, 3, 3]));
    expect(y.shape).toEqual([0, 2, 3, 3]);
  });

  it("is callable as Conv2dFunction.apply", () => {
    const x = randomTensor([1, 1, 3, 3], 29);
    const w = Tensor.ones([1, 1, 3, 3], { dtype: "float64" });
    expect(Conv2dFunction.apply(x, w, null, {}).item()).toBeCloseTo(float64Of(x).reduce((s, v) => s + v, 0), 12);
  });
});

describe("conv2d errors", () => {
  const w = Tensor.zeros([8, 3, 5, 5]);
  it("rank of the input", () => {
    expect(() => conv2d(Tensor.zeros([28, 28]), w)).toThrow(ShapeError);
    expect(() => conv2d(Tensor.zeros([28, 28]), w)).toThrow("conv2d: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank 2 with shape [28, 28]");
  });
  it("channels of an unbatched input", () => {
    expect(() => conv2d(Tensor.zeros([1, 28, 28]), w)).toThrow(
      "conv2d: expected unbatched input with 3 channels [3, H, W] (weight [8, 3, 5, 5], groups 1), but got shape [1, 28, 28]",
    );
  });
  it("rank of the weight", () => {
    expect(() => conv2d(Tensor.zeros([1, 3, 28, 28]), Tensor.zeros([8, 3, 5]))).toThrow(
      "conv2d: weight must be rank 4 [outC, C/groups, kH, kW], but got rank 3 with shape [8, 3, 5]",
    );
  });
  it("channels that do not match the weight", () => {
    expect(() => conv2d(Tensor.zeros([8, 1, 28, 28]), w)).toThrow(
      "conv2d: expected input with 3 channels [N, 3, H, W] (weight [8, 3, 5, 5], groups 1), but got shape [8, 1, 28, 28]",
    );
    expect(() => conv2d(Tensor.zeros([2, 4, 8, 8]), Tensor.zeros([4, 4, 3, 3]), null, { groups: 2 })).toThrow(
      "conv2d: expected input with 8 channels [N, 8, H, W] (weight [4, 4, 3, 3], groups 2), but got shape [2, 4, 8, 8]",
    );
  });
  it("channels not divisible by groups", () => {
    expect(() => conv2d(Tensor.zeros([1, 3, 8, 8]), Tensor.zeros([4, 1, 3, 3]), null, { groups: 2 })).toThrow(
      "conv2d: input channels 3 (shape [1, 3, 8, 8]) must be divisible by groups 2",
    );
    expect(() => conv2d(Tensor.zeros([1, 4, 8, 8]), Tensor.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow(
      "conv2d: weight's 3 output channels (shape [3, 2, 3, 3]) must be divisible by groups 2",
    );
  });
  it("a bias of the wrong shape", () => {
    expect(() => conv2d(Tensor.zeros([1, 3, 8, 8]), w, Tensor.zeros([3]))).toThrow(
      "conv2d: bias must have shape [8] (one per output channel of weight [8, 3, 5, 5]), but got [3]",
    );
  });
  it("a non-positive output size", () => {
    expect(() => conv2d(Tensor.zeros([1, 3, 4, 28]), w)).toThrow(ShapeError);
    expect(() => conv2d(Tensor.zeros([1, 3, 4, 28]), w)).toThrow("conv2d: output size would be 0x24 for input [1, 3, 4, 28], kernel 5x5");
    expect(() => conv2d(Tensor.zeros([1, 3, 9, 9]), w, null, { dilation: 3 })).toThrow("output size would be -3x-3");
  });
  it("bad option values", () => {
    const x = Tensor.zeros([1, 3, 8, 8]);
    expect(() => conv2d(x, w, null, { stride: 0 })).toThrow(ArgumentError);
    expect(() => conv2d(x, w, null, { stride: 0 })).toThrow("conv2d: stride must be an integer >= 1 or a pair [height, width] of them, but got 0");
    expect(() => conv2d(x, w, null, { padding: [1, -1] })).toThrow("conv2d: padding must be a non-negative integer or a pair [height, width] of them, but got [1, -1]");
    expect(() => conv2d(x, w, null, { dilation: 1.5 })).toThrow("conv2d: dilation must be an integer >= 1");
    expect(() => conv2d(x, w, null, { stride: [1, 1, 1] as unknown as [number, number] })).toThrow("but got [1, 1, 1]");
    expect(() => conv2d(x, w, null, { groups: 0 })).toThrow("conv2d: groups must be an integer >= 1, but got 0");
  });
  it("non-tensor arguments", () => {
    expect(() => conv2d(Tensor.zeros([1, 3, 8, 8]), [1, 2] as unknown as Tensor)).toThrow("conv2d: weight must be a Tensor");
  });
});
