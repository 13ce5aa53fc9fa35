import { Generator, Tensor, gradcheck } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Conv2d } from "../layers/conv2d.js";
import { ConvTranspose2d } from "../layers/conv-transpose2d.js";
import { randn } from "../test-utils/tensors.js";
import { conv2d } from "./conv2d.js";
import { convTranspose2d } from "./conv-transpose2d.js";

describe("convTranspose2d", () => {
  it("gradcheck in float64 through input, weight and bias (stride, padding, outputPadding, groups)", () => {
    const g = (shape: number[], seed: number): Tensor => randn(shape, seed, { requiresGrad: true });
    expect(gradcheck((x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [g([2, 2, 3, 3], 1), g([2, 3, 3, 3], 2), g([3], 3)])).toBe(true);
    expect(gradcheck((x, w) => convTranspose2d(x, w, null, { groups: 2, dilation: [1, 2] }), [g([1, 4, 3, 2], 4), g([4, 1, 2, 2], 5)])).toBe(true);
  });

  it("is the adjoint of conv2d: <conv2d(y, w), x> = <y, convTranspose2d(x, w)>", () => {
    const gen = new Generator(6);
    const w = Tensor.randn([3, 2, 3, 3], { dtype: "float64", generator: gen });
    const y = Tensor.randn([1, 2, 9, 9], { dtype: "float64", generator: gen });
    const x = Tensor.randn([1, 3, 5, 5], { dtype: "float64", generator: gen });
    const left = conv2d(y, w, null, { stride: 2, padding: 1 }).mul(x).sum().item();
    const right = y.mul(convTranspose2d(x, w, null, { stride: 2, padding: 1 })).sum().item();
    expect(Math.abs(left - right)).toBeLessThan(1e-10 * Math.abs(left));
  });

  it("upsamples a Conv2d's output back to its input's size in an autoencoder", () => {
    const down = new Conv2d(1, 4, 3, { stride: 2, padding: 1 });
    const up = new ConvTranspose2d(4, 1, 3, { stride: 2, padding: 1, outputPadding: 1 });
    const x = Tensor.randn([2, 1, 28, 28]);
    expect(up.forward(down.forward(x).relu()).shape).toEqual([2, 1, 28, 28]);
  });

  it("refuses bad arguments, naming the layer and the rule", () => {
    expect(() => new ConvTranspose2d(4, 6, 3, { groups: 4 })).toThrow("ConvTranspose2d: outChannels (6) must be divisible by groups (4)");
    expect(() => new ConvTranspose2d(4, 6, 3, { stride: 2, outputPadding: 2 })).toThrow(
      "ConvTranspose2d: outputPadding must be smaller than either stride or dilation, but got outputPadding (2, 2), stride (2, 2), dilation (1, 1)",
    );
    expect(() => new ConvTranspose2d(4, 6, 3).forward(Tensor.zeros([1, 3, 5, 5]))).toThrow("ConvTranspose2d: expected input with 4 channels [N, 4, H, W], but got shape [1, 3, 5, 5]");
    expect(() => convTranspose2d(Tensor.zeros([1, 2, 2, 2]), Tensor.zeros([2, 1, 3, 3]), null, { padding: 3 })).toThrow(/convTranspose2d: output size would be -2x-2/);
    expect(() => new ConvTranspose2d(4, 6, 3, { outputPading: 1 } as never)).toThrow(/ConvTranspose2d: unknown option "outputPading"/);
  });
});
