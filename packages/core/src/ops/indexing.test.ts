import { describe, expect, it } from "vitest";
import { gradcheck } from "../gradcheck.js";
import { Tensor, tensor } from "../tensor.js";
import { clampTensor, cumsum, gather, indexSelect, scatterAdd, where } from "./indexing.js";

const x64 = (shape: number[]): Tensor => {
  const t = Tensor.randn(shape, { dtype: "float64" });
  t.requiresGrad = true;
  return t;
};

describe("indexing operators", () => {
  it("take known values", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(indexSelect(a, 1, tensor([2, 0, -1])).toArray()).toEqual([[3, 1, 3], [6, 4, 6]]);
    expect(gather(a, 1, tensor([[0, 0], [2, 1]])).toArray()).toEqual([[1, 1], [6, 5]]);
    expect(scatterAdd(Tensor.zeros([2, 3]), 1, tensor([[0, 0], [2, 2]]), tensor([[1, 2, 9], [3, 4, 9]])).toArray()).toEqual([[3, 0, 0], [0, 0, 7]]);
    expect(cumsum(a, 1).toArray()).toEqual([[1, 3, 6], [4, 9, 15]]);
    expect(where(tensor([1, 0, 1]), tensor([1, 2, 3]), -1).toArray()).toEqual([1, -1, 3]);
    expect(clampTensor(tensor([-5, 0, 5]), tensor([-1, -1, -1]), tensor([1])).toArray()).toEqual([-1, 0, 1]);
  });

  it("gradcheck in float64", () => {
    const idx = tensor([1, 0, 1, 2]);
    expect(gradcheck((a) => indexSelect(a, 0, idx), [x64([3, 2])])).toBe(true);
    expect(gradcheck((a) => gather(a, 1, tensor([[0, 2, 2], [1, 1, 0]])), [x64([2, 3])])).toBe(true);
    expect(gradcheck((a, s) => scatterAdd(a, 0, tensor([[0, 1], [0, 0]]), s), [x64([2, 2]), x64([2, 2])])).toBe(true);
    expect(gradcheck((a) => cumsum(a, 0), [x64([4, 2])])).toBe(true);
    expect(gradcheck((a, b) => where(tensor([[1, 0, 1]]), a, b), [x64([2, 3]), x64([3])])).toBe(true);
  });

  it("refuse out-of-range indices and mismatched shapes", () => {
    expect(() => indexSelect(tensor([1, 2]), 0, tensor([2]))).toThrow("indexSelect: index 2 is out of range for an axis of size 2 (indices are whole numbers in [-2, 2))");
    expect(() => gather(tensor([1, 2]), 0, tensor([0.5]))).toThrow(/gather: index 0.5 is out of range/);
    expect(() => gather(tensor([[1, 2]]), 1, tensor([[0], [0]]))).toThrow(/gather: index must have the input's rank/);
    expect(() => where(tensor([1, 0]), tensor([1, 2, 3]), 0)).toThrow(/where: shapes \[2\], \[3\], \[\] do not broadcast/);
    expect(() => clampTensor(tensor([1]), tensor([0, 0]), null)).toThrow("clamp: the bounds must broadcast to the input's shape [1], but give [2]");
  });
});
