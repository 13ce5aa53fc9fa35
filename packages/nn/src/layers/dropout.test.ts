import { Generator, Tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { values } from "../test-utils/tensors.js";
import { Dropout } from "./dropout.js";

describe("Dropout", () => {
  it("drops about p of the elements in training, scaling the rest by 1 / (1 − p)", () => {
    const y = values(new Dropout(0.25, { generator: new Generator(1) }).forward(Tensor.ones([10000])));
    const dropped = y.filter((v) => v === 0).length;
    expect(Math.abs(dropped - 2500)).toBeLessThan(260);
    expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
  });

  it("is the identity in evaluation", () => {
    const d = new Dropout(0.9);
    const x = Tensor.randn([4, 5]);
    d.eval();
    expect(d.forward(x)).toBe(x);
  });

  it("gives the same masks for the same seed and different masks on the next call", () => {
    const a = new Dropout(0.5, { generator: new Generator(5) });
    const b = new Dropout(0.5, { generator: new Generator(5) });
    const x = Tensor.ones([64]);
    const first = values(a.forward(x));
    expect(values(b.forward(x))).toEqual(first);
    expect(values(a.forward(x))).not.toEqual(first);
  });

  it("refuses p outside [0, 1] and prints p", () => {
    expect(() => new Dropout(1.2)).toThrow("Dropout: p (the probability of an element being zeroed) must be a number in [0, 1], but got 1.2");
    expect(new Dropout(0.1).toString()).toBe("Dropout(p=0.1)");
  });
});
