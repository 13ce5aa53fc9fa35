import { ArgumentError, Generator, Tensor, gradcheck, manualSeed } from "@pico/core";
import { describe, expect, it } from "vitest";
import { randn, values } from "../test-utils/tensors.js";
import { dropout } from "./dropout.js";

describe("dropout", () => {
  it("zeroes about p of the elements and scales the rest by 1 / (1 − p)", () => {
    const n = 20000;
    const y = values(dropout(Tensor.ones([n]), 0.3, { generator: new Generator(1) }));
    const zeros = y.filter((v) => v === 0).length;
    // Binomial(20000, 0.3): standard deviation ≈ 65, so ±400 is over 6 sigma.
    expect(Math.abs(zeros - 0.3 * n)).toBeLessThan(400);
    for (const v of y) if (v !== 0) expect(v).toBeCloseTo(1 / 0.7, 6);
    const mean = y.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(mean - 1)).toBeLessThan(0.03);
  });

  it("is the identity when not training or when p = 0, and all zeros when p = 1", () => {
    const x = Tensor.randn([3, 4]);
    expect(dropout(x, 0.5, { training: false })).toBe(x);
    expect(dropout(x, 0)).toBe(x);
    expect(values(dropout(x, 1)).every((v) => v === 0)).toBe(true);
  });

  it("repeats for the same seed, explicit or through manualSeed", () => {
    const x = Tensor.ones([100]);
    expect(values(dropout(x, 0.5, { generator: new Generator(7) }))).toEqual(values(dropout(x, 0.5, { generator: new Generator(7) })));
    manualSeed(3);
    const a = values(dropout(x, 0.5));
    manualSeed(3);
    expect(values(dropout(x, 0.5))).toEqual(a);
    expect(values(dropout(x, 0.5))).not.toEqual(a);
  });

  it("passes the gradient through the kept elements only, scaled", () => {
    const x = Tensor.ones([50], { requiresGrad: true });
    const y = dropout(x, 0.4, { generator: new Generator(2) });
    y.sum().backward();
    expect(values(x.grad!)).toEqual(values(y));
  });

  it("gradcheck x=[3,7] with the same mask on every call (a fresh generator of one seed)", () => {
    expect(gradcheck((a) => dropout(a, 0.3, { generator: new Generator(4) }), [randn([3, 7], 1, { requiresGrad: true })])).toBe(true);
  });

  it("refuses p outside [0, 1]", () => {
    expect(() => dropout(Tensor.ones([2]), 1.5)).toThrow(ArgumentError);
    expect(() => dropout(Tensor.ones([2]), -0.1)).toThrow("dropout: p (the probability of an element being zeroed) must be a number in [0, 1], but got -0.1");
  });
});
