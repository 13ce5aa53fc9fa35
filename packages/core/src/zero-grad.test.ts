import { describe, expect, it } from "vitest";
import { ArgumentError } from "./errors.js";
import { Tensor, tensor } from "./tensor.js";
import { clearPool, pooledByteCount } from "./buffer-pool.js";
import { zeroGradSetsToNone } from "./zero-grad.js";

describe("Tensor.zeroGrad", () => {
  it("sets .grad to null by default and with { setToNone: true }", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    w.mul(tensor([3, 4])).sum().backward();
    w.zeroGrad();
    expect(w.grad).toBeNull();
    w.mul(tensor([3, 4])).sum().backward();
    w.zeroGrad({ setToNone: true });
    expect(w.grad).toBeNull();
  });

  it("with { setToNone: false } fills .grad with zeros in the same array, and backward adds into it", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    w.mul(tensor([3, 4])).sum().backward();
    const grad = w.grad!;
    const array = grad.data.data;
    const version = grad.version;
    w.zeroGrad({ setToNone: false });
    expect(w.grad).toBe(grad);
    expect(w.grad!.data.data).toBe(array);
    expect(Array.from(array)).toEqual([0, 0]);
    expect(grad.version).toBe(version + 1);
    w.mul(tensor([5, 7])).sum().backward();
    expect(w.grad!.data.data).toBe(array);
    expect(Array.from(array)).toEqual([5, 7]);
  });

  it("with { setToNone: false } leaves a missing .grad null", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    w.zeroGrad({ setToNone: false });
    expect(w.grad).toBeNull();
  });

  it("zeroes only the elements a strided .grad shows", () => {
    const w = Tensor.zeros([2, 2], { requiresGrad: true });
    const base = tensor([[1, 2, 3], [4, 5, 6]]);
    w.grad = base.slice(1, 1, 3).transpose(0, 1);
    w.zeroGrad({ setToNone: false });
    expect(base.toArray()).toEqual([[1, 0, 0], [4, 0, 0]]);
    expect(w.grad!.toArray()).toEqual([[0, 0], [0, 0]]);
  });

  it("refuses options it does not know, naming the method, the rule and the value", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    w.mul(tensor([3, 4])).sum().backward();
    const zeroGrad = w.zeroGrad.bind(w) as (options?: unknown) => void;
    expect(() => zeroGrad({ setToNoen: false })).toThrow(new ArgumentError('Tensor.zeroGrad: unknown option "setToNoen"; the options are setToNone'));
    expect(() => zeroGrad({ setToNone: "no" })).toThrow(new ArgumentError('Tensor.zeroGrad: setToNone must be true or false, but got "no"'));
    expect(() => zeroGrad(false)).toThrow(new ArgumentError("Tensor.zeroGrad: options must be an object like { setToNone: false }, but got false"));
    expect(() => zeroGrad(null)).toThrow(new ArgumentError("Tensor.zeroGrad: options must be an object like { setToNone: false }, but got null"));
    expect(() => zeroGrad([false])).toThrow(new ArgumentError("Tensor.zeroGrad: options must be an object like { setToNone: false }, but got an array of 1 items"));
    expect(w.grad!.toArray()).toEqual([3, 4]);
  });

  it("zeroGradSetsToNone reads an absent or undefined setToNone as true", () => {
    expect(zeroGradSetsToNone("X.zeroGrad", undefined)).toBe(true);
    expect(zeroGradSetsToNone("X.zeroGrad", {})).toBe(true);
    expect(zeroGradSetsToNone("X.zeroGrad", { setToNone: undefined })).toBe(true);
    expect(zeroGradSetsToNone("X.zeroGrad", { setToNone: false })).toBe(false);
  });
});

describe("a .grad nobody has read, dropped by Tensor.zeroGrad or `t.grad = null`", () => {
  // 2,048 floats: large enough for the buffer pool.
  const n = 2048;
  const scaled = (k: number): Tensor => tensor(Float32Array.from({ length: n }, (_, i) => (i % 7) + k));
  const gradOf = (w: Tensor, k: number): void => w.mul(scaled(k)).sum().backward();
  const expected = (k: number): number[] => Array.from({ length: 8 }, (_, i) => (i % 7) + k);

  it("goes back to the buffer pool, while a .grad read before it was dropped stays the reader's", () => {
    const w = Tensor.zeros([n], { requiresGrad: true });
    clearPool();
    gradOf(w, 1);
    const kept = w.grad!;
    let before = pooledByteCount();
    w.zeroGrad();
    expect(pooledByteCount()).toBe(before);
    gradOf(w, 2);
    before = pooledByteCount();
    w.zeroGrad();
    expect(pooledByteCount()).toBe(before + n * 4);
    gradOf(w, 3);
    before = pooledByteCount();
    w.grad = null;
    expect(pooledByteCount()).toBe(before + n * 4);
    gradOf(w, 4);
    expect(Array.from(w.grad!.data.data.subarray(0, 8))).toEqual(expected(4));
    // Recycled arrays became later steps' arrays; the one read after the first backward still holds its gradient.
    expect(Array.from(kept.data.data.subarray(0, 8))).toEqual(expected(1));
    expect(kept.data.data.length).toBe(n);
  });
});
