import { describe, expect, it } from "vitest";
import { tensor, tracer } from "../index.js";

describe("comparisons and argmax (no gradient)", () => {
  const x = tensor([[1, 5, 5], [7, 2, 7]], { requiresGrad: true });

  it("argmax over an axis picks the first maximum", () => {
    expect(x.argmax(1).toArray()).toEqual([1, 0]);
    expect(x.argmax(0).toArray()).toEqual([1, 0, 1]);
    expect(x.argmax(-1, true).toArray()).toEqual([[1], [0]]);
    expect(x.argmax().toArray()).toBe(3);
    expect(x.transpose().argmax(0).toArray()).toEqual([1, 0]);
    expect(x.slice(1, 1).argmax(1).toArray()).toEqual([0, 1]);
  });

  it("eq, gt, lt broadcast, accept numbers and give 0/1 float32 without a graph", () => {
    const before = tracer.stats();
    expect(x.eq(5).toArray()).toEqual([[0, 1, 1], [0, 0, 0]]);
    expect(x.gt(tensor([1, 2, 6])).toArray()).toEqual([[0, 1, 0], [1, 0, 1]]);
    expect(x.lt(tensor([[2], [3]])).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    const r = x.gt(0);
    expect(r.requiresGrad).toBe(false);
    expect(r.dtype).toBe("float32");
    expect(tracer.stats()).toEqual(before);
  });

  it("accuracy-style use: argmax compared with targets", () => {
    const logits = tensor([[0.1, 2, -1], [3, 0, 0], [0, 0, 9]]);
    const targets = tensor([1, 2, 2]);
    expect(logits.argmax(1).eq(targets).mean().item()).toBeCloseTo(2 / 3, 6);
  });

  it("errors name the operator", () => {
    expect(() => x.argmax(2)).toThrow(/argmax: axis/);
    expect(() => x.eq(tensor([1, 2]))).toThrow(/eq: shapes \[2, 3\] and \[2\]/);
  });
});
