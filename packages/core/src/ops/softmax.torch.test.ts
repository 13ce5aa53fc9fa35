import { compareWithTorch, describeTorch } from "@pico/torch-oracle";
import { it } from "vitest";

const CASES: [number[], number][] = [
  [[5], -1],
  [[3, 4], -1],
  [[3, 4], 0],
  [[2, 3, 4], 1],
  [[2, 3, 4], 2],
  [[2, 3, 4, 5], 1],
  [[64, 10], 1],
];

describeTorch("softmax and logSoftmax vs torch", () => {
  for (const [shape, axis] of CASES) {
    it(`softmax x=[${shape}] axis=${axis}`, () => compareWithTorch([shape], (a) => a.softmax(axis), `a.softmax(${axis})`, { low: -5, high: 5, label: `softmax [${shape}] ${axis}` }));
    it(`logSoftmax x=[${shape}] axis=${axis}`, () =>
      compareWithTorch([shape], (a) => a.logSoftmax(axis), `a.log_softmax(${axis})`, { low: -5, high: 5, label: `logSoftmax [${shape}] ${axis}` }));
  }
  it("softmax and logSoftmax of strided inputs", async () => {
    await compareWithTorch([[3, 4, 5]], (a) => a.softmax(1), "a.softmax(1)", { strided: true, label: "softmax strided" });
    await compareWithTorch([[3, 4, 5]], (a) => a.logSoftmax(2), "a.log_softmax(2)", { strided: true, label: "logSoftmax strided" });
  });
  const extreme = [1000, 999, -1000, 0, -Infinity, 0, 1, 2, 50, -50, 30, 30];
  it("softmax of huge, tied and -Infinity logits", () => compareWithTorch([[3, 4]], (a) => a.softmax(1), "a.softmax(1)", { inputs: [{ values: extreme }] }));
  it("logSoftmax of huge, tied and -Infinity logits", () =>
    compareWithTorch([[3, 4]], (a) => a.logSoftmax(1), "a.log_softmax(1)", { inputs: [{ values: extreme }] }));
  // A lane of -Infinity only, a lane with +Infinity, a lane with NaN: NaN where torch gives NaN.
  const degenerate = [-Infinity, -Infinity, -Infinity, Infinity, 1, 2, Number.NaN, 0, 1];
  it("softmax, logSoftmax and logSumExp of degenerate lanes", async () => {
    const inputs = [{ values: degenerate }];
    await compareWithTorch([[3, 3]], (a) => a.softmax(1), "a.softmax(1)", { inputs, label: "softmax degenerate" });
    await compareWithTorch([[3, 3]], (a) => a.logSoftmax(1), "a.log_softmax(1)", { inputs, label: "logSoftmax degenerate" });
    await compareWithTorch([[3, 3]], (a) => a.logSumExp(1), "torch.logsumexp(a, 1)", { inputs, label: "logsumexp degenerate" });
  });
  it("cross-entropy composed from logSoftmax", () =>
    compareWithTorch([[6, 5], [6, 5]], (a, t) => a.logSoftmax(1).mul(t).sum().neg().div(6), "-(a.log_softmax(1) * b).sum() / 6", {
      inputs: [undefined, { low: 0, high: 1, requiresGrad: false }],
    }));
});
