import { tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { BCEWithLogitsLoss } from "./bce-with-logits-loss.js";

describe("BCEWithLogitsLoss", () => {
  it("is −[y·log σ(x) + (1 − y)·log(1 − σ(x))], with posWeight and weight as buffers", () => {
    const s = (v: number): number => 1 / (1 + Math.exp(-v));
    const x = tensor([[0.5, -1]], { dtype: "float64" });
    const y = tensor([[1, 0]], { dtype: "float64" });
    const plain = (-Math.log(s(0.5)) - Math.log(1 - s(-1))) / 2;
    expect(new BCEWithLogitsLoss().forward(x, y).item()).toBeCloseTo(plain, 12);
    const loss = new BCEWithLogitsLoss({ posWeight: tensor([3, 1], { dtype: "float64" }), reduction: "sum" });
    expect(loss.forward(x, y).item()).toBeCloseTo(-3 * Math.log(s(0.5)) - Math.log(1 - s(-1)), 12);
    expect(Object.keys(loss.stateDict())).toEqual(["pos_weight"]);
    expect(new BCEWithLogitsLoss().forward(tensor([1000, -1000]), tensor([1, 0])).item()).toBe(0);
  });
});
