import { ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { linear } from "./linear.js";

describe("linear", () => {
  it("computes x · Wᵀ + b", () => {
    const x = tensor([[1, 2, 3]]);
    const w = tensor([[1, 0, -1], [2, 1, 0]]);
    const b = tensor([0.5, -1]);
    expectClose(values(linear(x, w, b)), [-1.5, 3], "values");
    expectClose(values(linear(x, w)), [-2, 4], "without bias");
  });

  it("gradcheck x=[5,3] w=[7,3] b=[7], and batched x=[2,3,3]", () => {
    const w = randn([7, 3], 2, { requiresGrad: true });
    const b = randn([7], 3, { requiresGrad: true });
    expect(gradcheck((x, w2, b2) => linear(x, w2, b2), [randn([5, 3], 1, { requiresGrad: true }), w, b])).toBe(true);
    expect(gradcheck((x, w2) => linear(x, w2), [randn([2, 3, 3], 4, { requiresGrad: true }), w])).toBe(true);
  });

  it("names the rule when shapes do not fit", () => {
    expect(() => linear(Tensor.zeros([2, 4]), Tensor.zeros([3, 5]))).toThrow(ShapeError);
    expect(() => linear(Tensor.zeros([2, 4]), Tensor.zeros([3, 5]))).toThrow("linear: input must end with inFeatures = 5 [..., 5], but got shape [2, 4]");
    expect(() => linear(Tensor.zeros([2, 5]), Tensor.zeros([3, 5]), Tensor.zeros([4]))).toThrow("linear: bias must have shape [3] (outFeatures), but got [4]");
  });
});
