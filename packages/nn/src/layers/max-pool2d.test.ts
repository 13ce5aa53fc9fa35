import { ArgumentError, ShapeError, Tensor, tensor } from "@pico/core";
import { Sequential } from "./sequential.js";
import { Conv2d } from "./conv2d.js";
import { ReLU } from "./relu.js";
import { describe, expect, it } from "vitest";
import { maxPool2d } from "../functional/max-pool2d.js";
import { randn, values } from "../test-utils/tensors.js";
import { MaxPool2d } from "./max-pool2d.js";
import { MaxUnpool2d } from "./max-unpool2d.js";

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

  it("forwardWithIndices (torch's return_indices) gives the output and the per-plane index of each maximum, which MaxUnpool2d puts back", () => {
    const pool = new MaxPool2d(2);
    const x = tensor([[[[1, 5, 2, 0], [3, 4, 8, 7], [9, 0, 1, 1], [2, 6, 3, 0]]]]);
    const [out, indices] = pool.forwardWithIndices(x);
    expect(values(out)).toEqual(values(pool.forward(x)));
    expect(values(out)).toEqual([5, 8, 9, 3]);
    expect(values(indices)).toEqual([1, 6, 8, 14]);
    expect(values(new MaxUnpool2d(2).forward(out, indices))).toEqual([0, 5, 0, 0, 0, 0, 8, 0, 9, 0, 0, 0, 0, 0, 3, 0]);
  });

  it("names the layer and the rule on a wrong input", () => {
    expect(() => new MaxPool2d(2).forward(Tensor.zeros([4, 4]))).toThrow(ShapeError);
    expect(() => new MaxPool2d(2).forward(Tensor.zeros([4, 4]))).toThrow("MaxPool2d: expected input of shape [N, C, H, W] or [C, H, W], but got rank 2 with shape [4, 4]");
    expect(() => new MaxPool2d(3, { padding: 2 }).forward(Tensor.zeros([1, 1, 5, 5]))).toThrow("MaxPool2d: padding (2, 2) must be at most half the kernel size (3, 3)");
    expect(() => new MaxPool2d(3).forward(Tensor.zeros([1, 1, 2, 5]))).toThrow("MaxPool2d: input of height × width 2 × 5");
  });

  it("refuses options it does not have instead of ignoring them", () => {
    const options = { returnIndices: true } as unknown as { ceilMode: boolean };
    expect(() => new MaxPool2d(2, options)).toThrow(ArgumentError);
    expect(() => new MaxPool2d(2, options)).toThrow('MaxPool2d: unknown option "returnIndices"; the options are stride, padding, dilation, ceilMode');
    expect(() => maxPool2d(Tensor.zeros([1, 1, 4, 4]), 2, { count_include_pad: false } as unknown as { ceilMode: boolean })).toThrow(
      'maxPool2d: unknown option "count_include_pad"; the options are stride, padding, dilation, ceilMode',
    );
    expect(() => new MaxPool2d(2, { ceilMode: 1 as unknown as boolean })).toThrow("MaxPool2d: ceilMode must be a boolean, but got number 1");
    expect(() => new MaxPool2d(3, { dilation: 3 }).forward(Tensor.zeros([1, 1, 6, 6]))).toThrow("MaxPool2d: input of height × width 6 × 6 (with padding 6 × 6) is smaller than the dilated kernel 7 × 7");
  });

  it("prints dilation and ceilMode when set", () => {
    expect(new MaxPool2d(3, { stride: 2, dilation: 2, ceilMode: true }).toString()).toBe("MaxPool2d(kernelSize=(3, 3), stride=(2, 2), padding=(0, 0), dilation=(2, 2), ceilMode=true)");
  });

  it("in a Sequential, a pool with ceilMode or dilation is not fused and gives the unfused result", () => {
    const x = randn([2, 1, 9, 9], 3);
    for (const pool of [new MaxPool2d(2, { ceilMode: true }), new MaxPool2d(2, { dilation: 2 })]) {
      const seq = new Sequential(new Conv2d(1, 2, 2, { dtype: "float64" }), new ReLU(), pool);
      const expected = pool.forward(new ReLU().forward(seq.at(0).forward(x)));
      expect(values(seq.forward(x))).toEqual(values(expected));
    }
  });
});
