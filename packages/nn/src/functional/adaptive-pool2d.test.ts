import { ArgumentError, ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { AdaptiveAvgPool2d } from "../layers/adaptive-avg-pool2d.js";
import { AdaptiveMaxPool2d } from "../layers/adaptive-max-pool2d.js";
import { randn, values } from "../test-utils/tensors.js";
import { adaptiveAvgPool2d } from "./adaptive-avg-pool2d.js";
import { adaptiveMaxPool2d } from "./adaptive-max-pool2d.js";

describe("adaptive pooling", () => {
  it("x=[1,1,1,5] to width 3: windows [0,2), [1,4), [3,5) overlap, as PyTorch", () => {
    const x = tensor([1, 2, 3, 4, 5], { shape: [1, 1, 1, 5], dtype: "float64" });
    expect(values(adaptiveAvgPool2d(x, [1, 3]))).toEqual([1.5, 3, 4.5]);
    expect(values(adaptiveMaxPool2d(x, [1, 3]))).toEqual([2, 4, 5]);
  });

  it("outputSize 1 is the global average and max", () => {
    const x = randn([2, 3, 4, 5], 1);
    const mean = values(x.mean([2, 3]));
    values(adaptiveAvgPool2d(x, 1)).forEach((v, i) => expect(v).toBeCloseTo(mean[i]!, 12));
    expect(values(adaptiveMaxPool2d(x, 1))).toEqual(values(x.max([2, 3])));
    expect(new AdaptiveAvgPool2d(1).forward(x).shape).toEqual([2, 3, 1, 1]);
  });

  it("gradients match central differences (overlapping windows included)", () => {
    expect(gradcheck((a) => adaptiveAvgPool2d(a, [3, 2]), [randn([2, 2, 7, 5], 2, { requiresGrad: true })])).toBe(true);
    expect(gradcheck((a) => adaptiveMaxPool2d(a, [3, 4]), [randn([2, 2, 7, 5], 3, { requiresGrad: true })])).toBe(true);
  });

  it("refuses bad sizes and inputs, naming the operator", () => {
    expect(() => new AdaptiveAvgPool2d(0)).toThrow(ArgumentError);
    expect(() => new AdaptiveAvgPool2d(0)).toThrow("AdaptiveAvgPool2d: outputSize must be an integer >= 1 or a pair [height, width] of them (null keeps the input's), but got 0");
    expect(() => new AdaptiveMaxPool2d([2, 1.5])).toThrow("AdaptiveMaxPool2d: outputSize must be an integer >= 1");
    expect(() => adaptiveAvgPool2d(Tensor.zeros([4, 4]), 2)).toThrow(ShapeError);
    expect(() => adaptiveAvgPool2d(Tensor.zeros([4, 4]), 2)).toThrow("adaptiveAvgPool2d: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank 2 with shape [4, 4]");
    expect(new AdaptiveMaxPool2d([null, 3]).toString()).toBe("AdaptiveMaxPool2d(outputSize=[null,3])");
  });
});
