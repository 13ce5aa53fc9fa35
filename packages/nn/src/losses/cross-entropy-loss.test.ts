import { Tensor, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { crossEntropy } from "../functional/cross-entropy.js";
import { classIndices, randn, values } from "../test-utils/tensors.js";
import { CrossEntropyLoss } from "./cross-entropy-loss.js";

describe("CrossEntropyLoss", () => {
  it("calls F.crossEntropy with its options and keeps the class weights as a buffer", () => {
    const x = randn([6, 4], 1);
    const t = classIndices([6], 4, 2);
    t.data.data[0] = 9;
    const weight = tensor([1, 2, 0.5, 1]);
    const loss = new CrossEntropyLoss({ weight, ignoreIndex: 9, labelSmoothing: 0.1, reduction: "sum" });
    expect(loss.forward(x, t).item()).toBe(crossEntropy(x, t, { weight, ignoreIndex: 9, labelSmoothing: 0.1, reduction: "sum" }).item());
    expect(Object.keys(loss.stateDict())).toEqual(["weight"]);
    expect(loss.parameters()).toEqual([]);
  });

  it("gives the textbook value log(C) for uniform logits, and no NaN for logits of 1000", () => {
    expect(new CrossEntropyLoss().forward(Tensor.zeros([3, 10]), tensor([0, 5, 9])).item()).toBeCloseTo(Math.log(10), 6);
    const big = new CrossEntropyLoss({ reduction: "none" }).forward(tensor([[1000, -1000, 0]]), tensor([1]));
    expect(values(big)).toEqual([2000]);
  });

  it("refuses bad options and bad targets with its name or its function's", () => {
    expect(() => new CrossEntropyLoss({ labelSmoothing: -0.1 })).toThrow("CrossEntropyLoss: labelSmoothing must be a number in [0, 1], but got -0.1");
    expect(() => new CrossEntropyLoss().forward(Tensor.zeros([2, 3]), tensor([0, 3]))).toThrow("target must hold integer class indices in [0, 2]");
  });
});
