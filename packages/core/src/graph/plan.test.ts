import { describe, expect, it } from "vitest";
import { PLAN_ALIGNMENT, planBuffers } from "./plan.js";

const overlap = (a: { first: number; last: number }, b: { first: number; last: number }): boolean => a.first <= b.last && b.first <= a.last;

describe("planBuffers", () => {
  it("a chain of same-size buffers reuses two slots: each is dead once the next step has read it", () => {
    const requests = [0, 1, 2, 3, 4, 5].map((i) => ({ bytes: 1000, first: i, last: i + 1 }));
    const plan = planBuffers(requests);
    expect(plan.arenaBytes).toBe(2 * Math.ceil(1000 / PLAN_ALIGNMENT) * PLAN_ALIGNMENT);
    expect(plan.offsets).toEqual([0, 1024, 0, 1024, 0, 1024]);
  });

  it("buffers alive at the same step never share bytes; an output (last Infinity) keeps its own", () => {
    const requests = [
      { bytes: 4096, first: 0, last: 2 },
      { bytes: 100, first: 1, last: 3 },
      { bytes: 2048, first: 2, last: 4 },
      { bytes: 4096, first: 3, last: 5 },
      { bytes: 64, first: 4, last: Infinity },
      { bytes: 640, first: 5, last: 6 },
    ];
    const plan = planBuffers(requests);
    const ends = requests.map((r, i) => plan.offsets[i]! + Math.ceil(r.bytes / PLAN_ALIGNMENT) * PLAN_ALIGNMENT);
    for (let i = 0; i < requests.length; i++) {
      expect(plan.offsets[i]! % PLAN_ALIGNMENT).toBe(0);
      for (let j = i + 1; j < requests.length; j++) {
        if (!overlap(requests[i]!, requests[j]!)) continue;
        expect(ends[i]! <= plan.offsets[j]! || ends[j]! <= plan.offsets[i]!).toBe(true);
      }
    }
    // The most bytes alive at once (step 3: 128 + 2048 + 4096 aligned) is the least any plan needs; greedy reaches it here.
    const peak = Math.max(...[0, 1, 2, 3, 4, 5, 6].map((step) => requests.reduce((sum, r) => sum + (r.first <= step && step <= r.last ? Math.ceil(r.bytes / 64) * 64 : 0), 0)));
    expect(peak).toBe(6272);
    expect(plan.arenaBytes).toBe(peak);
  });
});
