import { Generator, Tensor, gradcheck } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Dropout2d } from "../layers/dropout2d.js";
import { GroupNorm } from "../layers/group-norm.js";
import { InstanceNorm2d } from "../layers/instance-norm2d.js";
import { LayerNorm } from "../layers/layer-norm.js";
import { randn } from "../test-utils/tensors.js";
import { dropout2d } from "./dropout2d.js";
import { groupNorm } from "./group-norm.js";
import { instanceNorm } from "./instance-norm.js";
import { layerNorm } from "./layer-norm.js";

const grad = (shape: number[], seed: number): Tensor => randn(shape, seed, { requiresGrad: true });

describe("layerNorm, groupNorm, instanceNorm", () => {
  it("gradcheck in float64 through input, weight and bias", () => {
    expect(gradcheck((a, w, b) => layerNorm(a, [3, 4], { weight: w, bias: b }), [grad([2, 3, 4], 1), grad([3, 4], 2), grad([3, 4], 3)])).toBe(true);
    expect(gradcheck((a, w, b) => groupNorm(a, 2, { weight: w, bias: b }), [grad([2, 4, 3, 3], 4), grad([4], 5), grad([4], 6)])).toBe(true);
    expect(gradcheck((a, w, b) => instanceNorm(a, { weight: w, bias: b }), [grad([2, 3, 3, 4], 7), grad([3], 8), grad([3], 9)])).toBe(true);
    expect(gradcheck((a) => layerNorm(a.transpose(), [3]), [grad([3, 5], 10)])).toBe(true);
  });

  it("gives each normalised slice mean 0 and variance 1 (GroupNorm at batch size 1)", () => {
    const y = new GroupNorm(2, 4).forward(Tensor.randn([1, 4, 3, 3], { generator: new Generator(1) }).mul(5).add(3));
    const first = Array.from(y.toTypedArray().subarray(0, 18));
    const mean = first.reduce((s, v) => s + v, 0) / 18;
    expect(mean).toBeCloseTo(0, 5);
    expect(first.reduce((s, v) => s + (v - mean) ** 2, 0) / 18).toBeCloseTo(1, 3);
  });

  it("refuse bad arguments and inputs, naming the layer and the rule", () => {
    expect(() => new GroupNorm(4, 6)).toThrow("GroupNorm: numChannels (6) must be divisible by numGroups (4)");
    expect(() => new GroupNorm(2, 6).forward(Tensor.zeros([2, 4, 3]))).toThrow("GroupNorm: expected input with 6 channels [N, 6, *], but got shape [2, 4, 3]");
    expect(() => new LayerNorm([4, 0])).toThrow("LayerNorm: normalizedShape must be a non-empty list of positive integers, but got [4,0]");
    expect(() => new LayerNorm(5).forward(Tensor.zeros([2, 4]))).toThrow("layerNorm: normalizedShape [5] must match the input's last 1 axes, [*, 5], but got input of shape [2, 4]");
    expect(() => new LayerNorm(5, { eps: 0 })).toThrow(/LayerNorm: eps/);
    expect(() => new InstanceNorm2d(3).forward(Tensor.zeros([2, 3, 4]))).toThrow(/InstanceNorm2d: expected input with 3 channels \[N, 3, H, W\], but got shape \[2, 3, 4\]/);
    expect(() => new InstanceNorm2d(3, { momentum: 2 })).toThrow("InstanceNorm2d: momentum must be in [0, 1], but got 2");
    expect(() => groupNorm(Tensor.zeros([2, 4, 3]), 2, { weight: Tensor.ones([3]) })).toThrow("groupNorm: weight must have shape [4] (one per channel), but got [3]");
  });
});

describe("dropout2d", () => {
  it("zeroes whole channels and scales the kept ones by 1 / (1 - p), repeatably from a generator", () => {
    const x = Tensor.ones([8, 16, 3, 3]);
    const y = dropout2d(x, 0.25, { generator: new Generator(4) }).toTypedArray();
    let dropped = 0;
    for (let ch = 0; ch < 8 * 16; ch++) {
      const plane = Array.from(y.subarray(ch * 9, ch * 9 + 9));
      expect(new Set(plane).size).toBe(1);
      if (plane[0] === 0) dropped++;
      else expect(plane[0]).toBeCloseTo(1 / 0.75, 6);
    }
    expect(dropped).toBeGreaterThan(16);
    expect(dropped).toBeLessThan(48);
    expect(Array.from(dropout2d(x, 0.25, { generator: new Generator(4) }).toTypedArray())).toEqual(Array.from(y));
  });

  it("is the identity in evaluation and at p = 0, passes the mask's gradient, refuses other ranks", () => {
    const x = Tensor.randn([2, 3, 4, 4]);
    expect(new Dropout2d(0.5).eval().forward(x)).toBe(x);
    expect(dropout2d(x, 0)).toBe(x);
    const a = Tensor.ones([1, 4, 2, 2], { requiresGrad: true });
    const y = dropout2d(a, 0.5, { generator: new Generator(2) });
    y.sum().backward();
    expect(Array.from(a.grad!.toTypedArray())).toEqual(Array.from(y.toTypedArray()));
    expect(new Dropout2d().forward(Tensor.ones([3, 2, 2])).shape).toEqual([3, 2, 2]);
    expect(() => dropout2d(Tensor.zeros([2, 3]), 0.5)).toThrow("dropout2d: input must be [N, C, H, W] or [C, H, W], but got shape [2, 3]");
    expect(() => new Dropout2d(1.5)).toThrow(/Dropout2d: p \(the probability of a channel being zeroed\)/);
  });
});
