import { describe, expect, it } from "vitest";
import { ArgumentError, ShapeError, Tensor, tensor } from "../index.js";
import { checkGrad } from "../test-utils/index.js";

describe("expand, cat, stack: gradcheck", () => {
  it("expand [3, 1] -> [2, 3, 7]", () => checkGrad([[3, 1]], (x) => x.expand(2, 3, 7)));
  it("expand with -1", () => checkGrad([[1, 7]], (x) => x.expand([3, -1])));
  it("expand of a transpose, then an op that reads it", () => checkGrad([[7, 1]], (x) => x.transpose().expand(3, 7).mul(x.transpose())));
  it("cat along axis 0", () => checkGrad([[1, 7], [3, 7], [2, 7]], (a, b, c) => Tensor.cat([a, b, c])));
  it("cat along the last axis, with a tensor used twice", () => checkGrad([[3, 1], [3, 7]], (a, b) => Tensor.cat([a, b, a], -1)));
  it("cat of transposed inputs", () => checkGrad([[7, 3], [5, 3]], (a, b) => Tensor.cat([a.transpose(), b.transpose()], 1)));
  it("stack along a new middle axis", () => checkGrad([[3, 7], [3, 7]], (a, b) => Tensor.stack([a, b], 1)));
  it("stack of 0-d tensors", () => checkGrad([[], []], (a, b) => Tensor.stack([a, b])));
});

describe("expand, cat, stack: values", () => {
  it("expand repeats without copying", () => {
    const x = tensor([[1], [2]]);
    const e = x.expand(2, 3);
    expect(e.toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(e.data.data).toBe(x.data.data);
    expect(tensor(5).expand(2).toArray()).toEqual([5, 5]);
  });
  it("cat and stack", () => {
    const a = tensor([[1, 2]]);
    const b = tensor([[3, 4], [5, 6]]);
    expect(Tensor.cat([a, b]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(Tensor.cat([b, b.slice(1, 1)], 1).toArray()).toEqual([[3, 4, 4], [5, 6, 6]]);
    expect(Tensor.stack([a, a], 0).shape).toEqual([2, 1, 2]);
    expect(Tensor.stack([a, a], -1).toArray()).toEqual([[[1, 1], [2, 2]]]);
    expect(Tensor.cat([a, tensor([[7, 8]], { dtype: "float64" })]).dtype).toBe("float64");
  });
  it("cat passes gradients only to inputs that need them", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3]);
    Tensor.cat([a, b]).mul(tensor([1, 2, 3])).sum().backward();
    expect(a.grad!.toArray()).toEqual([1, 2]);
    expect(b.grad).toBeNull();
  });
  it("errors name the operator and the shapes", () => {
    expect(() => tensor([[1, 2, 3]]).expand(2, 2)).toThrow(ShapeError);
    expect(() => tensor([[1, 2, 3]]).expand(2, 2)).toThrow(/expand: cannot expand shape \[1, 3\] to \[2, 2\]/);
    expect(() => tensor([[1, 2, 3]]).expand(3)).toThrow(/expand: cannot expand shape \[1, 3\] to \[3\]/);
    expect(() => tensor([1]).expand(-1, 2)).toThrow(ShapeError);
    expect(() => Tensor.cat([tensor([[1, 2]]), tensor([[1, 2, 3]])])).toThrow(/Tensor.cat: every shape must match \[1, 2\] except along axis 0, but got \[1, 3\]/);
    expect(() => Tensor.cat([])).toThrow(ArgumentError);
    expect(() => Tensor.cat([tensor(1)])).toThrow(/0-d tensors cannot be concatenated/);
    expect(() => Tensor.stack([tensor([1]), tensor([1, 2])])).toThrow(/Tensor.stack: every shape must equal \[1\], but got \[2\]/);
  });
});

describe("minimum, min, clamp", () => {
  it("minimum gradcheck with broadcasting", () => checkGrad([[3, 1], [7]], (a, b) => a.minimum(b)));
  it("min gradcheck over axes", () => {
    checkGrad([[3, 7]], (x) => x.min());
    checkGrad([[3, 1, 7]], (x) => x.min([0, 2], true));
  });
  it("clamp gradcheck (inputs away from the bounds)", () => {
    checkGrad([[3, 7]], (x) => x.clamp(-1, 1), { avoid: [-1, 1] });
    checkGrad([[3, 7]], (x) => x.clamp(undefined, 0.5), { avoid: [0.5] });
  });
  it("values, ties and bounds", () => {
    const x = tensor([-2, 0.5, 1, 3], { requiresGrad: true });
    const y = x.clamp(-1, 1);
    expect(y.toArray()).toEqual([-1, 0.5, 1, 1]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([0, 1, 1, 0]);
    expect(tensor([[3, 1, 1]]).min(1).toArray()).toEqual([1]);
    // As torch: over everything (x.min()) equal minima share the gradient; over one axis (x.min(dim)) the first takes it.
    const t = tensor([3, 1, 1], { requiresGrad: true });
    t.min().backward();
    expect(t.grad!.toArray()).toEqual([0, 0.5, 0.5]);
    t.zeroGrad();
    t.min(0).backward();
    expect(t.grad!.toArray()).toEqual([0, 1, 0]);
    expect(tensor([1, 5]).minimum(2).toArray()).toEqual([1, 2]);
  });
  it("errors", () => {
    expect(() => tensor([1]).clamp()).toThrow(/clamp: give at least one/);
    expect(() => tensor([1]).clamp(Number.NaN)).toThrow(/clamp: min must be a number, but got/);
    expect(() => tensor([[]]).min(1)).toThrow(/min: cannot reduce an empty axis/);
    expect(() => tensor([1]).min(3)).toThrow(/min: axis/);
  });
});
