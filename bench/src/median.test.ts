import { describe, expect, it } from "vitest";
import { median } from "./median.js";

describe("median", () => {
  it("odd count: the middle value of the sorted rounds", () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([7])).toBe(7);
  });

  it("even count: the mean of the two middle values, not the upper one", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 2])).toBe(6);
  });

  it("sorts numerically and leaves its input as it was", () => {
    const rounds = [10, 9, 100];
    expect(median(rounds)).toBe(10);
    expect(rounds).toEqual([10, 9, 100]);
  });

  it("no values: NaN", () => {
    expect(median([])).toBeNaN();
  });
});
