import { ArgumentError, ShapeError, Tensor, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { classIndices, expectClose, randn, values } from "../test-utils/tensors.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import { crossEntropy } from "./cross-entropy.js";
import type { Reduction } from "./reduction.js";

/** −log softmax(row)[t], straight from the definition, in plain arithmetic. */
function nll(row: number[], t: number): number {
  const sum = row.reduce((s, v) => s + Math.exp(v), 0);
  return Math.log(sum) - row[t]!;
}

describe("crossEntropy", () => {
  const logits = [
    [1, 2, 3],
    [1, 1, 1],
    [0.5, -1, 2],
    [3, 0, -2],
  ];
  const targets = [2, 0, 1, 0];

  it("equals −log softmax at the target, averaged, summed or per sample", () => {
    const x = tensor(logits, { dtype: "float64" });
    const t = tensor(targets);
    const each = logits.map((row, i) => nll(row, targets[i]!));
    expectClose(values(crossEntropy(x, t, { reduction: "none" })), each, "none");
    expect(crossEntropy(x, t, { reduction: "sum" }).item()).toBeCloseTo(each.reduce((a, b) => a + b), 12);
    expect(crossEntropy(x, t).item()).toBeCloseTo(each.reduce((a, b) => a + b) / 4, 12);
  });

  it("ignoreIndex drops positions from the loss and from the mean's denominator", () => {
    const x = tensor(logits, { dtype: "float64" });
    const t = tensor([2, -100, 1, -100]);
    const kept = [nll(logits[0]!, 2), nll(logits[2]!, 1)];
    expect(crossEntropy(x, t).item()).toBeCloseTo((kept[0]! + kept[1]!) / 2, 12);
    const custom = crossEntropy(x, tensor([2, 7, 1, 7]), { ignoreIndex: 7 });
    expect(custom.item()).toBeCloseTo((kept[0]! + kept[1]!) / 2, 12);
    const none = crossEntropy(x, tensor([2, -100, 1, -100]), { reduction: "none" });
    expectClose(values(none), [kept[0]!, 0, kept[1]!, 0], "ignored positions are 0");
  });

  it("class weights weigh each sample and the mean divides by the summed weights of the targets", () => {
    const x = tensor(logits, { dtype: "float64" });
    const t = tensor(targets);
    const w = [0.2, 1.5, 3];
    const weighted = logits.map((row, i) => w[targets[i]!]! * nll(row, targets[i]!));
    const denominator = targets.reduce((s, c) => s + w[c]!, 0);
    const loss = crossEntropy(x, t, { weight: tensor(w, { dtype: "float64" }) });
    expect(loss.item()).toBeCloseTo(weighted.reduce((a, b) => a + b) / denominator, 12);
  });

  it("labelSmoothing mixes the target with the uniform distribution, as PyTorch", () => {
    const eps = 0.2;
    const x = tensor(logits, { dtype: "float64" });
    const t = tensor(targets);
    const c = 3;
    const each = logits.map((row, i) => {
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      const smooth = row.reduce((s, v) => s + (lse - v), 0);
      return (1 - eps) * (lse - row[targets[i]!]!) + (eps / c) * smooth;
    });
    expectClose(values(crossEntropy(x, t, { labelSmoothing: eps, reduction: "none" })), each, "per sample", 1e-12, 1e-12);
    expect(crossEntropy(x, t, { labelSmoothing: eps }).item()).toBeCloseTo(each.reduce((a, b) => a + b) / 4, 12);
  });

  it("labelSmoothing with weights and ignoreIndex follows PyTorch's normalisation", () => {
    // PyTorch: (1 − ε)·nll_loss(weight) + (ε / C)·Σ_i Σ_c w[c]·(−log p[i, c]) / Σ_i w[t_i], over kept positions.
    const eps = 0.3;
    const w = [0.5, 2, 1];
    const t = [2, -100, 1, 0];
    const x = tensor(logits, { dtype: "float64" });
    let nllSum = 0;
    let smoothSum = 0;
    let denominator = 0;
    logits.forEach((row, i) => {
      const ti = t[i]!;
      if (ti === -100) return;
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      nllSum += w[ti]! * (lse - row[ti]!);
      smoothSum += row.reduce((s, v, k) => s + w[k]! * (lse - v), 0);
      denominator += w[ti]!;
    });
    const expected = (1 - eps) * (nllSum / denominator) + (eps / 3) * (smoothSum / denominator);
    const loss = crossEntropy(x, tensor(t), { weight: tensor(w, { dtype: "float64" }), labelSmoothing: eps });
    expect(loss.item()).toBeCloseTo(expected, 12);
  });

  it("takes [N, C, d1, d2] scores with [N, d1, d2] targets (class axis 1)", () => {
    const x = randn([2, 3, 2, 2], 1);
    const t = classIndices([2, 2, 2], 3, 2);
    const none = values(crossEntropy(x, t, { reduction: "none" }));
    const xv = values(x);
    const tv = values(t);
    const expected: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let s = 0; s < 4; s++) {
        const row = [0, 1, 2].map((c) => xv[n * 12 + c * 4 + s]!);
        expected.push(nll(row, tv[n * 4 + s]!));
      }
    }
    expectClose(none, expected, "spatial");
    expect(crossEntropy(x, t, { reduction: "none" }).shape).toEqual([2, 2, 2]);
  });

  it("takes unbatched [C] scores with a 0-d target", () => {
    const loss = crossEntropy(tensor([1, 2, 3], { dtype: "float64" }), tensor(1));
    expect(loss.item()).toBeCloseTo(nll([1, 2, 3], 1), 12);
  });

  it("stays finite for logits of 1000 (and −1000)", () => {
    const x = tensor([[1000, 0, -1000], [-1000, -1000, 1000]], { requiresGrad: true });
    const loss = crossEntropy(x, tensor([1, 2]));
    expect(loss.item()).toBeCloseTo(500, 3);
    loss.backward();
    expect(values(x.grad!).every(Number.isFinite)).toBe(true);
    expectClose(values(x.grad!), [0.5, -0.5, 0, 0, 0, 0], "grad", 1e-6);
  });

  const cases: { shape: number[]; reduction: Reduction; smoothing: number; weight: boolean; ignore: boolean }[] = [
    { shape: [1, 3], reduction: "mean", smoothing: 0, weight: false, ignore: false },
    { shape: [5, 7], reduction: "mean", smoothing: 0, weight: false, ignore: true },
    { shape: [5, 7], reduction: "sum", smoothing: 0.1, weight: true, ignore: false },
    { shape: [3, 4, 5], reduction: "none", smoothing: 0.25, weight: true, ignore: true },
    { shape: [2, 3, 3, 1], reduction: "mean", smoothing: 0.3, weight: true, ignore: true },
    { shape: [7], reduction: "mean", smoothing: 0.2, weight: false, ignore: false },
  ];
  for (const c of cases) {
    it(`gradcheck x=[${c.shape}] reduction=${c.reduction} smoothing=${c.smoothing} weight=${c.weight} ignore=${c.ignore}`, () => {
      const classes = c.shape.length === 1 ? c.shape[0]! : c.shape[1]!;
      const targetShape = c.shape.length === 1 ? [] : [c.shape[0]!, ...c.shape.slice(2)];
      const t = classIndices(targetShape, classes, 7);
      if (c.ignore && t.size > 1) t.data.data[1] = -100;
      const weight = c.weight ? randn([classes], 3).abs().add(0.1) : null;
      const x = randn(c.shape, 5, { requiresGrad: true, scale: 2 });
      expect(gradcheck((a) => crossEntropy(a, t, { reduction: c.reduction, labelSmoothing: c.smoothing, weight }), [x])).toBe(true);
    });
  }

  it("gradcheck on a transposed (non-contiguous) input", () => {
    const x = randn([4, 3], 9, { requiresGrad: true });
    const t = classIndices([4], 3, 1);
    expect(gradcheck((a) => crossEntropy(a.transpose().transpose(1, 0), t), [x])).toBe(true);
    expect(gradcheck((a) => crossEntropy(a.transpose(), classIndices([3], 4, 2)), [x])).toBe(true);
  });

  it("takes class probabilities (a target of the input's shape) as PyTorch", () => {
    const x = tensor(logits, { dtype: "float64" });
    const oneHot = tensor(targets.map((t) => [0, 1, 2].map((c) => (c === t ? 1 : 0))), { dtype: "float64" });
    expect(crossEntropy(x, oneHot).item()).toBeCloseTo(crossEntropy(x, tensor(targets)).item(), 12);
    expect(crossEntropy(x, oneHot, { labelSmoothing: 0.2 }).item()).toBeCloseTo(crossEntropy(x, tensor(targets), { labelSmoothing: 0.2 }).item(), 12);
    const q = [[0.2, 0.3, 0.5], [1, 0, 0], [0.1, 0.1, 0.8], [0.5, 0.5, 0]];
    const w = [2, 1, 0.5];
    const expected = logits.map((row, i) => {
      const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
      return row.reduce((a, v, c) => a + w[c]! * q[i]![c]! * (lse - v), 0);
    });
    const soft = crossEntropy(x, tensor(q, { dtype: "float64" }), { weight: tensor(w), reduction: "none" });
    expectClose(values(soft), expected, "weighted soft targets");
    // "mean" divides by the number of positions, not by the weights.
    expect(crossEntropy(x, tensor(q, { dtype: "float64" }), { weight: tensor(w) }).item()).toBeCloseTo(expected.reduce((a, b) => a + b) / 4, 12);
  });

  it("gradcheck with class-probability targets x=[3,4,2], with respect to input and target", () => {
    const x = randn([3, 4, 2], 1, { requiresGrad: true });
    const q = randn([3, 4, 2], 2).softmax(1);
    q.requiresGrad = true;
    expect(gradcheck((a, b) => crossEntropy(a, b, { labelSmoothing: 0.1, weight: tensor([1, 2, 3, 4]) }), [x, q])).toBe(true);
  });

  it("refuses targets out of range, negative or fractional, and a wrong target shape", () => {
    const x = Tensor.zeros([2, 10]);
    expect(() => crossEntropy(x, tensor([3, 10]))).toThrow(ArgumentError);
    expect(() => crossEntropy(x, tensor([3, 10]))).toThrow("crossEntropy: target must hold integer class indices in [0, 9] (or ignoreIndex -100), but got 10 at position 1");
    expect(() => crossEntropy(x, tensor([-1, 0]))).toThrow("but got -1 at position 0");
    expect(() => crossEntropy(x, tensor([0.5, 0]))).toThrow("but got 0.5 at position 0");
    expect(() => crossEntropy(x, tensor([[1], [2]]))).toThrow(ShapeError);
    expect(() => crossEntropy(x, tensor([[1], [2]]))).toThrow("target must hold one class index per sample, shape [2] for input [2, 10]");
    expect(() => crossEntropy(x, tensor([1, 2]), { labelSmoothing: 1.5 })).toThrow("crossEntropy: labelSmoothing must be a number in [0, 1], but got 1.5");
    expect(() => crossEntropy(x, tensor([1, 2]), { reduction: "avg" as Reduction })).toThrow('crossEntropy: reduction must be "mean", "sum" or "none"');
    expect(() => crossEntropy(x, tensor([1, 2]), { weight: Tensor.ones([9]) })).toThrow("crossEntropy: weight must have shape [10] (one weight per class), but got [9]");
  });

  it("an all-ignored batch gives NaN with reduction mean (0 / 0), as PyTorch", () => {
    expect(crossEntropy(Tensor.zeros([2, 3]), tensor([-100, -100])).item()).toBeNaN();
    expect(crossEntropy(Tensor.zeros([2, 3]), tensor([-100, -100]), { reduction: "sum" }).item()).toBe(0);
  });
});

