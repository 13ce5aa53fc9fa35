import { ShapeError, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { avgPool2d } from "../functional/avg-pool2d.js";
import { randn, values } from "../test-utils/tensors.js";
import { AvgPool2d } from "./avg-pool2d.js";

describe("AvgPool2d", () => {
  it("defaults the stride to the kernel size and calls F.avgPool2d", () => {
    const x = randn([2, 3, 6, 5], 1);
    expect(new AvgPool2d(2).forward(x).shape).toEqual([2, 3, 3, 2]);
    expect(values(new AvgPool2d(2).forward(x))).toEqual(values(avgPool2d(x, 2, { stride: 2 })));
    const padded = new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false });
    expect(values(padded.forward(x))).toEqual(values(avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false })));
  });

  it("names the layer on a wrong input", () => {
    expect(() => new AvgPool2d(2).forward(Tensor.zeros([2, 1, 4, 4, 1]))).toThrow(ShapeError);
    expect(() => new AvgPool2d(2).forward(Tensor.zeros([2, 1, 4, 4, 1]))).toThrow("AvgPool2d: expected input of shape [N, C, H, W] or [C, H, W]");
  });
});
