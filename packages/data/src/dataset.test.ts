import { ArgumentError, ShapeError, Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { type Dataset, Subset, TensorDataset, sampleInto } from "./dataset.js";

/** inputs[i] = [i, i + 0.5] as [1, 2]; targets i % 3. */
function numbered(n: number): TensorDataset {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) x.set([i, i + 0.5], 2 * i);
  return new TensorDataset(tensor(x, { shape: [n, 1, 2] }), Array.from({ length: n }, (_, i) => i % 3));
}

describe("TensorDataset", () => {
  it("serves rows of the inputs and their targets", () => {
    const ds = numbered(5);
    expect(ds.length).toBe(5);
    expect(ds.sampleShape).toEqual([1, 2]);
    const { input, target } = ds.get(4);
    expect(input.shape).toEqual([1, 2]);
    expect(input.toArray()).toEqual([[4, 4.5]]);
    expect(target).toBe(1);
    const out = new Float32Array(6);
    expect(ds.getInto(2, out, 3)).toBe(2);
    expect(Array.from(out)).toEqual([0, 0, 0, 2, 2.5, 0]);
  });

  it("accepts targets as a Tensor and strided (transposed) inputs", () => {
    const base = tensor([[1, 2, 3], [4, 5, 6]]);
    const ds = new TensorDataset(base.transpose(0, 1), tensor([7, 8, 9]));
    expect(ds.get(1).input.toArray()).toEqual([2, 5]);
    expect(ds.get(2).target).toBe(9);
  });

  it("refuses inputs and targets of different lengths, and bad indices", () => {
    expect(() => new TensorDataset(Tensor.zeros([3, 2]), [1, 2])).toThrow(ShapeError);
    expect(() => new TensorDataset(Tensor.zeros([3, 2]), [1, 2])).toThrow(/inputs have 3 samples \(shape \[3, 2\]\), but targets have 2/);
    expect(() => numbered(2).get(2)).toThrow(/TensorDataset.get: index must be an integer in \[0, 2\), but got 2/);
    expect(() => numbered(2).get(0.5)).toThrow(ArgumentError);
  });
});

describe("Subset", () => {
  it("maps indices and keeps the fast path of its data set", () => {
    const sub = new Subset(numbered(6), [5, 0, 3]);
    expect(sub.length).toBe(3);
    expect(sub.sampleShape).toEqual([1, 2]);
    expect(sub.get(0).input.toArray()).toEqual([[5, 5.5]]);
    const out = new Float32Array(2);
    expect(sub.getInto!(2, out, 0)).toBe(0);
    expect(Array.from(out)).toEqual([3, 3.5]);
  });

  it("has no getInto when its data set has none", () => {
    const plain: Dataset = { length: 2, get: (i) => ({ input: tensor([i]), target: i }) };
    const sub = new Subset(plain, [1]);
    expect(sub.getInto).toBeUndefined();
    expect(sub.get(0).target).toBe(1);
    const out = new Float32Array(1);
    expect(sampleInto(sub, 0, out, 0, [1])).toBe(1);
    expect(out[0]).toBe(1);
  });

  it("refuses indices outside the data set", () => {
    expect(() => new Subset(numbered(3), [0, 3])).toThrow(/Subset: indices must be integers in \[0, 3\), but indices\[1\] is 3/);
  });
});
