import { Generator, Tensor, gradcheck } from "@pico/core";
import { describe, expect, it } from "vitest";
import { conv2d } from "../functional/conv2d.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { Conv2dReluFunction } from "./conv2d-relu.js";

// Conv2dReluFunction against conv2d(...).relu(): output and every gradient, on the WebAssembly
// (float32: Winograd, direct, im2col) and TypeScript (float64) kernels.
const geometries = [
  { x: [2, 16, 9, 10], w: [16, 16, 3, 3], options: { padding: [1, 1] as [number, number] } },
  { x: [3, 3, 8, 16], w: [8, 3, 3, 3], options: { padding: [1, 1] as [number, number] } },
  { x: [2, 4, 9, 7], w: [6, 2, 3, 2], options: { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], groups: 2 } },
];

describe("Conv2dReluFunction equals relu(conv2d(x))", () => {
  for (const g of geometries) {
    it(`x=[${g.x.join(",")}] w=[${g.w.join(",")}] ${JSON.stringify(g.options)}: output and gradients`, () => {
      const gen = new Generator(5);
      const make = (shape: number[]) => Tensor.randn(shape, { generator: gen, requiresGrad: true });
      const [x, w, b] = [make(g.x), make(g.w), make([g.w[0]!])];
      const fused = Conv2dReluFunction.apply(x, w, b, g.options);
      const plain = conv2d(x, w, b, g.options).relu();
      expectClose(values(fused), values(plain), "output", 1e-4, 1e-4);
      expect(values(fused).some((v) => v === 0) && values(fused).some((v) => v > 0)).toBe(true);
      const gy = Tensor.randn(plain.shape, { generator: gen });
      const grads = (y: Tensor) => {
        for (const t of [x, w, b]) t.zeroGrad();
        y.mul(gy).sum().backward();
        return [x, w, b].map((t) => values(t.grad!));
      };
      const [gf, gp] = [grads(fused), grads(plain)];
      gf.forEach((v, i) => expectClose(v, gp[i]!, `gradient ${i}`, 1e-4, 1e-4));
    });
  }

  it("float64 gradients pass gradcheck", () => {
    const gen = new Generator(6);
    const make = (shape: number[]) => Tensor.randn(shape, { generator: gen, dtype: "float64", requiresGrad: true });
    const inputs = [make([1, 2, 5, 4]), make([3, 2, 3, 3]), make([3])];
    expect(gradcheck((x, w, b) => Conv2dReluFunction.apply(x, w, b, { padding: [1, 1] }), inputs)).toBe(true);
  });
});
