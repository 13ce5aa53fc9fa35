import { describe, expect, it } from "vitest";
import { formatTick, niceTicks } from "./svg.js";

describe("niceTicks", () => {
  it("steps of 1, 2, 2.5 or 5 times a power of ten, covering the range", () => {
    expect(niceTicks(0, 2.31).ticks).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(niceTicks(0.9712, 0.9934).ticks).toEqual([0.97, 0.975, 0.98, 0.985, 0.99, 0.995]);
    expect(niceTicks(0, 0.005).ticks).toEqual([0, 0.001, 0.002, 0.003, 0.004, 0.005]);
    expect(niceTicks(0, 5, 10).ticks).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]);
    expect(niceTicks(0, 1).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});

describe("formatTick", () => {
  it("prints as many decimals as the step needs", () => {
    expect([0, 0.25, 0.5].map((v) => formatTick(v, 0.25))).toEqual(["0", "0.25", "0.50"]);
    expect(formatTick(0.004, 0.001)).toBe("0.004");
    expect(formatTick(2, 0.5)).toBe("2.0");
    expect(formatTick(3, 1)).toBe("3");
    expect(formatTick(2e-5, 1e-5)).toBe("2e-5");
  });
});
