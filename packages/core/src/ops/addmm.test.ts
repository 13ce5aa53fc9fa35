import { describe, expect, it } from "vitest";
import { Generator, ShapeError, Tensor, ArgumentError, gradcheck, kernels, tensor } from "../index.js";
import { Addmm } from "./addmm.js";
import { checkGrad, expectClose } from "../test-utils/index.js";

describe("addmm: gradcheck", () => {
  const [m, k, n] = [5, 7, 3];
  const inputs: [string, number[]][] = [
    ["a bias row [N]", [n]],
    ["[1, N]", [1, n]],
    ["a full [M, N]", [m, n]],
    ["a column [M, 1]", [m, 1]],
    ["a scalar", []],
    ["[1, 1]", [1, 1]],
  ];
  for (const [what, shape] of inputs) {
    it(`input ${what}`, () => checkGrad([shape, [m, k], [k, n]], (c, a, b) => c.addmm(a, b)));
  }
  it("transposed and sliced operands (views without unit strides in the expected places)", () => {
    checkGrad([[n], [k, m], [n, k]], (c, a, b) => c.addmm(a.transpose(), b.transpose()));
    checkGrad([[1, n], [m + 2, k], [k, 2 * n]], (c, a, b) => c.addmm(a.slice(0, 1, m + 1), b.slice(1, 1, n + 1)));
    checkGrad([[n], [m, k], [k, n]], (c, a, b) => c.slice(0, 0, n).addmm(a, b));
  });
  it("mat2 given as its transpose (mat2Transposed, nn's linear): every subset of operands requiring grad, packed and strided weights", () => {
    const gen = new Generator(11);
    const withTransposed = (c: Tensor, a: Tensor, w: Tensor): Tensor => Addmm.apply(c, a, w, true);
    for (let mask = 1; mask < 8; mask++) {
      const bias = Tensor.randn([n], { generator: gen, dtype: "float64", requiresGrad: (mask & 1) !== 0 });
      const a = Tensor.randn([m, k], { generator: gen, dtype: "float64", requiresGrad: (mask & 2) !== 0 });
      const w = Tensor.randn([n, k], { generator: gen, dtype: "float64", requiresGrad: (mask & 4) !== 0 });
      expect(gradcheck(withTransposed, [bias, a, w]), `mask ${mask}`).toBe(true);
    }
    // A strided weight: the transpose of a packed [K, N], and a column slice.
    checkGrad([[n], [m, k], [k, n]], (c, a, wt) => Addmm.apply(c, a, wt.transpose(), true));
    checkGrad([[1, n], [m, k], [n, k + 2]], (c, a, w) => Addmm.apply(c, a, w.slice(1, 1, k + 1), true));
  });
  it("1 × 1 products and a single row", () => {
    checkGrad([[1], [1, 1], [1, 1]], (c, a, b) => c.addmm(a, b));
    checkGrad([[4], [1, 6], [6, 4]], (c, a, b) => c.addmm(a, b));
  });
});

