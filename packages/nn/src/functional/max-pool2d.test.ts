import { ArgumentError, ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { maxPool2dReference, pool2dOutputShapeReference } from "../kernels/pool2d-reference.js";
import { expectClose, float64Of, optionName, randomTensor, shapeName } from "../kernels/test-utils/compare.js";
import { MaxPool2dFunction, maxPool2d } from "./max-pool2d.js";
import { pair } from "./pair.js";

type Shape4 = [number, number, number, number];
type P = number | [number, number];
interface Case {
  x: Shape4;
  k: P;
  s?: P;
  p: P;
}

const name = (c: Case): string => `x=${shapeName(c.x)} k=${optionName(c.k)} s=${c.s === undefined ? "k" : optionName(c.s)} p=${optionName(c.p)}`;

const cases: Case[] = [
  { x: [1, 1, 4, 4], k: 2, p: 0 },
  { x: [2, 3, 7, 5], k: 2, p: 0 },
  { x: [3, 2, 5, 7], k: 3, s: 1, p: 1 },
  { x: [2, 3, 6, 6], k: 3, s: 2, p: 0 },
  { x: [1, 2, 7, 9], k: [2, 3], s: [1, 2], p: [1, 1] },
  { x: [2, 4, 8, 8], k: [3, 2], s: [2, 1], p: [1, 0] },
  { x: [64, 8, 24, 24], k: 2, p: 0 },
];

describe("maxPool2d against the nested-loop reference (float64)", () => {
  cases.forEach((c, index) => {
    it(name(c), () => {
      const x = randomTensor(c.x, 500 + index, { requiresGrad: true });
      const y = maxPool2d(x, c.k, { stride: c.s, padding: c.p });
      const gy = randomTensor(y.shape, 600 + index);
      const args = { x: float64Of(x), xShape: c.x, kernel: pair("t", "k", c.k, 1), stride: pair("t", "s", c.s ?? c.k, 1), padding: pair("t", "p", c.p, 0) };
      expect(y.shape).toEqual(pool2dOutputShapeReference(args));
      const ref = maxPool2dReference(args, float64Of(gy));
      expectClose(float64Of(y), ref.out, "output", 0, 0);
      y.backward(gy);
      expectClose(float64Of(x.grad!), ref.gradInput, "input gradient");
    });
  });
});

describe("maxPool2d gradcheck (float64)", () => {
  const small: Case[] = [
    { x: [2, 3, 5, 4], k: 2, p: 0 },
    { x: [1, 2, 5, 7], k: 3, s: 1, p: 1 },
    { x: [3, 1, 6, 5], k: [2, 3], s: [2, 1], p: [1, 1] },
  ];
  small.forEach((c, index) => {
    it(name(c), () => {
      const x = randomTensor(c.x, 700 + index, { requiresGrad: true });
      expect(gradcheck((xi) => maxPool2d(xi!, c.k, { stride: c.s, padding: c.p }), [x])).toBe(true);
    });
  });
});

describe("maxPool2d routing", () => {
  it("x=[1,1,2,4] k=2 ties: the gradient goes to the first maximum in scan order only", () => {
    const x = tensor([[[[1, 1, 0, 5], [1, 0, 5, 5]]]], { requiresGrad: true });
    const y = maxPool2d(x, 2);
    expect(y.toArray()).toEqual([[[[1, 5]]]]);
    y.backward(tensor([[[[2, 3]]]]));
    expect(x.grad!.toArray()).toEqual([[[[2, 0, 0, 3], [0, 0, 0, 0]]]]);
  });

  it("x=[1,1,3,3] k=2 s=1 overlapping windows accumulate on a shared maximum", () => {
    const x = tensor([[[[0, 1, 0], [2, 9, 3], [0, 4, 0]]]], { requiresGrad: true });
    const y = maxPool2d(x, 2, { stride: 1 });
    expect(y.toArray()).toEqual([[[[9, 9], [9, 9]]]]);
    y.backward(tensor([[[[1, 2], [3, 4]]]]));
    expect(x.grad!.toArray()).toEqual([[[[0, 0, 0], [0, 10, 0], [0, 0, 0]]]]);
  });

  it("x=[1,2,2,2] k=2 s=2 p=1 pads with -Infinity, not zero", () => {
    const x = tensor([[[[-3, -2], [-4, -5]], [[-1, -7], [-8, -6]]]], { requiresGrad: true });
    const y = maxPool2d(x, 2, { padding: 1 });
    expect(y.toArray()).toEqual([[[[-3, -2], [-4, -5]], [[-1, -7], [-8, -6]]]]);
  });

  it("x=[2,3,5,6] sliced from a batch of 3 (a view with an offset), k=2 and k=3 s=1 p=1, matches the reference", () => {
    const base = randomTensor([3, 3, 5, 6], 801, { requiresGrad: true });
    const x = base.slice(0, 1, 3);
    for (const [k, s, p] of [[2, 2, 0], [3, 1, 1]] as const) {
      const y = maxPool2d(x, k, { stride: s, padding: p });
      const args = { x: float64Of(x), xShape: [2, 3, 5, 6] as const, kernel: [k, k] as const, stride: [s, s] as const, padding: [p, p] as const };
      expectClose(float64Of(y), maxPool2dReference(args, null).out, `output k=${k}`, 0, 0);
    }
  });

  it("propagates NaN", () => {
    const y = maxPool2d(tensor([[[[1, Number.NaN], [3, 2]]]]), 2);
    expect(Number.isNaN(y.item())).toBe(true);
  });

  it("unbatched x=[2,4,4] gives [2,2,2] and float32 stays float32", () => {
    const x = randomTensor([2, 4, 4], 800, { dtype: "float32" });
    const y = maxPool2d(x, 2);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.dtype).toBe("float32");
    expectClose(float64Of(y), float64Of(maxPool2d(x.reshape([1, 2, 4, 4]), 2)), "unbatched");
  });

  it("is callable as MaxPool2dFunction.apply", () => {
    expect(MaxPool2dFunction.apply(tensor([[[[1, 4], [3, 2]]]]), 2, {}).item()).toBe(4);
  });
});

describe("maxPool2d errors", () => {
  const x = Tensor.zeros([1, 2, 5, 5]);
  it("rank", () => {
    expect(() => maxPool2d(Tensor.zeros([5, 5]), 2)).toThrow(ShapeError);
    expect(() => maxPool2d(Tensor.zeros([5, 5]), 2)).toThrow("maxPool2d: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank 2 with shape [5, 5]");
  });
  it("bad kernel, stride and padding values", () => {
    expect(() => maxPool2d(x, 0)).toThrow(ArgumentError);
    expect(() => maxPool2d(x, 0)).toThrow("maxPool2d: kernelSize must be an integer >= 1 or a pair [height, width] of them, but got 0");
    expect(() => maxPool2d(x, 2, { stride: [1, 0] })).toThrow("maxPool2d: stride must be an integer >= 1");
    expect(() => maxPool2d(x, 2, { padding: -1 })).toThrow("maxPool2d: padding must be a non-negative integer");
    expect(() => maxPool2d(x, 2, { padding: 2 })).toThrow("maxPool2d: padding [2, 2] must be at most half of kernelSize [2, 2]");
  });
  it("a kernel larger than the padded input", () => {
    expect(() => maxPool2d(x, 6)).toThrow("maxPool2d: output size would be 0x0 for input [1, 2, 5, 5], kernelSize [6, 6]");
  });
});