describe("crossEntropy's unweighted path (a training step's loss)", () => {
  /** float32 logits [n, c, s...] and targets with every third position ignored. */
  function batch(shape: number[], seed: number): { x: Tensor; t: Tensor } {
    const x = randn(shape, seed, { dtype: "float32", scale: 3 });
    const t = classIndices([shape[0]!, ...shape.slice(2)], shape[1]!, seed + 1);
    const d = t.data.data;
    for (let i = 0; i < d.length; i += 3) d[i] = -100;
    return { x, t };
  }

  function lossAndGrad(x: Tensor, t: Tensor, options: Parameters<typeof crossEntropy>[2]): { loss: number[]; grad: number[] } {
    const leaf = x.detach();
    leaf.requiresGrad = true;
    const loss = crossEntropy(leaf, t, options);
    loss.sum().backward();
    return { loss: values(loss), grad: values(leaf.grad!) };
  }

  it("gives the bits of the weighted loop with all weights 1, forward and gradient", () => {
    for (const shape of [[64, 10], [5, 4, 3, 2]]) {
      const { x, t } = batch(shape, 11);
      const c = shape[1]!;
      for (const reduction of ["mean", "sum", "none"] as const) {
        const fast = lossAndGrad(x, t, { reduction });
        const weighted = lossAndGrad(x, t, { reduction, weight: Tensor.ones([c]) });
        expect(fast.loss, `${reduction} loss ${shape}`).toEqual(weighted.loss);
        expect(fast.grad, `${reduction} gradient ${shape}`).toEqual(weighted.grad);
      }
    }
  });

  it("mean and sum add the positions' float64 losses in position order (the bits of a plain loop)", () => {
    const { x, t } = batch([64, 10], 5);
    const z = values(x);
    const targets = values(t);
    let total = 0;
    let count = 0;
    for (let b = 0; b < 64; b++) {
      if (targets[b] === -100) continue;
      const row = z.slice(b * 10, b * 10 + 10);
      const max = Math.max(...row);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      total += -(row[targets[b]!]! - (max + Math.log(sum)));
      count++;
    }
    expect(crossEntropy(x, t, { reduction: "sum" }).item()).toBe(Math.fround(total));
    expect(crossEntropy(x, t).item()).toBe(Math.fround(total / count));
  });

  it("CrossEntropyLoss gives crossEntropy's bits with the same options, and refuses a reduction changed to a bad one", () => {
    const x = randn([8, 6], 3, { dtype: "float32" });
    const t = classIndices([8], 6, 4);
    const weight = Tensor.rand([6]);
    const options = { weight, ignoreIndex: 2, reduction: "sum" as const, labelSmoothing: 0.25 };
    expect(values(new CrossEntropyLoss(options).forward(x, t))).toEqual(values(crossEntropy(x, t, options)));
    expect(values(new CrossEntropyLoss().forward(x, t))).toEqual(values(crossEntropy(x, t)));
    const loss = new CrossEntropyLoss();
    (loss as { reduction: string }).reduction = "avg";
    expect(() => loss.forward(x, t)).toThrow('crossEntropy: reduction must be "mean", "sum" or "none", but got "avg"');
  });
});