describe("addmm: values", () => {
  it("equals input + mat1 @ mat2 for float32 and float64, bias rows included", () => {
    const gen = new Generator(3);
    for (const dtype of ["float32", "float64"] as const) {
      const a = Tensor.randn([64, 256], { generator: gen, dtype });
      const w = Tensor.randn([120, 256], { generator: gen, dtype });
      for (const bias of [Tensor.randn([120], { generator: gen, dtype }), Tensor.randn([64, 1], { generator: gen, dtype })]) {
        const tol = dtype === "float32" ? 1e-4 : 1e-12;
        expectClose(bias.addmm(a, w.transpose()).toTypedArray(), a.matmul(w.transpose()).add(bias).toTypedArray(), tol, tol);
      }
    }
  });
  it("a bias row reaches every output row, m = 0, 1, 2, 3, 5, 64, 65, a bias viewing part of a larger array too: the bits of the bias given as a full [M, N]", () => {
    const gen = new Generator(9);
    const n = 10;
    for (const m of [0, 1, 2, 3, 5, 64, 65]) {
      const a = Tensor.randn([m, 12], { generator: gen });
      const w = Tensor.randn([n, 12], { generator: gen });
      const wide = Tensor.randn([3 * n], { generator: gen });
      for (const bias of [Tensor.randn([n], { generator: gen }), wide.slice(0, n, 2 * n)]) {
        const full = tensor(bias.reshape([1, n]).expand([m, n]));
        const out = Addmm.apply(bias, a, w, true);
        expect(out.shape, `m ${m}`).toEqual([m, n]);
        expect(Array.from(out.toTypedArray()), `m ${m}`).toEqual(Array.from(Addmm.apply(full, a, w, true).toTypedArray()));
      }
    }
  });
  it("a transposed mat2 (a linear layer's weight.t()) gets its gradient back packed, the same values as an untransposed one's", () => {
    const gen = new Generator(5);
    for (const dtype of ["float32", "float64"] as const) {
      const a = Tensor.randn([64, 256], { generator: gen, dtype, requiresGrad: true });
      const w = Tensor.randn([120, 256], { generator: gen, dtype, requiresGrad: true });
      const wt = tensor(w.transpose(), { dtype, requiresGrad: true });
      const bias = Tensor.randn([120], { generator: gen, dtype });
      const c = Tensor.randn([64, 120], { generator: gen, dtype });
      bias.addmm(a, w.transpose()).mul(c).sum().backward();
      bias.addmm(a, wt).mul(c).sum().backward();
      expect(kernels.isPacked(w.grad!.data)).toBe(true);
      expect(w.grad!.toArray()).toEqual(wt.grad!.transpose().toArray());
    }
  });

  it("a bias row's gradient has the bits of sumToShape's column sums (rows four at a time, and the rest)", () => {
    const gen = new Generator(5);
    for (const m of [2, 4, 7, 64]) {
      for (const shape of [[33], [1, 33]]) {
        const bias = Tensor.randn(shape, { generator: gen, requiresGrad: true });
        const c = Tensor.randn([m, 33], { generator: gen }).mul(8).exp().mul(Tensor.randn([m, 33], { generator: gen }));
        bias.addmm(Tensor.randn([m, 5], { generator: gen }), Tensor.randn([5, 33], { generator: gen })).mul(c).sum().backward();
        expect(bias.grad!.shape).toEqual(shape);
        expect(Array.from(bias.grad!.toTypedArray())).toEqual(Array.from(kernels.sumToShape(c.data, shape).data));
      }
    }
  });

  it("refuses an operand of another dtype than the input, as torch", () => {
    const c = Tensor.ones([2], { dtype: "float32" });
    expect(() => c.addmm(Tensor.ones([3, 4], { dtype: "float64" }), Tensor.ones([4, 2], { dtype: "float32" }))).toThrow("addmm: mat1 must have the input's dtype, float32");
    expect(() => c.to("float64").addmm(Tensor.ones([3, 4], { dtype: "float64" }), Tensor.ones([4, 2]))).toThrow("addmm: mat2 must have the input's dtype, float64");
  });
});

describe("addmm: errors name the operator, the rule and the shapes", () => {
  it("refuses operands that are not 2-D, mismatched inner dimensions and an input that does not broadcast", () => {
    const x = Tensor.zeros([3]);
    expect(() => x.addmm(Tensor.zeros([2, 4, 5]), Tensor.zeros([5, 3]))).toThrow(ShapeError);
    expect(() => x.addmm(Tensor.zeros([2, 4]), Tensor.zeros([5, 3]))).toThrow("addmm: inner dimensions must match, but got input [3], mat1 [2, 4], mat2 [5, 3] (4 vs 5)");
    expect(() => Tensor.zeros([4]).addmm(Tensor.zeros([2, 5]), Tensor.zeros([5, 3]))).toThrow("addmm: input must broadcast to [2, 3] (mat1 rows × mat2 columns), but got input [4], mat1 [2, 5], mat2 [5, 3]");
    expect(() => Tensor.zeros([3, 3]).addmm(Tensor.zeros([2, 5]), Tensor.zeros([5, 3]))).toThrow(/input must broadcast to \[2, 3\]/);
    expect(() => Tensor.zeros([1, 2, 3]).addmm(Tensor.zeros([2, 5]), Tensor.zeros([5, 3]))).toThrow(/input must broadcast to \[2, 3\]/);
    expect(() => x.addmm([[1]] as unknown as Tensor, Tensor.zeros([1, 3]))).toThrow(ArgumentError);
  });
});
