import { ShapeError, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { mseLoss } from "./mse-loss.js";

describe("mseLoss", () => {
  it("is the mean, sum or elementwise squared difference", () => {
    const x = tensor([[1, 2], [3, 4]], { dtype: "float64" });
    const y = tensor([[0, 2], [5, 1]], { dtype: "float64" });
    expectClose(values(mseLoss(x, y, { reduction: "none" })), [1, 0, 4, 9], "none");
    expect(mseLoss(x, y, { reduction: "sum" }).item()).toBe(14);
    expect(mseLoss(x, y).item()).toBe(3.5);
  });

  it("gradcheck x=[3,5] against a target that also requires grad", () => {
    const x = randn([3, 5], 1, { requiresGrad: true });
    const y = randn([3, 5], 2, { requiresGrad: true });
    expect(gradcheck((a, b) => mseLoss(a, b), [x, y])).toBe(true);
    expect(gradcheck((a, b) => mseLoss(a, b, { reduction: "none" }), [x, y])).toBe(true);
  });

  it("refuses shapes that differ (no silent broadcasting of [N] against [N, 1])", () => {
    expect(() => mseLoss(tensor([1, 2]), tensor([[1], [2]]))).toThrow(ShapeError);
    expect(() => mseLoss(tensor([1, 2]), tensor([[1], [2]]))).toThrow("mseLoss: input and target must have the same shape, but got [2] and [2, 1]");
  });
});
