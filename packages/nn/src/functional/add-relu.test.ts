import { ShapeError, Tensor, gradcheck } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { addRelu } from "./add-relu.js";

describe("addRelu", () => {
  for (const [as, bs] of [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[4], [2, 4]]] as const) {
    it(`gradcheck float64 a=[${as}] b=[${bs}]`, () => {
      const a = randn(as, 1, { requiresGrad: true });
      const b = randn(bs, 2, { requiresGrad: true });
      expect(gradcheck((x, y) => addRelu(x, y), [a, b])).toBe(true);
    });
  }

  it("float32 x=[8,16,32,32] (the fused kernel): values and both gradients equal a.add(b).relu() exactly", () => {
    const run = (fused: boolean) => {
      const a = randn([8, 16, 32, 32], 3, { dtype: "float32", requiresGrad: true });
      const b = randn([8, 16, 32, 32], 4, { dtype: "float32", requiresGrad: true });
      const y = fused ? addRelu(a, b) : a.add(b).relu();
      y.mul(randn([8, 16, 32, 32], 5, { dtype: "float32" })).sum().backward();
      return [values(y), Array.from(a.grad!.toTypedArray()), Array.from(b.grad!.toTypedArray())];
    };
    const [fused, plain] = [run(true), run(false)];
    expectClose(fused[0]!, plain[0]!, "output", 0, 0);
    expectClose(fused[1]!, plain[1]!, "gradient of a", 0, 0);
    expectClose(fused[2]!, plain[2]!, "gradient of b", 0, 0);
  });

  it("refuses shapes that do not broadcast, naming the operator", () => {
    expect(() => addRelu(Tensor.zeros([2, 3]), Tensor.zeros([4]))).toThrow(ShapeError);
    expect(() => addRelu(Tensor.zeros([2, 3]), Tensor.zeros([4]))).toThrow(/addRelu/);
  });
});
