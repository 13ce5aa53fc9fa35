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

  it("is x itself above the threshold (value and gradient), with beta, as PyTorch", () => {
    const x = tensor([20.5, 19.5, 3, -1], { dtype: "float64", requiresGrad: true });
    const y = softplus(x);
    expect(values(y)[0]).toBe(20.5);
    expect(values(y)[1]).toBeCloseTo(19.5 + Math.log1p(Math.exp(-19.5)), 14);
    y.sum().backward();
    expect(values(x.grad!)[0]).toBe(1);
    expect(values(x.grad!)[1]).toBeLessThan(1);
    expectClose(values(softplus(tensor([1, -2], { dtype: "float64" }), { beta: 2 })), [Math.log1p(Math.exp(2)) / 2, Math.log1p(Math.exp(-4)) / 2], "beta 2", 1e-14);
    expect(values(softplus(tensor([3]), { beta: 2, threshold: 5 }))).toEqual([3]);
    expect(gradcheck((a) => softplus(a, { beta: 0.5, threshold: 4 }), [randn([3, 7], 2, { requiresGrad: true, scale: 3 })])).toBe(true);
  });

  it("refuses bad options", () => {
    expect(() => softplus(tensor([1]), { beta: 0 })).toThrow("softplus: beta must be a number in (0, Infinity], but got 0");
    expect(() => softplus(tensor([1]), { alpha: 1 } as unknown as { beta: number })).toThrow('softplus: unknown option "alpha"; the options are beta, threshold');
  });
});
