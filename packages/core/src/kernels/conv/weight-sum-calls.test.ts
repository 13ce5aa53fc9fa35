import { describe, expect, it } from "vitest";
import { WEIGHT_SUM_BYTES, weightSumCalls } from "./weight-sum-calls.js";

// A Winograd dU region of O → C channels: 36·O·C floats.
const du = (o: number, c: number): number => 36 * o * c * 4;

describe("weightSumCalls", () => {
  it("keeps the calls wanted where their regions fit: the CIFAR-shaped layers on 2 threads", () => {
    expect(weightSumCalls(16, 2, du(64, 64))).toBe(16);
    expect(weightSumCalls(16, 2, du(128, 128))).toBe(16);
    expect(weightSumCalls(1, 1, du(512, 512))).toBe(1);
  });

  it("falls back to one call per thread where more calls' regions would pass the budget, never to fewer", () => {
    // 256 → 256: 9.4 MB a region; 64 calls would take 604 MB, 16 threads' 151 MB.
    expect(weightSumCalls(64, 16, du(256, 256))).toBe(16);
    expect(weightSumCalls(64, 4, du(256, 256))).toBe(4);
    // 512 → 512: 37.7 MB a region: one per thread, so that the second thread still works.
    expect(weightSumCalls(16, 2, du(512, 512))).toBe(2);
    expect(weightSumCalls(8, 2, 2 * WEIGHT_SUM_BYTES)).toBe(2);
    expect(weightSumCalls(1, 2, 2 * WEIGHT_SUM_BYTES)).toBe(1);
    for (const threads of [2, 3, 8, 32]) {
      for (const bytes of [1e3, 1e6, 5e6, 2e7, 7e7]) {
        const calls = weightSumCalls(64, threads, bytes);
        expect(calls).toBeGreaterThanOrEqual(threads);
        if (calls > threads) expect(calls * bytes).toBeLessThanOrEqual(WEIGHT_SUM_BYTES);
      }
    }
  });

  it("takes a budget", () => {
    expect(weightSumCalls(16, 2, 1000, 16000)).toBe(16);
    expect(weightSumCalls(16, 4, 1000, 3500)).toBe(4);
    expect(weightSumCalls(3, 4, 1000, 3500)).toBe(3);
  });
});
