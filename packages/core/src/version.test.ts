import { describe, expect, it } from "vitest";
import { Tensor, tensor } from "./tensor.js";

describe("version counter (PyTorch's rule for in-place writes)", () => {
  it("counts in-place writes per buffer, shared by views", () => {
    const w = Tensor.ones([2, 3]);
    const v = w.transpose().slice(0, 1);
    expect(w.version).toBe(0);
    w.bumpVersion();
    expect(w.version).toBe(1);
    expect(v.version).toBe(1);
    expect(w.clone().version).toBe(0);
  });

  it("a second backward through a retained graph refuses a parameter written since the forward", () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const x = tensor([[1, -1]], { requiresGrad: true });
    const loss = x.matmul(w).tanh().sum();
    loss.backward(undefined, { retainGraph: true });
    const first = w.grad!.toArray();
    w.data.data[0] = 5;
    w.bumpVersion();
    expect(() => loss.backward()).toThrow(
      /backward: one of the variables needed for gradient computation has been modified by an inplace operation: the float32 array of shape \[2, 2\] \(argument 1 of MatMul\) is at version 1; expected version 0 instead/,
    );
    // Nothing was accumulated by the refused pass.
    expect(w.grad!.toArray()).toEqual(first);
  });

  it("names a saved output written in place, and a fresh forward works again", () => {
    const a = tensor([0.5, -1], { requiresGrad: true });
    const y = a.exp();
    const z = y.sum();
    y.data.data[0] = 0;
    y.bumpVersion();
    expect(() => z.backward()).toThrow(/modified by an inplace operation: the float32 array of shape \[2\] \(the output of Exp\) is at version 1; expected version 0/);
    a.exp().sum().backward();
    expect(a.grad!.toArray()).toEqual([Math.fround(Math.exp(0.5)), Math.fround(Math.exp(-1))]);
  });

  it("writes that do not touch a saved array leave backward alone", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const loss = a.add(b).sum();
    a.bumpVersion();
    loss.backward();
    expect(a.grad!.toArray()).toEqual([1, 1]);
  });
});
