import { Generator, Tensor, noGrad, tracer } from "@pico/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CifarNet, CifarResidualBlock } from "./cifar-net.js";

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

describe("CifarNet", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("eval, x=[2,3,8,8]: under noGrad hands the features' output (and the block's activation) back to the pool, same logits", () => {
    const model = new CifarNet({ generator: new Generator(6) });
    model.eval();
    const x = Tensor.randn([2, 3, 8, 8], { generator: new Generator(7) });
    const withGrad = Array.from(model.forward(x).toTypedArray());
    const recycle = vi.spyOn(tracer, "recycle");
    const logits = noGrad(() => model.forward(x));
    const sizes = recycle.mock.calls.map(([a]) => a.length);
    // The features' output [2, 128, 2, 2] and the residual block's inner [2, 64, 4, 4], among the Sequential's own.
    expect(sizes).toContain(2 * 128 * 2 * 2);
    expect(sizes).toContain(2 * 64 * 4 * 4);
    expect(Array.from(logits.toTypedArray())).toEqual(withGrad);
  });
});
