import { ArgumentError, ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { batchNorm, batchNormRelu } from "./batch-norm.js";

describe("batchNorm", () => {
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased variance 1.25, unbiased 5/3); channel 1: 0, 0, 2, 6 (mean 2, 6 and 8).
  const x = (): Tensor => tensor([[1, 0], [2, 0], [3, 2], [4, 6]], { dtype: "float64" });
  const eps = 1e-5;

  it("training: normalises with the batch's statistics and moves the running ones (unbiased variance)", () => {
    const rm = tensor([0, 1], { dtype: "float64" });
    const rv = tensor([1, 2], { dtype: "float64" });
    const y = batchNorm(x(), rm, rv, { training: true, momentum: 0.1, eps });
    const s0 = Math.sqrt(1.25 + eps);
    const s1 = Math.sqrt(6 + eps);
    expectClose(values(y), [-1.5 / s0, -2 / s1, -0.5 / s0, -2 / s1, 0.5 / s0, 0 / s1, 1.5 / s0, 4 / s1], "output");
    expectClose(values(rm), [0.9 * 0 + 0.1 * 2.5, 0.9 * 1 + 0.1 * 2], "running mean");
    expectClose(values(rv), [0.9 * 1 + (0.1 * 5) / 3, 0.9 * 2 + 0.1 * 8], "running var");
  });

  it("evaluation: uses the running statistics, then γ and β", () => {
    const rm = tensor([1, -1], { dtype: "float64" });
    const rv = tensor([4, 0.25], { dtype: "float64" });
    const gamma = tensor([2, 3], { dtype: "float64" });
    const beta = tensor([0.5, -0.5], { dtype: "float64" });
    const y = batchNorm(x(), rm, rv, { weight: gamma, bias: beta, eps });
    const a = 2 / Math.sqrt(4 + eps);
    const b = 3 / Math.sqrt(0.25 + eps);
    const expected = [0, 1, 1, 1, 2, 3, 3, 7].map((v, i) => (i % 2 === 0 ? (v * a) + 0.5 : (v * b) - 0.5));
    expectClose(values(y), expected, "output");
    expectClose(values(rm), [1, -1], "running mean untouched");
  });

  it("normalises [N, C, H, W] per channel over N, H and W", () => {
    const input = randn([3, 2, 4, 5], 1, { scale: 3 }).add(2);
    const y = values(batchNorm(input, null, null, { training: true, eps: 0 }));
    for (let c = 0; c < 2; c++) {
      let sum = 0;
      let sq = 0;
      for (let n = 0; n < 3; n++) for (let i = 0; i < 20; i++) {
        const v = y[(n * 2 + c) * 20 + i]!;
        sum += v;
        sq += v * v;
      }
      expect(sum / 60).toBeCloseTo(0, 12);
      expect(sq / 60).toBeCloseTo(1, 10);
    }
  });

  const shapes = [[5, 3], [4, 3, 7], [2, 3, 3, 5], [3, 1, 1, 1]];
  for (const shape of shapes) {
    it(`gradcheck training x=[${shape}] with γ and β`, () => {
      const c = shape[1]!;
      const input = randn(shape, 1, { requiresGrad: true });
      const gamma = randn([c], 2, { requiresGrad: true });
      const beta = randn([c], 3, { requiresGrad: true });
      expect(gradcheck((a, g, b) => batchNorm(a, null, null, { weight: g, bias: b, training: true }), [input, gamma, beta])).toBe(true);
    });
  }

  it("gradcheck training without affine parameters, on a transposed input", () => {
    const input = randn([3, 5], 4, { requiresGrad: true });
    expect(gradcheck((a) => batchNorm(a.transpose(), null, null, { training: true }), [input])).toBe(true);
  });

  it("gradcheck evaluation x=[2,3,3,2] with running statistics", () => {
    const rm = randn([3], 5);
    const rv = randn([3], 6).abs().add(0.5);
    const args = [randn([2, 3, 3, 2], 7, { requiresGrad: true }), randn([3], 8, { requiresGrad: true }), randn([3], 9, { requiresGrad: true })];
    expect(gradcheck((a, g, b) => batchNorm(a, rm, rv, { weight: g, bias: b }), args)).toBe(true);
  });

  it("refuses one value per channel in training, and shapes that do not match the channels", () => {
    expect(() => batchNorm(Tensor.zeros([1, 3]), null, null, { training: true })).toThrow(ArgumentError);
    expect(() => batchNorm(Tensor.zeros([1, 3]), null, null, { training: true })).toThrow(
      "batchNorm: expected more than 1 value per channel when training, but got input of shape [1, 3]",
    );
    expect(() => batchNorm(Tensor.zeros([2, 3]), Tensor.zeros([4]), Tensor.ones([4]))).toThrow(ShapeError);
    expect(() => batchNorm(Tensor.zeros([2, 3]), null, null)).toThrow("evaluation (training false) needs runningMean and runningVar");
  });
});

describe("batchNormRelu", () => {
  for (const training of [true, false]) {
    it(`gradcheck float64 (reference kernel) training=${training} x=[3,2,3,4]`, () => {
      const input = randn([3, 2, 3, 4], 7, { requiresGrad: true });
      const gamma = randn([2], 8, { requiresGrad: true });
      const beta = randn([2], 9, { requiresGrad: true });
      const rm = tensor([0.1, -0.2], { dtype: "float64" });
      const rv = tensor([0.8, 1.3], { dtype: "float64" });
      const f = (a: Tensor, g: Tensor, b: Tensor): Tensor => batchNormRelu(a, rm, rv, { weight: g, bias: b, training, momentum: 0 });
      expect(gradcheck(f, [input, gamma, beta])).toBe(true);
    });
  }

  // Float32 goes through the selected kernel (WebAssembly where it runs): equal to relu(batchNorm) to float32 rounding.
  for (const training of [true, false]) {
    it(`float32 x=[4,3,5,6] training=${training}: values, gradients and running statistics equal relu(batchNorm(x))`, () => {
      const run = (fused: boolean) => {
        const input = randn([4, 3, 5, 6], 3, { dtype: "float32", requiresGrad: true });
        const gamma = randn([3], 4, { dtype: "float32", requiresGrad: true });
        const beta = randn([3], 5, { dtype: "float32", requiresGrad: true });
        const rm = tensor([0.1, 0, -0.3]);
        const rv = tensor([1, 2, 0.5]);
        const options = { weight: gamma, bias: beta, training, momentum: 0.1 };
        const y = fused ? batchNormRelu(input, rm, rv, options) : batchNorm(input, rm, rv, options).relu();
        y.mul(randn([4, 3, 5, 6], 6, { dtype: "float32" })).sum().backward();
        return { y: values(y), dx: Array.from(input.grad!.toTypedArray()), dg: Array.from(gamma.grad!.toTypedArray()), db: Array.from(beta.grad!.toTypedArray()), rm: values(rm), rv: values(rv) };
      };
      const [fused, plain] = [run(true), run(false)];
      expectClose(fused.y, plain.y, "output", 1e-5, 1e-5);
      expectClose(fused.dx, plain.dx, "input gradient", 1e-5, 1e-4);
      expectClose(fused.dg, plain.dg, "γ gradient", 1e-4, 1e-4);
      expectClose(fused.db, plain.db, "β gradient", 1e-4, 1e-4);
      expectClose(fused.rm, plain.rm, "running mean", 1e-6, 1e-6);
      expectClose(fused.rv, plain.rv, "running var", 1e-6, 1e-6);
      expect(Math.min(...fused.y)).toBe(0);
    });
  }
});

