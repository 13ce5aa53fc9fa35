import { ShapeError, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { maxPool2d } from "../functional/max-pool2d.js";
import { randn, values } from "../test-utils/tensors.js";
import { MaxPool2d } from "./max-pool2d.js";

describe("MaxPool2d", () => {
  it("defaults the stride to the kernel size and calls F.maxPool2d", () => {
    const pool = new MaxPool2d(2);
    expect(pool.stride).toEqual([2, 2]);
    const x = randn([2, 3, 6, 5], 1);
    expect(pool.forward(x).shape).toEqual([2, 3, 3, 2]);
    expect(values(pool.forward(x))).toEqual(values(maxPool2d(x, 2, { stride: 2 })));
    const overlapping = new MaxPool2d(3, { stride: 1, padding: 1 });
    expect(values(overlapping.forward(x))).toEqual(values(maxPool2d(x, 3, { stride: 1, padding: 1 })));
  });

  it("names the layer and the rule on a wrong input", () => {
    expect(() => new MaxPool2d(2).forward(Tensor.zeros([4, 4]))).toThrow(ShapeError);
    expect(() => new MaxPool2d(2).forward(Tensor.zeros([4, 4]))).toThrow("MaxPool2d: expected input of shape [N, C, H, W] or [C, H, W], but got rank 2 with shape [4, 4]");
    expect(() => new MaxPool2d(3, { padding: 2 }).forward(Tensor.zeros([1, 1, 5, 5]))).toThrow("MaxPool2d: padding (2, 2) must be at most half the kernel size (3, 3)");
    expect(() => new MaxPool2d(3).forward(Tensor.zeros([1, 1, 2, 5]))).toThrow("MaxPool2d: input of height × width 2 × 5");
  });
});
