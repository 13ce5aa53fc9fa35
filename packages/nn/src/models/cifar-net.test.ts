import { Generator, Tensor, noGrad, tracer } from "@pico/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CifarResidualBlock } from "./cifar-net.js";

describe("CifarResidualBlock", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const mode of ["train", "eval"] as const) {
    it(`${mode}, x=[2,8,6,6]: under noGrad hands its inner activation back to the buffer pool (not x, not the output), same output as with gradients`, () => {
      const block = new CifarResidualBlock(8, { generator: new Generator(4) });
      if (mode === "eval") block.eval();
      const x = Tensor.randn([2, 8, 6, 6], { generator: new Generator(5) });
      const withGrad = block.forward(x).toTypedArray();
      const recycle = vi.spyOn(tracer, "recycle");
      const y = noGrad(() => block.forward(x));
      expect(recycle).toHaveBeenCalledTimes(1);
      const given = recycle.mock.calls[0]![0];
      expect(given.length).toBe(2 * 8 * 6 * 6);
      expect(given.buffer === x.data.data.buffer || given.buffer === y.data.data.buffer).toBe(false);
      expect(Array.from(y.toTypedArray())).toEqual(Array.from(withGrad));
    });
  }

  it("with gradients recycles nothing itself (backward still needs its activations)", () => {
    const block = new CifarResidualBlock(8, { generator: new Generator(4) });
    const recycle = vi.spyOn(tracer, "recycle");
    block.forward(Tensor.randn([2, 8, 6, 6], { generator: new Generator(5), requiresGrad: true })).sum().backward();
    expect(recycle).not.toHaveBeenCalled();
  });
});
