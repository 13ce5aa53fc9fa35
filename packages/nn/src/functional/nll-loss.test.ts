import { ArgumentError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { classIndices, expectClose, randn, values } from "../test-utils/tensors.js";
import { crossEntropy } from "./cross-entropy.js";
import { nllLoss } from "./nll-loss.js";

describe("nllLoss", () => {
  const logp = [
    [-0.1, -2.5, -3],
    [-1.2, -0.4, -2],
    [-0.7, -0.9, -1.9],
  ];

  it("picks −input[target], with mean, sum, none, weights and ignoreIndex", () => {
    const x = tensor(logp, { dtype: "float64" });
    expectClose(values(nllLoss(x, tensor([0, 2, 1]), { reduction: "none" })), [0.1, 2, 0.9], "none");
    expect(nllLoss(x, tensor([0, 2, 1]), { reduction: "sum" }).item()).toBeCloseTo(3, 12);
    expect(nllLoss(x, tensor([0, 2, 1])).item()).toBeCloseTo(1, 12);
    const w = tensor([1, 2, 4], { dtype: "float64" });
    expect(nllLoss(x, tensor([0, 2, 1]), { weight: w }).item()).toBeCloseTo((0.1 + 4 * 2 + 2 * 0.9) / 7, 12);
    expect(nllLoss(x, tensor([0, -100, 1])).item()).toBeCloseTo((0.1 + 0.9) / 2, 12);
    expect(nllLoss(x, tensor([0, 3, 3]), { ignoreIndex: 3 }).item()).toBeCloseTo(0.1, 12);
  });

  it("of logSoftmax equals crossEntropy", () => {
    const x = randn([6, 5], 1);
    const t = classIndices([6], 5, 2);
    expect(nllLoss(x.logSoftmax(1), t).item()).toBeCloseTo(crossEntropy(x, t).item(), 12);
  });

  for (const reduction of ["mean", "sum", "none"] as const) {
    it(`gradcheck x=[4,3,5] reduction=${reduction} with weights and an ignored target`, () => {
      const t = classIndices([4, 5], 3, 4);
      t.data.data[3] = -100;
      const w = tensor([0.5, 1, 2]);
      expect(gradcheck((a) => nllLoss(a, t, { reduction, weight: w }), [randn([4, 3, 5], 3, { requiresGrad: true })])).toBe(true);
    });
  }

  it("refuses a target out of range", () => {
    expect(() => nllLoss(Tensor.zeros([2, 3]), tensor([0, 3]))).toThrow(ArgumentError);
    expect(() => nllLoss(Tensor.zeros([2, 3]), tensor([0, 3]))).toThrow("nllLoss: target must hold integer class indices in [0, 2]");
  });
});
