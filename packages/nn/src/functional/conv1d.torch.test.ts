import { Generator, Tensor, gradcheck } from "@pico/core";
import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { Conv1d } from "../layers/conv1d.js";
import type { Conv2dPaddingMode } from "../layers/conv2d.js";
import { randn } from "../test-utils/tensors.js";
import { conv1d, type Conv1dOptions } from "./conv1d.js";

const cases: [number[], number[], Conv1dOptions, string][] = [
  [[2, 3, 10], [4, 3, 3], {}, ""],
  [[2, 3, 11], [4, 3, 4], { stride: 2, padding: 1 }, "stride=2, padding=1"],
  [[2, 4, 9], [6, 2, 3], { groups: 2, dilation: 2 }, "groups=2, dilation=2"],
  [[1, 2, 8], [3, 2, 4], { padding: "same" }, "padding='same'"],
  [[2, 3, 7], [5, 3, 1], { padding: "valid" }, "padding='valid'"],
  [[3, 9], [2, 3, 3], { padding: 2 }, "padding=2"],
];

describeTorch("conv1d vs torch: output, input, weight and bias gradients", () => {
  for (const [x, w, options, torchArgs] of cases) {
    const extra = torchArgs === "" ? "" : `, ${torchArgs}`;
    it(`x=${JSON.stringify(x)} w=${JSON.stringify(w)} ${torchArgs}`, () =>
      compareWithTorch([x, w, [w[0]!]], (a, ww, b) => conv1d(a, ww, b, options), `F.conv1d(a, b, c${extra})`));
  }
  it("non-contiguous, no bias", () => compareWithTorch([[2, 3, 8], [4, 3, 3]], (a, ww) => conv1d(a, ww, null, { stride: 3 }), "F.conv1d(a, b, stride=3)", { strided: true }));
  for (const [mode, padding] of [["reflect", 2], ["circular", "same"], ["replicate", 1]] as [Conv2dPaddingMode, number | "same"][]) {
    it(`Conv1d paddingMode ${mode} padding ${padding}`, () => {
      const layer = new Conv1d(3, 2, 4, { padding, paddingMode: mode, dtype: "float64", generator: new Generator(1) });
      return compareWithTorch(
        [[2, 3, 9], [2, 3, 4], [2]],
        (a, ww, b) => {
          layer.weight.data = ww.to(a.dtype).data;
          layer.bias!.data = b.to(a.dtype).data;
          return layer.forward(a);
        },
        `m = nn.Conv1d(3, 2, 4, padding=${padding === "same" ? "'same'" : padding}, padding_mode='${mode}').to(a.dtype)\nwith torch.no_grad():\n    m.weight.copy_(b)\n    m.bias.copy_(c)\nout = m(a)`,
        { grad: false },
      );
    });
  }
});

describe("Conv1d", () => {
  it("gradcheck in float64, torch's weight layout, refuses bad arguments", () => {
    expect(gradcheck((x, w, b) => conv1d(x, w, b, { stride: 2, padding: 1 }), [randn([2, 2, 7], 1, { requiresGrad: true }), randn([3, 2, 3], 2, { requiresGrad: true }), randn([3], 3, { requiresGrad: true })])).toBe(true);
    expect(new Conv1d(4, 6, 5, { groups: 2 }).weight.shape).toEqual([6, 2, 5]);
    expect(new Conv1d(1, 2, 3).forward(Tensor.zeros([5, 1, 16])).shape).toEqual([5, 2, 14]);
    expect(() => new Conv1d(3, 4, 3, { groups: 2 })).toThrow("Conv1d: inChannels (3) must be divisible by groups (2)");
    expect(() => new Conv1d(3, 4, 3, { stride: 2, padding: "same" })).toThrow('Conv1d: padding "same" needs stride 1');
    expect(() => new Conv1d(3, 4, 3).forward(Tensor.zeros([2, 4, 9]))).toThrow("Conv1d: expected input with 3 channels [N, 3, L], but got shape [2, 4, 9]");
    expect(() => conv1d(Tensor.zeros([1, 1, 2]), Tensor.zeros([1, 1, 3]))).toThrow("conv1d: input of length 2 (2 with padding) is shorter than the kernel 3 (dilated), in input of shape [1, 1, 2]");
  });
});
