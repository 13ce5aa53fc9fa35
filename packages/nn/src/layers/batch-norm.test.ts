import { ArgumentError, ShapeError, Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { checkModuleGradients } from "../test-utils/module-gradcheck.js";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { BatchNorm1d } from "./batch-norm1d.js";
import { BatchNorm2d } from "./batch-norm2d.js";

// Channel 0: 1, 2, 3, 4 (mean 2.5, biased variance 1.25, unbiased 5/3); channel 1: 0, 0, 2, 6 (mean 2, 6 and 8).
const batch = (): Tensor => tensor([[1, 0], [2, 0], [3, 2], [4, 6]], { dtype: "float64" });
const eps = 1e-5;

describe("BatchNorm1d", () => {
  it("training uses batch statistics and updates the running ones with the unbiased variance", () => {
    const bn = new BatchNorm1d(2, { dtype: "float64" });
    const y = values(bn.forward(batch()));
    const s0 = Math.sqrt(1.25 + eps);
    const s1 = Math.sqrt(6 + eps);
    expectClose(y, [-1.5 / s0, -2 / s1, -0.5 / s0, -2 / s1, 0.5 / s0, 0, 1.5 / s0, 4 / s1], "output");
    expectClose(values(bn.runningMean!), [0.25, 0.2], "running mean");
    expectClose(values(bn.runningVar!), [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * 8], "running var");
    expect(bn.numBatchesTracked!.item()).toBe(1);
  });

  it("evaluation uses the running statistics and leaves them alone", () => {
    const bn = new BatchNorm1d(2, { dtype: "float64" });
    bn.forward(batch());
    bn.eval();
    const y = values(bn.forward(batch()));
    const m = [0.25, 0.2];
    const v = [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * 8];
    const expected = values(batch()).map((x, i) => (x - m[i % 2]!) / Math.sqrt(v[i % 2]! + eps));
    expectClose(y, expected, "output");
    expectClose(values(bn.runningMean!), m, "running mean unchanged");
    expect(bn.numBatchesTracked!.item()).toBe(1);
  });

  it("momentum null keeps a cumulative average of the batch statistics", () => {
    const bn = new BatchNorm1d(2, { momentum: null, dtype: "float64" });
    bn.forward(batch());
    bn.forward(batch().mul(2));
    expectClose(values(bn.runningMean!), [(2.5 + 5) / 2, (2 + 4) / 2], "running mean");
    expectClose(values(bn.runningVar!), [(5 / 3 + 20 / 3) / 2, (8 + 32) / 2], "running var");
  });

  it("without running statistics, uses the batch's also in evaluation and has no buffers", () => {
    const bn = new BatchNorm1d(2, { trackRunningStats: false, affine: false, dtype: "float64" });
    expect(bn.buffers()).toEqual([]);
    expect(bn.parameters()).toEqual([]);
    bn.eval();
    expectClose(values(bn.forward(batch())).slice(0, 2), [-1.5 / Math.sqrt(1.25 + eps), -2 / Math.sqrt(6 + eps)], "output");
  });

  it("accepts [N, C, L], and its gradients match central differences in training and evaluation", () => {
    const bn = new BatchNorm1d(3, { dtype: "float64" });
    bn.weight!.data.data.set([0.5, 2, -1]);
    bn.bias!.data.data.set([0.1, 0, 0.3]);
    checkModuleGradients(bn, randn([4, 3, 5], 1));
    bn.eval();
    checkModuleGradients(bn, randn([4, 3], 2));
  });

  it("stores its running statistics in the state dict, as PyTorch", () => {
    expect(Object.keys(new BatchNorm1d(4).stateDict())).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
  });

  it("names the layer and the rule on a wrong input", () => {
    const bn = new BatchNorm1d(4);
    expect(() => bn.forward(Tensor.zeros([8, 3]))).toThrow(ShapeError);
    expect(() => bn.forward(Tensor.zeros([8, 3]))).toThrow("BatchNorm1d: expected input with 4 channels [N, 4] or [N, 4, L], but got shape [8, 3]");
    expect(() => bn.forward(Tensor.zeros([8, 4, 2, 2]))).toThrow("BatchNorm1d: expected input of shape [N, 4] or [N, 4, L], but got rank 4");
    expect(() => bn.forward(Tensor.zeros([1, 4]))).toThrow("BatchNorm1d: expected more than 1 value per channel when training, but got input of shape [1, 4]");
    expect(bn.numBatchesTracked!.item()).toBe(0);
    expect(() => new BatchNorm1d(4, { momentum: 2 })).toThrow("BatchNorm1d: momentum must be in [0, 1] or null, but got 2");
    expect(() => new BatchNorm1d(0)).toThrow(ArgumentError);
  });
});

describe("BatchNorm2d", () => {
  it("normalises each channel over N, H and W in training, then uses running statistics in evaluation", () => {
    const bn = new BatchNorm2d(2, { dtype: "float64", momentum: 1 });
    const x = randn([3, 2, 4, 4], 1, { scale: 2 }).add(1);
    const y = values(bn.forward(x));
    const xv = values(x);
    for (let c = 0; c < 2; c++) {
      const idx: number[] = [];
      for (let n = 0; n < 3; n++) for (let i = 0; i < 16; i++) idx.push((n * 2 + c) * 16 + i);
      const mean = idx.reduce((s, i) => s + xv[i]!, 0) / 48;
      const variance = idx.reduce((s, i) => s + (xv[i]! - mean) ** 2, 0) / 48;
      for (const i of idx) expect(y[i]).toBeCloseTo((xv[i]! - mean) / Math.sqrt(variance + eps), 10);
      // momentum 1: the running statistics are exactly the last batch's (variance unbiased).
      expect(values(bn.runningMean!)[c]).toBeCloseTo(mean, 12);
      expect(values(bn.runningVar!)[c]).toBeCloseTo((variance * 48) / 47, 12);
    }
    bn.eval();
    const again = values(bn.forward(x));
    const rm = values(bn.runningMean!);
    const rv = values(bn.runningVar!);
    for (let i = 0; i < again.length; i++) {
      const c = Math.floor(i / 16) % 2;
      expect(again[i]).toBeCloseTo((xv[i]! - rm[c]!) / Math.sqrt(rv[c]! + eps), 12);
    }
  });

  it("gradients match central differences in training", () => {
    checkModuleGradients(new BatchNorm2d(3, { dtype: "float64" }), randn([2, 3, 3, 2], 4));
  });

  it("names the layer and the rule on a wrong input", () => {
    expect(() => new BatchNorm2d(8).forward(Tensor.zeros([2, 4, 3, 3]))).toThrow("BatchNorm2d: expected input with 8 channels [N, 8, H, W], but got shape [2, 4, 3, 3]");
    expect(() => new BatchNorm2d(8).forward(Tensor.zeros([2, 8]))).toThrow("BatchNorm2d: expected input of shape [N, 8, H, W], but got rank 2 with shape [2, 8]");
  });

  it("prints its options", () => {
    expect(new BatchNorm2d(8).toString()).toBe("BatchNorm2d(8, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)");
  });
});
