import { ArgumentError, ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { avgPool2dReference, pool2dOutputShapeReference } from "../kernels/pool2d-reference.js";
import { expectClose, float64Of, optionName, randomTensor, shapeName } from "../kernels/test-utils/compare.js";
import { AvgPool2dFunction, avgPool2d } from "./avg-pool2d.js";
import { pair } from "./pair.js";

type Shape4 = [number, number, number, number];
type P = number | [number, number];
interface Case {
  x: Shape4;
  k: P;
  s?: P;
  p: P;
  countIncludePad: boolean;
}

const name = (c: Case): string =>
  `x=${shapeName(c.x)} k=${optionName(c.k)} s=${c.s === undefined ? "k" : optionName(c.s)} p=${optionName(c.p)} countIncludePad=${c.countIncludePad}`;

const cases: Case[] = [
  { x: [1, 1, 4, 4], k: 2, p: 0, countIncludePad: true },
  { x: [2, 3, 7, 5], k: 2, p: 0, countIncludePad: true },
  { x: [3, 2, 5, 7], k: 3, s: 1, p: 1, countIncludePad: true },
  { x: [3, 2, 5, 7], k: 3, s: 1, p: 1, countIncludePad: false },
  { x: [2, 3, 6, 6], k: 3, s: 2, p: 0, countIncludePad: true },
  { x: [1, 2, 7, 9], k: [2, 3], s: [1, 2], p: [1, 1], countIncludePad: false },
  { x: [2, 4, 8, 8], k: [3, 2], s: [2, 1], p: [1, 0], countIncludePad: true },
];

describe("avgPool2d against the nested-loop reference (float64)", () => {
  cases.forEach((c, index) => {
    it(name(c), () => {
      const x = randomTensor(c.x, 900 + index, { requiresGrad: true });
      const y = avgPool2d(x, c.k, { stride: c.s, padding: c.p, countIncludePad: c.countIncludePad });
      const gy = randomTensor(y.shape, 1000 + index);
      const args = { x: float64Of(x), xShape: c.x, kernel: pair("t", "k", c.k, 1), stride: pair("t", "s", c.s ?? c.k, 1), padding: pair("t", "p", c.p, 0) };
      expect(y.shape).toEqual(pool2dOutputShapeReference(args));
      const ref = avgPool2dReference(args, c.countIncludePad, float64Of(gy));
      expectClose(float64Of(y), ref.out, "output");
      y.backward(gy);
      expectClose(float64Of(x.grad!), ref.gradInput, "input gradient");
    });
  });
});

describe("avgPool2d gradcheck (float64)", () => {
  const small: Case[] = [
    { x: [2, 3, 5, 4], k: 2, p: 0, countIncludePad: true },
    { x: [1, 2, 5, 7], k: 3, s: 1, p: 1, countIncludePad: true },
    { x: [3, 1, 6, 5], k: [2, 3], s: [2, 1], p: [1, 1], countIncludePad: false },
  ];
  small.forEach((c, index) => {
    it(name(c), () => {
      const x = randomTensor(c.x, 1100 + index, { requiresGrad: true });
      expect(gradcheck((xi) => avgPool2d(xi!, c.k, { stride: c.s, padding: c.p, countIncludePad: c.countIncludePad }), [x])).toBe(true);
    });
  });
});

describe("avgPool2d values", () => {
  it("x=[1,2,2,2] k=2 p=1: countIncludePad divides by 4, otherwise by the pixels inside", () => {
    const x = tensor([[[[1, 2], [3, 4]], [[10, 20], [30, 40]]]]);
    expect(avgPool2d(x, 2, { padding: 1 }).toArray()).toEqual([[[[0.25, 0.5], [0.75, 1]], [[2.5, 5], [7.5, 10]]]]);
    expect(avgPool2d(x, 2, { padding: 1, countIncludePad: false }).toArray()).toEqual([[[[1, 2], [3, 4]], [[10, 20], [30, 40]]]]);
  });

  it("x=[1,1,3,3] k=2 s=1 overlapping windows add their shares", () => {
    const x = Tensor.ones([1, 1, 3, 3], { requiresGrad: true });
    avgPool2d(x, 2, { stride: 1 }).sum().backward();
    expect(x.grad!.toArray()).toEqual([[[[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]]]]);
  });

  it("x=[2,3,5,6] sliced from a batch of 3 (a view with an offset) k=3 s=1 p=1 matches the reference", () => {
    const x = randomTensor([3, 3, 5, 6], 1201).slice(0, 1, 3);
    const y = avgPool2d(x, 3, { stride: 1, padding: 1 });
    const args = { x: float64Of(x), xShape: [2, 3, 5, 6] as const, kernel: [3, 3] as const, stride: [1, 1] as const, padding: [1, 1] as const };
    expectClose(float64Of(y), avgPool2dReference(args, true, null).out, "output");
  });

  it("unbatched x=[3,4,6] gives [3,2,3]", () => {
    const x = randomTensor([3, 4, 6], 1200);
    const y = avgPool2d(x, 2);
    expect(y.shape).toEqual([3, 2, 3]);
    expectClose(float64Of(y), float64Of(avgPool2d(x.reshape([1, 3, 4, 6]), 2)), "unbatched");
  });

  it("is callable as AvgPool2dFunction.apply", () => {
    expect(AvgPool2dFunction.apply(tensor([[[[1, 4], [3, 2]]]]), 2, {}).item()).toBe(2.5);
  });
});

describe("avgPool2d errors", () => {
  it("rank, options and size", () => {
    expect(() => avgPool2d(Tensor.zeros([2, 5, 5, 1, 1]), 2)).toThrow(ShapeError);
    expect(() => avgPool2d(Tensor.zeros([2, 5, 5, 1, 1]), 2)).toThrow("avgPool2d: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank 5");
    expect(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), [2, 2, 2] as unknown as number)).toThrow(ArgumentError);
    expect(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), 3, { padding: 2 })).toThrow("avgPool2d: padding [2, 2] must be at most half of kernelSize [3, 3]");
    expect(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), 5)).toThrow("avgPool2d: output size would be 0x0");
    expect(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), 2, { countIncludePad: "yes" as unknown as boolean })).toThrow(
      "avgPool2d: countIncludePad must be a boolean, but got string",
    );
  });
});
