import { Generator, Tensor, gradcheck, kernels, tensor } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import { randn } from "../test-utils/tensors.js";
import { addRelu } from "./add-relu.js";
import { batchNorm } from "./batch-norm.js";
import { batchNormAddRelu } from "./batch-norm-add-relu.js";

// relu(batchNorm(x) + r) in one operator against the two apart (batchNorm, then addRelu): float64 gradcheck
// on the reference kernel, and the float32 kernels (reference and WebAssembly, 1 and 2 threads) giving the
// unfused run's values and gradients.

interface Run {
  out: Float32Array;
  grads: Float32Array[];
  running: Float32Array[];
}

/** Forward and backward of `f` on float32 x [n, c, h, w], r, γ, β from fixed seeds, with running statistics. */
function run(shape: number[], training: boolean, f: (x: Tensor, r: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor) => Tensor): Run {
  const c = shape[1]!;
  const f32 = (seed: number, s: number[], scale = 1): Tensor => {
    const t = Tensor.randn(s, { generator: new Generator(seed) }).mul(scale).detach();
    t.requiresGrad = true;
    return t;
  };
  const [x, r, w, b] = [f32(1, shape, 2), f32(2, shape), f32(3, [c]), f32(4, [c], 0.5)];
  const rm = Tensor.randn([c], { generator: new Generator(5) }).mul(0.1);
  const rv = Tensor.rand([c], { generator: new Generator(6) }).add(0.5);
  const y = f(x, r, rm, rv, w, b);
  const g = Tensor.randn(y.shape, { generator: new Generator(7) });
  y.mul(g).sum().backward();
  const arr = (t: Tensor): Float32Array => Float32Array.from(t.toTypedArray() as Float32Array);
  return { out: arr(y), grads: [x, r, w, b].map((t) => arr(t.grad!)), running: [arr(rm), arr(rv)] };
}

const fused = (training: boolean) => (x: Tensor, r: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor): Tensor =>
  batchNormAddRelu(x, r, rm, rv, { weight: w, bias: b, training, momentum: 0.1 });
const apart = (training: boolean) => (x: Tensor, r: Tensor, rm: Tensor, rv: Tensor, w: Tensor, b: Tensor): Tensor =>
  addRelu(batchNorm(x, rm, rv, { weight: w, bias: b, training, momentum: 0.1 }), r);

function expectWithin(actual: Float32Array, expected: Float32Array, what: string, tol: number): void {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + scale))) expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

describe("batchNormAddRelu", () => {
  for (const training of [true, false]) {
    it(`gradcheck float64 (reference kernel) training=${training}`, () => {
      const rm = tensor([0.1, -0.2, 0.3], { dtype: "float64" });
      const rv = tensor([0.8, 1.3, 0.6], { dtype: "float64" });
      const args = [randn([3, 3, 2, 3], 1, { requiresGrad: true }), randn([3, 3, 2, 3], 2, { requiresGrad: true }), randn([3], 3, { requiresGrad: true }), randn([3], 4, { requiresGrad: true })];
      const f = (x: Tensor, r: Tensor, w: Tensor, b: Tensor): Tensor => batchNormAddRelu(x, r, rm, rv, { weight: w, bias: b, training, momentum: 0 });
      expect(gradcheck(f, args)).toBe(true);
    });
  }

  // [2, 8, 24, 24]: 9216 floats, one block; [10, 16, 24, 24]: 92,160 floats, two blocks (many on 2 threads).
  const large = [10, 16, 24, 24];
  const cases = [
    { shape: [2, 8, 24, 24], training: true },
    { shape: large, training: true },
    { shape: [3, 5, 7, 3], training: false },
    { shape: large, training: false },
  ];
  for (const kernel of ["reference", "wasm"] as const) {
    for (const { shape, training } of cases.filter((k) => kernel === "wasm" || k.shape !== large)) {
      it(`${kernel} kernel, x=[${shape}] training=${training}: the values and gradients of batchNorm then addRelu`, () => {
        kernels.batchNormKernels.override(kernel === "wasm" ? kernels.batchNormWasm : kernels.batchNormReference);
        try {
          const [a, b] = [run(shape, training, fused(training)), run(shape, training, apart(training))];
          // The output's bits: the same f32 operations in the same order.
          expect(a.out).toEqual(b.out);
          expect(a.running).toEqual(b.running);
          // r's gradient is the masked gradient itself; the rest as the BatchNorm's backward on it.
          expect(a.grads[1]).toEqual(b.grads[1]);
          a.grads.forEach((g, i) => expectWithin(g, b.grads[i]!, `gradient ${i}`, 1e-6));
        } finally {
          kernels.batchNormKernels.override(null);
        }
      });
    }
  }

  describe("on 2 threads", () => {
    afterAll(() => disableThreads());
    it(`wasm kernel, x=[${large}]: the bits of one thread`, async () => {
      const shape = large;
      const one = run(shape, true, fused(true));
      await enableThreads(2);
      expect(kernels.kernelInfo().families.batchNorm!.threads).toBe(2);
      const two = run(shape, true, fused(true));
      expect(two.out).toEqual(one.out);
      two.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(one.grads[i]));
    });
  });

  it("a residual of another shape or dtype goes as the two operators (broadcast); a shape that does not broadcast is refused naming it", () => {
    const x = randn([2, 3, 4], 1, { dtype: "float32" });
    const rm = Tensor.zeros([3]);
    const rv = Tensor.ones([3]);
    const r = randn([4], 2, { dtype: "float32" });
    const got = batchNormAddRelu(x, r, rm, rv);
    expect(Array.from(got.toTypedArray())).toEqual(Array.from(addRelu(batchNorm(x, rm, rv), r).toTypedArray()));
    expect(() => batchNormAddRelu(x, randn([5], 3, { dtype: "float32" }), rm, rv)).toThrow(/batchNormAddRelu/);
  });

  it("on the two operators' path too, an argument's error names batchNormAddRelu", () => {
    const x = randn([2, 3, 4], 1, { dtype: "float32" });
    const broadcast = randn([4], 2, { dtype: "float32" });
    const float64 = randn([2, 3, 4], 3, { dtype: "float64" });
    expect(() => batchNormAddRelu(x, broadcast, Tensor.zeros([5]), Tensor.ones([5]))).toThrow(/^batchNormAddRelu: runningMean must have shape \[3\]/);
    expect(() => batchNormAddRelu(x, broadcast, null, null)).toThrow(/^batchNormAddRelu: evaluation \(training false\) needs runningMean and runningVar/);
    expect(() => batchNormAddRelu(randn([5], 4, { dtype: "float32" }), randn([1], 5, { dtype: "float32" }), null, null, { training: true })).toThrow(
      /^batchNormAddRelu: input must have at least 2 dimensions/,
    );
    expect(() => batchNormAddRelu(x, float64, null, null, { training: true, momentum: 2 })).toThrow(/^batchNormAddRelu: momentum must be a number in \[0, 1\], but got 2/);
  });
});
