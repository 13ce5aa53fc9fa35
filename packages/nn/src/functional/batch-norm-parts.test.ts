import { Generator, Tensor, gradcheck, kernels } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { randn } from "../test-utils/tensors.js";
import { BatchNorm, batchNormRelu } from "./batch-norm.js";

// A BatchNorm whose output feeds several calls (a residual block's input: the skip and the branch) gets its
// gradient in parts from the autograd engine (BatchNorm.backwardParts) and adds them within its own pass,
// with the bits of the engine's sum (forced by retaining the output, whose .grad is the sum).

interface Run {
  grads: Float32Array[];
  parts: number;
}

/** y = batchNormRelu(x) read by `consumers` calls (y·a, y·b, ...), backward from their sum; y retained or not. */
function run(shape: number[], consumers: number, retain: boolean): Run {
  const c = shape[1]!;
  const leaf = (seed: number, s: number[]): Tensor => {
    const t = Tensor.randn(s, { generator: new Generator(seed) });
    t.requiresGrad = true;
    return t;
  };
  const [x, w, b] = [leaf(1, shape), leaf(2, [c]), leaf(3, [c])];
  const spy = vi.spyOn(BatchNorm, "backwardParts");
  const y = batchNormRelu(x, null, null, { weight: w, bias: b, training: true });
  y.retain = retain;
  let loss = y.mul(Tensor.randn(shape, { generator: new Generator(10) })).sum();
  for (let k = 1; k < consumers; k++) loss = loss.add(y.mul(Tensor.randn(shape, { generator: new Generator(10 + k) })).sum());
  loss.backward();
  const parts = spy.mock.calls.length;
  spy.mockRestore();
  return { grads: [x, w, b].map((t) => Float32Array.from(t.grad!.toTypedArray() as Float32Array)), parts };
}

describe("BatchNorm.backwardParts", () => {
  afterEach(() => kernels.batchNormKernels.override(null));

  it("gradcheck float64 (reference kernel): an output read by two calls", () => {
    const args = [randn([3, 2, 4], 1, { requiresGrad: true }), randn([2], 2, { requiresGrad: true }), randn([2], 3, { requiresGrad: true })];
    const f = (x: Tensor, w: Tensor, b: Tensor): Tensor => {
      const y = batchNormRelu(x, null, null, { weight: w, bias: b, training: true });
      return y.mul(y.sigmoid()).add(y.mul(2));
    };
    expect(gradcheck(f, args)).toBe(true);
  });

  // 92,160 floats: two blocks on one thread, many on two.
  const shape = [10, 16, 24, 24];
  for (const kernel of ["reference", "wasm"] as const) {
    for (const consumers of [2, 3]) {
      it(`${kernel} kernel, ${consumers} readers: the bits of the engine's sum`, () => {
        kernels.batchNormKernels.override(kernel === "wasm" ? kernels.batchNormWasm : kernels.batchNormReference);
        const parts = run(kernel === "wasm" ? shape : [2, 3, 5, 4], consumers, false);
        const summed = run(kernel === "wasm" ? shape : [2, 3, 5, 4], consumers, true);
        expect(parts.parts).toBe(1);
        expect(summed.parts).toBe(0);
        parts.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(summed.grads[i]));
      });
    }
  }

  describe("on 2 threads", () => {
    afterAll(() => disableThreads());
    it("wasm kernel: the bits of one thread", async () => {
      const one = run(shape, 2, false);
      await enableThreads(2);
      const two = run(shape, 2, false);
      expect(two.parts).toBe(1);
      two.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(one.grads[i]));
    });
  });
});
