import { ArgumentError, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { leakyRelu } from "./leaky-relu.js";

describe("leakyRelu", () => {
  it("keeps positives and scales negatives by the slope", () => {
    expectClose(values(leakyRelu(tensor([-2, -0.5, 0, 3]), 0.1)), [-0.2, -0.05, 0, 3], "values", 1e-7);
    expectClose(values(leakyRelu(tensor([-100]))), [-1], "default slope 0.01", 1e-6);
  });

  it("gradcheck x=[1,3,7] (odd shape) and a transposed input", () => {
    expect(gradcheck((a) => leakyRelu(a, 0.2), [randn([1, 3, 7], 1, { requiresGrad: true })])).toBe(true);
    expect(gradcheck((a) => leakyRelu(a.transpose(), 0.3), [randn([3, 5], 2, { requiresGrad: true })])).toBe(true);
  });

  it("refuses a non-finite slope", () => {
    expect(() => leakyRelu(tensor([1]), Number.NaN)).toThrow(ArgumentError);
  });
});
