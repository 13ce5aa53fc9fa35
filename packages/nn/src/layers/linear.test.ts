import { Generator, ShapeError, Tensor, manualSeed } from "@pico/core";
import { describe, expect, it } from "vitest";
import { checkModuleGradients } from "../test-utils/module-gradcheck.js";
import { randn, values } from "../test-utils/tensors.js";
import { Linear } from "./linear.js";

describe("Linear", () => {
  it("holds weight [out, in] and bias [out], initialised in ±1/sqrt(in) as PyTorch", () => {
    const layer = new Linear(400, 30, { generator: new Generator(1) });
    expect(layer.weight.shape).toEqual([30, 400]);
    expect(layer.bias!.shape).toEqual([30]);
    const bound = 1 / Math.sqrt(400);
    const w = values(layer.weight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    expect(values(layer.bias!).every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Linear(3, 2, { bias: false }).bias).toBeNull();
  });

  it("is reproducible from a generator or from manualSeed", () => {
    expect(values(new Linear(5, 4, { generator: new Generator(3) }).weight)).toEqual(values(new Linear(5, 4, { generator: new Generator(3) }).weight));
    manualSeed(11);
    const a = values(new Linear(5, 4).weight);
    manualSeed(11);
    expect(values(new Linear(5, 4).weight)).toEqual(a);
  });

  it("maps [..., in] to [..., out] and its gradients (input, weight, bias) match central differences", () => {
    const layer = new Linear(3, 5, { dtype: "float64", generator: new Generator(4) });
    expect(layer.forward(Tensor.zeros([2, 7, 3], { dtype: "float64" })).shape).toEqual([2, 7, 5]);
    checkModuleGradients(layer, randn([4, 3], 1));
    checkModuleGradients(new Linear(7, 1, { bias: false, dtype: "float64" }), randn([2, 3, 7], 2));
  });

  it("names the layer and the rule on a wrong input or argument", () => {
    const layer = new Linear(256, 120);
    expect(() => layer.forward(Tensor.zeros([64, 784]))).toThrow(ShapeError);
    expect(() => layer.forward(Tensor.zeros([64, 784]))).toThrow("Linear: expected input with 256 features [..., 256], but got shape [64, 784]");
    expect(() => new Linear(0, 3)).toThrow("Linear: inFeatures must be an integer >= 1, but got 0");
    expect(() => new Linear(3, 2.5)).toThrow("Linear: outFeatures must be an integer >= 1, but got 2.5");
  });
});
