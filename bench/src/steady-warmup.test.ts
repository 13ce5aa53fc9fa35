import { describe, expect, it } from "vitest";
import { STEADY_GAIN, isSteady, warmupDone } from "./steady-warmup.js";

describe("isSteady", () => {
  it("needs three windows", () => {
    expect(isSteady([])).toBe(false);
    expect(isSteady([1, 1])).toBe(false);
    expect(isSteady([1, 1, 1])).toBe(true);
  });

  it("goes on while either of the last two windows beats the fastest before them by more than the gain", () => {
    // 2 replicas of the reference network warming up: 5.6, 4.9, 4.4 ms steps.
    expect(isSteady([5.6, 4.9, 4.4])).toBe(false);
    expect(isSteady([5.6, 4.4, 4.9])).toBe(false);
    expect(isSteady([5.6, 4.9, 4.4, 4.0])).toBe(false);
    expect(isSteady([4.0, 3.9, 3.9])).toBe(true);
  });

  it("stops once the last two windows are within the gain of the fastest before them, however slow one of them was", () => {
    const best = 3.4;
    expect(isSteady([5, best, best * (1 - STEADY_GAIN) + 1e-9, 4.5])).toBe(true);
    expect(isSteady([5, best, best * (1 - STEADY_GAIN) - 1e-3, 4.5])).toBe(false);
    expect(isSteady([5, best, 3.6, 3.5])).toBe(true);
  });
});

describe("warmupDone", () => {
  it("waits for the settle steps however steady the windows, then for steady windows however many steps", () => {
    const steady = [4.0, 3.9, 3.9];
    const falling = [5.6, 4.9, 4.4];
    expect([warmupDone(2999, 3000, steady), warmupDone(3000, 3000, steady), warmupDone(4000, 3000, steady)]).toEqual([false, true, true]);
    expect([warmupDone(3000, 3000, falling), warmupDone(9000, 3000, falling), warmupDone(500, 300, falling)]).toEqual([false, false, false]);
    expect(warmupDone(300, 300, steady)).toBe(true);
  });
});
