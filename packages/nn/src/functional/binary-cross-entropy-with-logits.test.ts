import { ShapeError, gradcheck, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { expectClose, randn, values } from "../test-utils/tensors.js";
import { binaryCrossEntropyWithLogits } from "./binary-cross-entropy-with-logits.js";

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

describe("binaryCrossEntropyWithLogits", () => {
  const xs = [0.3, -1.2, 2.5, 0, -0.7, 1.1];
  const ys = [1, 0, 1, 0.5, 0, 0.2];

  it("equals −[y·log σ(x) + (1 − y)·log(1 − σ(x))] elementwise, mean and sum", () => {
    const expected = xs.map((x, i) => -(ys[i]! * Math.log(sigmoid(x)) + (1 - ys[i]!) * Math.log(1 - sigmoid(x))));
    const x = tensor(xs, { dtype: "float64" });
    const y = tensor(ys, { dtype: "float64" });
    expectClose(values(binaryCrossEntropyWithLogits(x, y, { reduction: "none" })), expected, "none", 1e-12);
    expect(binaryCrossEntropyWithLogits(x, y, { reduction: "sum" }).item()).toBeCloseTo(expected.reduce((a, b) => a + b), 12);
    expect(binaryCrossEntropyWithLogits(x, y).item()).toBeCloseTo(expected.reduce((a, b) => a + b) / 6, 12);
  });

  it("posWeight multiplies the positive term per class, weight each element", () => {
    const x = tensor([xs.slice(0, 3), xs.slice(3)], { dtype: "float64" });
    const y = tensor([ys.slice(0, 3), ys.slice(3)], { dtype: "float64" });
    const pw = [2, 0.5, 3];
    const w = [1, 2, 0.5];
    const expected = xs.map((xv, i) => {
      const c = i % 3;
      return w[c]! * -(pw[c]! * ys[i]! * Math.log(sigmoid(xv)) + (1 - ys[i]!) * Math.log(1 - sigmoid(xv)));
    });
    const loss = binaryCrossEntropyWithLogits(x, y, { posWeight: tensor(pw, { dtype: "float64" }), weight: tensor(w, { dtype: "float64" }), reduction: "none" });
    expectClose(values(loss), expected, "weighted", 1e-12);
  });

  it("is finite and exact for logits of ±1000", () => {
    const loss = binaryCrossEntropyWithLogits(tensor([1000, -1000, 1000, -1000]), tensor([1, 0, 0, 1]), { reduction: "none" });
    expectClose(values(loss), [0, 0, 1000, 1000], "extremes");
  });

  it("gradcheck with respect to input, target and posWeight, x=[3,4]", () => {
    const x = randn([3, 4], 1, { requiresGrad: true, scale: 3 });
    const y = randn([3, 4], 2).sigmoid();
    y.requiresGrad = true;
    const pw = randn([4], 3).abs().add(0.5);
    pw.requiresGrad = true;
    expect(gradcheck((a, b, p) => binaryCrossEntropyWithLogits(a, b, { posWeight: p }), [x, y, pw])).toBe(true);
    expect(gradcheck((a, b) => binaryCrossEntropyWithLogits(a, b, { reduction: "sum" }), [x, y])).toBe(true);
  });

  it("refuses a target of another shape", () => {
    expect(() => binaryCrossEntropyWithLogits(tensor([1, 2]), tensor([[1, 0]]))).toThrow(ShapeError);
    expect(() => binaryCrossEntropyWithLogits(tensor([[1, 2]]), tensor([[1, 0]]), { posWeight: tensor([1, 2, 3]) })).toThrow("posWeight");
  });
});
