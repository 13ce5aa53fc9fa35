import { Function, Tensor, compile, kernels, manualSeed, type Context, type NDArray } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import { BatchNorm2d } from "./layers/batch-norm2d.js";
import { Conv2d } from "./layers/conv2d.js";

// A user's Function whose backward doubles its incoming gradient in place and returns it, between a
// BatchNorm and a convolution: the convolution's backward leaves its input gradient in the kernel
// module for the BatchNorm's backward, which must not read it there once the user's backward wrote into it.
class DoubleInPlace extends Function {
  static override forward(_ctx: Context, x: NDArray): NDArray {
    return kernels.copy(x);
  }
  static override backward(_ctx: Context, g: NDArray): NDArray[] {
    for (let i = 0; i < g.data.length; i++) g.data[i] = g.data[i]! * 2;
    return [g];
  }
}

// x.grad of BatchNorm2d -> DoubleInPlace -> Conv2d, eager or by the compiled Session's backward replay.
const inputGrad = (backend: "wasm" | "js", compiled = false): Float32Array => {
  kernels.useKernels(backend);
  try {
    manualSeed(3);
    const bn = new BatchNorm2d(8);
    const conv = new Conv2d(8, 8, 3, { padding: 1 });
    const x = Tensor.randn([2, 8, 8, 8], { requiresGrad: true });
    const r = Tensor.randn([2, 8, 8, 8]);
    const loss = (t: Tensor): Tensor => conv.forward(DoubleInPlace.apply(bn.forward(t)) as Tensor).mul(r).sum();
    if (compiled) compile(loss, x, { backward: true })(x);
    else loss(x).backward();
    return x.grad!.data.data as Float32Array;
  } finally {
    kernels.useKernels("wasm");
  }
};

// Two stages across a detach (as a GAN or pipelined training chains two models): the second stage's
// convolution leaves its input gradient in the kernel module, it becomes the detached input's .grad, and
// the first stage's backward, given that array, writes into it in place before its BatchNorm reads it.
const twoStageGrad = (backend: "wasm" | "js"): Float32Array => {
  kernels.useKernels(backend);
  try {
    manualSeed(5);
    const bn = new BatchNorm2d(8);
    const conv = new Conv2d(8, 8, 3, { padding: 1 });
    const v = Tensor.randn([2, 8, 8, 8], { requiresGrad: true });
    const r = Tensor.randn([2, 8, 8, 8]);
    const y = DoubleInPlace.apply(bn.forward(v)) as Tensor;
    const d = new Tensor(y.data, { requiresGrad: true });
    conv.forward(d).mul(r).sum().backward();
    y.backward(d.grad);
    return v.grad!.data.data as Float32Array;
  } finally {
    kernels.useKernels("wasm");
  }
};

describe("autograd: a backward that writes into its incoming gradient and returns it", () => {
  afterAll(() => disableThreads());

  for (const threads of [1, 2]) {
    it(`gives the js kernels' input gradient through BatchNorm2d on the wasm kernels, eager and compiled, ${threads} thread(s)`, async () => {
      expect(await enableThreads(threads)).toBe(true);
      const js = inputGrad("js");
      let scale = 0;
      for (const v of js) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(0.1);
      for (const compiled of [false, true]) {
        const wasm = inputGrad("wasm", compiled);
        js.forEach((v, i) => expect(Math.abs(wasm[i]! - v)).toBeLessThan(1e-4 * scale));
      }
      const jsStaged = twoStageGrad("js");
      const wasmStaged = twoStageGrad("wasm");
      let stagedScale = 0;
      for (const v of jsStaged) stagedScale = Math.max(stagedScale, Math.abs(v));
      expect(stagedScale).toBeGreaterThan(0.1);
      jsStaged.forEach((v, i) => expect(Math.abs(wasmStaged[i]! - v)).toBeLessThan(1e-4 * stagedScale));
    });
  }
});
