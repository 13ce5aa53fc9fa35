import { describe, expect, it } from "vitest";
import { ArgumentError } from "./errors.js";
import { Tensor, tensor } from "./tensor.js";
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
