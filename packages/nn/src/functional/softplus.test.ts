import { gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { softplus } from "./softplus.js";

describe("softplus", () => {
  it("is log(1 + exp(x)) and stays finite and exact at ±1000", () => {
    const xs = [-3, -0.5, 0, 0.5, 3];
    expectClose(values(softplus(tensor(xs, { dtype: "float64" }))), xs.map((x) => Math.log(1 + Math.exp(x))), "values", 1e-14);
    expectClose(values(softplus(tensor([1000, -1000]))), [1000, 0], "extremes");
  });

  it("gradcheck x=[3,7] and at 0", () => {
    expect(gradcheck((a) => softplus(a), [randn([3, 7], 1, { requiresGrad: true, scale: 3 })])).toBe(true);
    expect(gradcheck((a) => softplus(a), [tensor([0, 0], { dtype: "float64", requiresGrad: true })])).toBe(true);
  });
});
