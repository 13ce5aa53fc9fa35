import { Context, Generator, Tensor } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it, vi } from "vitest";
import { CifarResidualBlock } from "../models/cifar-net.js";

// Where a convolution's input feeds other calls too (the residual block's input, which the skip also
// reads), Conv2dFunction's backward adds its input gradient into the engine's running sum
// (Context.gradientSoFar) as it leaves the kernel: the bits of the engine's own sum (retainGraph keeps
// every gradient apart, so the engine adds them there).

function blockGradients(retainGraph: boolean): Uint32Array[] {
  const block = new CifarResidualBlock(8, { generator: new Generator(7) });
  block.train();
  const x = Tensor.randn([4, 8, 16, 16], { generator: new Generator(8), requiresGrad: true });
  const r = Tensor.randn([4, 8, 16, 16], { generator: new Generator(9) });
  block.forward(x).mul(r).sum().backward(null, { retainGraph });
  return [x, ...block.parameters()].map((t) => new Uint32Array(Float32Array.from(t.grad!.toTypedArray() as Float32Array).buffer));
}

describe("Conv2dFunction's backward adds into the running gradient sum", () => {
  afterAll(() => disableThreads());

  for (const threads of [1, 2]) {
    it(`the residual block's input gradient: the engine's sum bit for bit, ${threads} thread(s)`, async () => {
      expect(await enableThreads(threads)).toBe(true);
      const handed = vi.spyOn(Context.prototype, "gradientSoFar");
      try {
        const added = blockGradients(false);
        expect(handed.mock.results.some((r) => r.value !== null)).toBe(true);
        handed.mockClear();
        const apart = blockGradients(true);
        expect(handed.mock.results.every((r) => r.value === null)).toBe(true);
        expect(added).toEqual(apart);
      } finally {
        handed.mockRestore();
      }
    });
  }
});
