import { ArgumentError, GraphError, ShapeError, Tensor, gradcheck } from "@pico/core";
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

  describe("inplace", () => {
    const pair = (seed: number, requiresGrad: boolean, dtype: "float32" | "float64" = "float32") =>
      [randn([4, 8, 6, 6], seed, { dtype }), randn([4, 8, 6, 6], seed + 1, { dtype, requiresGrad })] as const;

    for (const dtype of ["float32", "float64"] as const) {
      it(`${dtype} x=[4,8,6,6]: writes relu(a + b) into a's buffer, bumps its version, and gives the out-of-place values and gradients`, () => {
        const [a0, b0] = pair(7, true, dtype);
        const expected = addRelu(a0, b0);
        expected.mul(randn([4, 8, 6, 6], 9, { dtype })).sum().backward();
        const [h, b] = pair(7, true, dtype);
        const a = h.mul(1); // a non-leaf, as a layer's output is
        const version = a.version;
        const y = addRelu(a, b, { inplace: true });
        expect(y.data.data).toBe(a.data.data);
        expect(a.version).toBe(version + 1);
        expect(values(y)).toEqual(values(expected));
        y.mul(randn([4, 8, 6, 6], 9, { dtype })).sum().backward();
        expect(values(b.grad!)).toEqual(values(b0.grad!));
      });
    }

    it("gradcheck float64: both gradients through the in-place write (a a layer's output, b broadcast)", () => {
      for (const bs of [[2, 3, 4], [3, 1]] as const) {
        const a = randn([2, 3, 4], 11, { requiresGrad: true });
        const b = randn(bs, 12, { requiresGrad: true });
        expect(gradcheck((x, y) => addRelu(x.mul(1), y, { inplace: true }), [a, b])).toBe(true);
      }
    });

    it("broadcasts b into a (a of the broadcast shape)", () => {
      const a = randn([2, 3, 4], 1, { dtype: "float32" });
      const b = randn([3, 1], 2, { dtype: "float32" });
      const expected = values(addRelu(a, b));
      expect(values(addRelu(a, b, { inplace: true }))).toEqual(expected);
      expect(values(a)).toEqual(expected);
    });

    it("a backward that saved a before the write refuses to run, naming the in-place write", () => {
      const [x, b] = pair(3, true);
      x.requiresGrad = true;
      const a = x.sigmoid(); // sigmoid saves its output for backward
      expect(() => addRelu(a, b, { inplace: true }).sum().backward()).toThrow(GraphError);
      // mul saves its inputs, not its output: writing into that output is no error.
      expect(() => addRelu(x.mul(2), b, { inplace: true }).sum().backward()).not.toThrow();
    });

    it("refuses what torch refuses: a of another shape or dtype than the result, a view, a leaf that requires grad; and unknown options", () => {
      expect(() => addRelu(Tensor.zeros([3, 1]), Tensor.zeros([2, 3, 4]), { inplace: true })).toThrow(/addRelu: inplace writes the result into a, so a must have the broadcast shape \[2, 3, 4\]/);
      expect(() => addRelu(Tensor.zeros([2, 3]), Tensor.zeros([2, 3], { dtype: "float64" }), { inplace: true })).toThrow(/dtype float64/);
      expect(() => addRelu(Tensor.zeros([4, 3]).transpose(0, 1), Tensor.zeros([3, 4]), { inplace: true })).toThrow(/must be packed/);
      expect(() => addRelu(Tensor.zeros([2, 3], { requiresGrad: true }), Tensor.zeros([2, 3]), { inplace: true })).toThrow(/leaf tensor that requires grad/);
      expect(() => addRelu(Tensor.zeros([2]), Tensor.zeros([2]), { inPlace: true } as never)).toThrow(ArgumentError);
      expect(() => addRelu(Tensor.zeros([2]), Tensor.zeros([2]), { inplace: 1 } as never)).toThrow(/inplace must be a boolean/);
    });
  });
});
