import { tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { NLLLoss } from "./nll-loss.js";

describe("NLLLoss", () => {
  it("averages −input[target] over the kept targets", () => {
    const logp = tensor([[-0.1, -2.5], [-1.2, -0.4], [-0.7, -0.9]], { dtype: "float64" });
    expect(new NLLLoss().forward(logp, tensor([0, 1, -100])).item()).toBeCloseTo((0.1 + 0.4) / 2, 12);
    expect(new NLLLoss({ reduction: "sum", weight: tensor([2, 1]) }).forward(logp, tensor([0, 1, 0])).item()).toBeCloseTo(0.2 + 0.4 + 1.4, 6);
    expect(() => new NLLLoss({ reduction: "max" as "sum" })).toThrow('NLLLoss: reduction must be "mean", "sum" or "none", but got "max"');
  });
});
