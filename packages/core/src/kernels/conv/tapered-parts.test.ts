import { describe, expect, it } from "vitest";
import { taperedParts } from "./tapered-parts.js";

const sizes = (ranges: Array<[number, number]> | null): number[] | null => ranges?.map(([i0, i1]) => i1 - i0) ?? null;

describe("taperedParts", () => {
  it("hands out half of what is left per round, largest first, down to a 2·calls-th of the chunks", () => {
    // The reference network's batch of 64 on 2 threads, 8 calls: conv2's chunks of 4 images and conv1's of 1.
    expect(sizes(taperedParts(64, 4, 2, 8))).toEqual([16, 16, 8, 8, 4, 4, 4, 4]);
    expect(sizes(taperedParts(64, 1, 2, 8))).toEqual([16, 16, 8, 8, 4, 4, 4, 4]);
    expect(sizes(taperedParts(64, 1, 4, 16))).toEqual([8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(sizes(taperedParts(40, 1, 2, 8))).toEqual([10, 10, 5, 5, 3, 3, 3, 1]);
  });

  it("covers [0, count) in order with whole chunks (the last one short), never more than `calls` ranges", () => {
    const wrong: string[] = [];
    for (let count = 1; count <= 70; count++) {
      for (const chunk of [1, 3, 4, 7]) {
        for (const threads of [2, 3, 4]) {
          for (const calls of [1, 2, threads * 4, 64]) {
            const ranges = taperedParts(count, chunk, threads, calls);
            if (ranges === null) continue;
            let at = 0;
            const ok = ranges.length <= calls && ranges.every(([i0, i1]) => {
              const fine = i0 === at && i1 > i0 && (i1 === count || (i1 - i0) % chunk === 0);
              at = i1;
              return fine;
            });
            if (!ok || at !== count) wrong.push(`${count} ${chunk} ${threads} ${calls}: ${JSON.stringify(ranges)}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("is null where tapering would take more ranges than calls", () => {
    expect(taperedParts(64, 1, 2, 2)).toBeNull();
    expect(sizes(taperedParts(8, 1, 2, 8))).toEqual([2, 2, 1, 1, 1, 1]);
  });
});
