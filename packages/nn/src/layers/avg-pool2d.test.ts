import { ArgumentError, ShapeError, Tensor } from "@pico/core";
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

  it("refuses options it does not have, and bad values, instead of ignoring them", () => {
    expect(() => new AvgPool2d(2, { dilation: 2 } as unknown as { ceilMode: boolean })).toThrow(ArgumentError);
    expect(() => new AvgPool2d(2, { dilation: 2 } as unknown as { ceilMode: boolean })).toThrow(
      'AvgPool2d: unknown option "dilation"; the options are stride, padding, ceilMode, countIncludePad, divisorOverride',
    );
    expect(() => new AvgPool2d(2, { divisorOverride: 0 })).toThrow("AvgPool2d: divisorOverride must be a non-zero integer or null, but got 0");
    expect(() => avgPool2d(Tensor.zeros([1, 1, 4, 4]), 2, { divisorOverride: 1.5 })).toThrow("avgPool2d: divisorOverride must be a non-zero integer or null, but got 1.5");
    expect(() => new AvgPool2d(2, { countIncludePad: "no" as unknown as boolean })).toThrow("AvgPool2d: countIncludePad must be a boolean, but got string no");
  });

  it("prints the options that differ from PyTorch's defaults", () => {
    expect(new AvgPool2d(2, { ceilMode: true, countIncludePad: false, divisorOverride: 3 }).toString()).toBe(
      "AvgPool2d(kernelSize=(2, 2), stride=(2, 2), padding=(0, 0), ceilMode=true, countIncludePad=false, divisorOverride=3)",
    );
  });
});
