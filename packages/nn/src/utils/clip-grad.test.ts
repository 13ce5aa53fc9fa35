import { Generator, Tensor, kernels } from "@pico/core";
import { SGD } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { Parameter } from "../parameter.js";
import { clipGradNorm, clipGradValue } from "./clip-grad.js";

const withGrad = (values: number[]): Parameter => {
  const p = new Parameter(Tensor.zeros([values.length], { dtype: "float64" }));
  p.grad = Tensor.full([values.length], 0, { dtype: "float64" });
  (p.grad.data.data as Float64Array).set(values);
  return p;
};

describe("clipGradNorm", () => {
  it("returns the norm of all gradients together and scales them to maxNorm", () => {
    const a = withGrad([3, 0]);
    const b = withGrad([0, 4]);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    expect(a.grad!.toTypedArray()[0]).toBeCloseTo(3 / (5 + 1e-6), 12);
    expect(b.grad!.toTypedArray()[1]).toBeCloseTo(4 / (5 + 1e-6), 12);
    expect(clipGradNorm(a, 10)).toBeCloseTo(0.6, 6);
    expect(a.grad!.toTypedArray()[0]).toBeCloseTo(3 / (5 + 1e-6), 12);
  });

  it("reads strided gradients and skips parameters without one", () => {
    const p = new Parameter(Tensor.zeros([3, 2]));
    p.grad = Tensor.arange(0, 6).reshape(2, 3).transpose(0, 1);
    expect(clipGradNorm([p, new Parameter(Tensor.zeros([2]))], 1e9, { normType: 1 })).toBe(15);
    expect(clipGradNorm([new Parameter(Tensor.zeros([2]))], 1)).toBe(0);
  });

  it("refuses bad arguments and, when asked, a non-finite norm", () => {
    expect(() => clipGradNorm([], -1)).toThrow("clipGradNorm: maxNorm must be a number >= 0, but got -1");
    expect(() => clipGradNorm([], 1, { normType: 0 })).toThrow("clipGradNorm: normType must be a number > 0 or Infinity, but got 0");
    expect(() => clipGradNorm([withGrad([Infinity])], 1, { errorIfNonfinite: true })).toThrow(/clipGradNorm: the total norm of order 2 of the gradients is Infinity/);
    expect(clipGradNorm([withGrad([NaN, 1])], 1)).toBeNaN();
  });
});

describe("clipGradValue", () => {
  it("clamps each gradient element into [-v, v]", () => {
    const p = withGrad([-2, -0.5, 0.1, 7]);
    clipGradValue([p], 1);
    expect(p.grad!.toArray()).toEqual([-1, -0.5, 0.1, 1]);
    expect(() => clipGradValue([p], Number.NaN)).toThrow("clipGradValue: clipValue must be a number >= 0, but got NaN");
  });
});

describe("clipping in a training loop", () => {
  // loss_k = sum(c ⊙ (x_k W)), W [64, 64] (16 KB: pooled); clipped to norm 1, then SGD. Clipping reads the
  // .grads without taking them, so zeroGrad still recycles each step's gradient into the next step's.
  it("clips each step's gradient to the norm asked for and leaves it recyclable: one gradient array over 5 steps", () => {
    const N = 64;
    const generator = new Generator(4);
    const w = new Parameter(Tensor.randn([N, N], { generator }));
    const c = Tensor.randn([4, N], { generator });
    const sgd = new SGD([w], { lr: 0.01 });
    const arrays = new Set<unknown>();
    for (let k = 0; k < 5; k++) {
      sgd.zeroGrad();
      Tensor.randn([4, N], { generator }).matmul(w).mul(c).sum().backward();
      const g = kernels.peekGrad(w)!.data.data;
      let before = 0;
      for (let i = 0; i < g.length; i++) before += g[i]! * g[i]!;
      expect(clipGradNorm([w], 1)).toBeCloseTo(Math.sqrt(before), 2);
      let after = 0;
      for (let i = 0; i < g.length; i++) after += g[i]! * g[i]!;
      expect(Math.sqrt(after)).toBeCloseTo(1, 5);
      clipGradValue([w], 0.05);
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i]!)).toBeLessThanOrEqual(Math.fround(0.05));
      sgd.step();
      arrays.add(g);
    }
    expect(arrays.size).toBe(1);
  });
});
