import { describe, expect, it } from "vitest";
import { ArgumentError, Generator, PicoError, ShapeError, Tensor, gradcheck, manualSeed, noGrad, tensor } from "./index.js";
import { checkGrad, inputs } from "./test-utils/index.js";

describe("tensor()", () => {
  it("from a number: a 0-d float32 tensor", () => {
    const t = tensor(2.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.dtype).toBe("float32");
    expect(t.item()).toBe(2.5);
    expect(t.toArray()).toBe(2.5);
  });

  it("from nested arrays", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[[7]]]).shape).toEqual([1, 1, 1]);
  });

  it("dtype float64 keeps full precision", () => {
    const t = tensor([0.1, 1e-300], { dtype: "float64" });
    expect(t.dtype).toBe("float64");
    expect(t.data.data).toBeInstanceOf(Float64Array);
    expect(t.toArray()).toEqual([0.1, 1e-300]);
    expect(tensor([0.1]).toArray()).toEqual([Math.fround(0.1)]);
  });

  it("from a typed array with a shape", () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor(new Float64Array([1, 2]), { dtype: "float32" }).dtype).toBe("float32");
    expect(tensor(new Float32Array([1, 2, 3])).shape).toEqual([3]);
  });

  it("a typed array of the same dtype is shared, not copied; another dtype or a Tensor is copied", () => {
    const buffer = new Float32Array([1, 2]);
    const t = tensor(buffer);
    buffer[0] = 5;
    expect(t.toArray()).toEqual([5, 2]);
    const u = tensor(buffer, { dtype: "float64" });
    buffer[0] = 6;
    expect(u.toArray()).toEqual([5, 2]);
    const v = tensor(t);
    buffer[1] = 7;
    expect(v.toArray()).toEqual([6, 2]);
  });

  it("nested arrays with a shape reshape them", () => {
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it("requiresGrad", () => {
    expect(tensor([1], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(tensor([1]).requiresGrad).toBe(false);
    expect(tensor([1]).retain).toBe(true);
  });

  it("ragged arrays name the place", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array: expected length 2 at \[1\], but got length 1/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/expected length 2 at \[1\], but got a number/);
    expect(() => tensor([1, [2]] as never)).toThrow(/expected a number at \[1\], but got an array/);
  });

  it("non-numbers are refused", () => {
    expect(() => tensor(["a"] as never)).toThrow(ArgumentError);
    expect(() => tensor(["a"] as never)).toThrow(/tensor: .*number.*"a"/);
    expect(() => tensor({} as never)).toThrow(ArgumentError);
  });

  it("a shape that does not match the data names both", () => {
    expect(() => tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(/tensor: shape \[2, 3\] needs 6 elements, but the typed array has 5/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(ShapeError);
  });

  it("error classes share the PicoError base", () => {
    expect(new ShapeError("x")).toBeInstanceOf(PicoError);
    expect(new ArgumentError("x")).toBeInstanceOf(Error);
  });
});

describe("factories", () => {
  it("zeros, ones, full", () => {
    expect(Tensor.zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(Tensor.ones([2]).toArray()).toEqual([1, 1]);
    expect(Tensor.full([2, 1], 7, { dtype: "float64" }).toArray()).toEqual([[7], [7]]);
    expect(Tensor.full([], 3).item()).toBe(3);
    expect(Tensor.zeros([3], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(Tensor.ones([0, 3]).size).toBe(0);
  });

  it("arange like torch.arange", () => {
    expect(Tensor.arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(Tensor.arange(2, 5).toArray()).toEqual([2, 3, 4]);
    expect(Tensor.arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(Tensor.arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(Tensor.arange(3, 1).size).toBe(0);
    expect(Tensor.arange(0, 3, 1, { dtype: "float64" }).dtype).toBe("float64");
    expect(() => Tensor.arange(0, 3, 0)).toThrow(/Tensor.arange: step must be a non-zero finite number/);
  });

  it("rand is uniform in [0, 1) and randn is standard normal", () => {
    manualSeed(3);
    const u = Array.from(Tensor.rand([10_000]).toTypedArray());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((s, v) => s + v, 0) / u.length - 0.5)).toBeLessThan(0.02);
    const n = Array.from(Tensor.randn([10_000], { dtype: "float64" }).toTypedArray());
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it("manualSeed makes rand and randn reproducible", () => {
    manualSeed(42);
    const a = [Tensor.rand([5]).toArray(), Tensor.randn([2, 3]).toArray()];
    manualSeed(42);
    const b = [Tensor.rand([5]).toArray(), Tensor.randn([2, 3]).toArray()];
    expect(b).toEqual(a);
    manualSeed(43);
    expect(Tensor.rand([5]).toArray()).not.toEqual(a[0]);
  });

  it("an explicit generator is independent of the default one", () => {
    const a = Tensor.randn([4], { generator: new Generator(9) }).toArray();
    manualSeed(0);
    Tensor.rand([3]);
    expect(Tensor.randn([4], { generator: new Generator(9) }).toArray()).toEqual(a);
  });

  it("a dtype other than float32/float64 is refused by every entry", () => {
    const bad = { dtype: "int32" } as never;
    expect(() => Tensor.zeros([2], bad)).toThrow(/Tensor.full: dtype must be "float32" or "float64", but got "int32"/);
    expect(() => Tensor.rand([2], bad)).toThrow(/Tensor.rand: dtype/);
    expect(() => Tensor.randn([2], bad)).toThrow(/Tensor.randn: dtype/);
    expect(() => Tensor.arange(0, 2, 1, bad)).toThrow(/Tensor.arange: dtype/);
    expect(() => tensor([1], bad)).toThrow(/tensor: dtype/);
    expect(() => tensor(new Float32Array(2), bad)).toThrow(/tensor: dtype/);
    expect(() => tensor([1]).to("int32" as never)).toThrow(/to: dtype/);
  });

  it("arange refuses infinite bounds", () => {
    expect(() => Tensor.arange(0, Infinity)).toThrow(/Tensor.arange: start and end must be finite/);
  });

  it("bad shapes name the factory", () => {
    expect(() => Tensor.zeros([2, -1])).toThrow(/Tensor.full: shape must hold non-negative integers, but got \[2, -1\]/);
    expect(() => Tensor.rand([1.5])).toThrow(ArgumentError);
    expect(() => Tensor.randn(3 as never)).toThrow(/Tensor.randn: shape must be an array/);
  });
});

describe("conversions", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);

  it("toArray and toTypedArray of a non-contiguous view", () => {
    expect(x.transpose().toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(Array.from(x.transpose().toTypedArray())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(x.slice(1, 1).toArray()).toEqual([[2, 3], [5, 6]]);
  });

  it("item", () => {
    expect(x.slice(0, 1).slice(1, 2).item()).toBe(6);
    expect(() => x.item()).toThrow(/item: only a tensor with one element has an item, but got shape \[2, 3\]/);
  });

  it("detach shares data and leaves the graph", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const d = a.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.creator).toBeNull();
    expect(d.toArray()).toEqual([2, 4]);
  });

  it("clone copies the data and is differentiable", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const c = a.clone();
    expect(c.data.data).not.toBe(a.data.data);
    c.mul(3).sum().backward();
    expect(a.grad!.toArray()).toEqual([3, 3]);
    const plain = tensor([1, 2]).clone();
    plain.data.data[0] = 9;
    expect(plain.requiresGrad).toBe(false);
    expect(noGrad(() => a.clone()).requiresGrad).toBe(false);
  });

  it("clone and to are checked by gradcheck", () => {
    checkGrad([[3, 7]], (t) => t.transpose().clone().mul(t.transpose()));
    // The float32 round trip is only accurate to ~1e-7, so the finite-difference step must be large.
    const [x] = inputs([[3, 7]]);
    expect(gradcheck((t) => t.to("float32").to("float64").mul(t), [x!], { eps: 1e-2, atol: 1e-4 })).toBe(true);
  });

  it("to(dtype) converts and keeps the graph, as in PyTorch", () => {
    const a = tensor([1.5, 2], { requiresGrad: true });
    const b = a.to("float64");
    expect(b.dtype).toBe("float64");
    expect(b.toArray()).toEqual([1.5, 2]);
    b.mul(b).sum().backward();
    expect(a.grad!.dtype).toBe("float32");
    expect(a.grad!.toArray()).toEqual([3, 4]);
  });

  it("toString shows values, shape and dtype", () => {
    expect(tensor([1, 2]).toString()).toBe("Tensor([1,2], shape=[2], dtype=float32)");
  });
});

describe("identity", () => {
  it("every tensor has its own id, and tensors of equal contents stay deeply equal", () => {
    const a = tensor([1, 2]);
    const b = tensor([1, 2]);
    expect(a.id).not.toBe(b.id);
    expect(a).toEqual(b);
  });
});
