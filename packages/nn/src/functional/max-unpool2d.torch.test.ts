import { Tensor, gradcheck, tensor } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { MaxUnpool2d } from "../layers/max-unpool2d.js";
import { randn } from "../test-utils/tensors.js";
import { maxPool2dWithIndices, maxUnpool2d } from "./max-unpool2d.js";

describeTorch("maxPool2dWithIndices and maxUnpool2d vs torch: values, indices, input gradient", () => {
  it("pool 2 then unpool 2 [2, 3, 6, 6]", () =>
    compareWithTorch([[2, 3, 6, 6]], (a) => {
      const [y, i] = maxPool2dWithIndices(a, 2);
      return [y, i, maxUnpool2d(y, i, 2)];
    }, "y, i = F.max_pool2d(a, 2, return_indices=True)\nout = [y, i.to(a.dtype), F.max_unpool2d(y, i, 2)]"));
  it("kernel 3 stride 2 padding 1 on [1, 2, 7, 5], unpooled to the input's size", () =>
    compareWithTorch([[1, 2, 7, 5]], (a) => {
      const [y, i] = maxPool2dWithIndices(a, 3, { stride: 2, padding: 1 });
      return [i, new MaxUnpool2d(3, { stride: 2, padding: 1 }).forward(y, i, [7, 5])];
    }, "y, i = F.max_pool2d(a, 3, stride=2, padding=1, return_indices=True)\nout = [i.to(a.dtype), F.max_unpool2d(y, i, 3, stride=2, padding=1, output_size=(7, 5))]"));
  it("unbatched [3, 4, 4], ties in the windows", () =>
    compareWithTorch([[3, 4, 4]], (a) => {
      const [y, i] = maxPool2dWithIndices(a, 2);
      return [i, maxUnpool2d(y, i, 2)];
    }, "y, i = F.max_pool2d(a, 2, return_indices=True)\nout = [i.to(a.dtype), F.max_unpool2d(y, i, 2)]", { choices: [-1, 0, 1] }));
});

describe("maxUnpool2d", () => {
  it("gradcheck in float64, and refuses bad indices and sizes", () => {
    const idx = tensor([[[[0, 3], [9, 14]]]], { dtype: "float64" });
    expect(gradcheck((a) => maxUnpool2d(a, idx, 2), [randn([1, 1, 2, 2], 1, { requiresGrad: true })])).toBe(true);
    expect(() => maxUnpool2d(Tensor.zeros([1, 1, 2, 2]), tensor([[[[0, 3], [9, 16]]]]), 2)).toThrow("maxUnpool2d: index 16 is out of range for an output plane of 4x4 (input element 3)");
    expect(() => maxUnpool2d(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1, 1, 2, 2]), 2, { outputSize: [6, 4] })).toThrow(
      "maxUnpool2d: outputSize must be [H, W] within a stride of the default 4x4 (stride [2, 2]), but got [6,4]",
    );
    expect(() => maxUnpool2d(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1, 1, 2]), 2)).toThrow("maxUnpool2d: indices must have the input's shape [1, 1, 2, 2], but got [1, 1, 2]");
  });
});
