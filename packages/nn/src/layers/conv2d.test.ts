import { ArgumentError, Generator, ShapeError, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { conv2d } from "../functional/conv2d.js";
import { checkModuleGradients } from "../test-utils/module-gradcheck.js";
import { randn, values } from "../test-utils/tensors.js";
import { Conv2d } from "./conv2d.js";

describe("Conv2d", () => {
  it("holds weight [outC, inC/groups, kH, kW], initialised in ±1/sqrt(fanIn) as PyTorch", () => {
    const layer = new Conv2d(6, 4, [3, 2], { groups: 2, generator: new Generator(1) });
    expect(layer.weight.shape).toEqual([4, 3, 3, 2]);
    expect(layer.bias!.shape).toEqual([4]);
    const bound = 1 / Math.sqrt(3 * 3 * 2);
    expect(Math.max(...values(layer.weight).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...values(layer.bias!).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(new Conv2d(1, 2, 3, { bias: false }).bias).toBeNull();
  });

  it("forward is F.conv2d with the layer's options, batched or not", () => {
    const layer = new Conv2d(2, 3, 3, { stride: 2, padding: 1, dilation: [1, 2], dtype: "float64", generator: new Generator(2) });
    const x = randn([2, 2, 7, 6], 3);
    const expected = conv2d(x, layer.weight, layer.bias, { stride: 2, padding: 1, dilation: [1, 2] });
    expect(values(layer.forward(x))).toEqual(values(expected));
    expect(layer.forward(x).shape).toEqual([2, 3, 4, 2]);
    expect(layer.forward(randn([2, 7, 6], 4)).shape).toEqual([3, 4, 2]);
  });

  it("its gradients (input, weight, bias) match central differences with stride, padding and groups", () => {
    const layer = new Conv2d(4, 2, 3, { stride: 2, padding: 1, groups: 2, dtype: "float64", generator: new Generator(5) });
    checkModuleGradients(layer, randn([2, 4, 5, 5], 6));
  });

  it('padding "same" keeps the spatial size, padding the bottom/right more for an even kernel, as PyTorch', () => {
    const odd = new Conv2d(2, 3, [3, 5], { padding: "same", dtype: "float64", generator: new Generator(7) });
    const x = randn([2, 2, 6, 7], 8);
    expect(values(odd.forward(x))).toEqual(values(conv2d(x, odd.weight, odd.bias, { padding: [1, 2] })));
    const even = new Conv2d(2, 3, [2, 4], { padding: "same", dilation: [1, 1], dtype: "float64", generator: new Generator(9) });
    const y = even.forward(x);
    expect(y.shape).toEqual([2, 3, 6, 7]);
    // kernel 2 × 4: 0 rows on top and 1 below, 1 column on the left and 2 on the right.
    expect(values(y)).toEqual(values(conv2d(x.pad([1, 2, 0, 1]), even.weight, even.bias)));
    checkModuleGradients(even, randn([1, 2, 3, 4], 10));
    expect(new Conv2d(1, 1, 3, { padding: "valid" }).padding).toEqual([0, 0]);
    expect(even.toString()).toBe("Conv2d(2, 3, kernelSize=(2, 4), stride=(1, 1), padding=same)");
    expect(() => new Conv2d(1, 1, 3, { padding: "same", stride: 2 })).toThrow('Conv2d: padding "same" needs stride 1 (a strided output cannot keep the input\'s size), but got stride (2, 2)');
  });

  it("names the layer and the rule on a wrong input", () => {
    const layer = new Conv2d(3, 8, 5);
    expect(() => layer.forward(Tensor.zeros([8, 1, 28, 28]))).toThrow(ShapeError);
    expect(() => layer.forward(Tensor.zeros([8, 1, 28, 28]))).toThrow("Conv2d: expected input with 3 channels [N, 3, H, W], but got shape [8, 1, 28, 28]");
    expect(() => layer.forward(Tensor.zeros([28, 28]))).toThrow("Conv2d: expected input of shape [N, 3, H, W], but got rank 2 with shape [28, 28]");
    expect(() => layer.forward(Tensor.zeros([1, 3, 4, 9]))).toThrow("Conv2d: input of height × width 4 × 9 (4 × 9 with padding) is smaller than the kernel 5 × 5 (dilated)");
  });

  it("checks its arguments in the constructor", () => {
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(ArgumentError);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow("Conv2d: inChannels (3) must be divisible by groups (2)");
    expect(() => new Conv2d(4, 3, 3, { groups: 2 })).toThrow("Conv2d: outChannels (3) must be divisible by groups (2)");
    expect(() => new Conv2d(1, 1, 0)).toThrow("Conv2d: kernelSize must be an integer >= 1 or a pair [height, width] of them, but got 0");
    expect(() => new Conv2d(1, 1, 3, { padding: -1 })).toThrow("Conv2d: padding must be a non-negative integer");
    expect(() => new Conv2d(1, 1, 3, { stride: [1, 0] })).toThrow("Conv2d: stride must be an integer >= 1");
  });

  it("prints like PyTorch, listing only options away from their defaults", () => {
    expect(new Conv2d(1, 8, 5).toString()).toBe("Conv2d(1, 8, kernelSize=(5, 5), stride=(1, 1))");
    expect(new Conv2d(4, 8, [3, 1], { stride: 2, padding: [1, 0], dilation: 2, groups: 4, bias: false }).toString()).toBe(
      "Conv2d(4, 8, kernelSize=(3, 1), stride=(2, 2), padding=(1, 0), dilation=(2, 2), groups=4, bias=false)",
    );
  });
});
