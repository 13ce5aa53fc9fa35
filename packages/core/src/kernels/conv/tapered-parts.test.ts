import { describe, expect, it } from "vitest";
import { equalParts, keptEqualParts, keptStagedOrder, keptStagedParts, keptTaperedParts, stagedOrder, taperedParts } from "./tapered-parts.js";

const sizes = (ranges: Array<[number, number]> | null): number[] | null => ranges?.map(([i0, i1]) => i1 - i0) ?? null;

describe("taperedParts", () => {
  it("hands out half of what is left per round, largest first from either end of the table, down to a 2·calls-th of the chunks", () => {
    // The reference network's batch of 64 on 2 threads, 8 calls: conv2's chunks of 4 images and conv1's of 1.
    expect(sizes(taperedParts(64, 4, 2, 8))).toEqual([16, 8, 4, 4, 4, 4, 8, 16]);
    expect(sizes(taperedParts(64, 1, 2, 8))).toEqual([16, 8, 4, 4, 4, 4, 8, 16]);
    // 4 threads: the calling thread claims from the front, the three workers from the back.
    expect(sizes(taperedParts(64, 1, 4, 16))).toEqual([8, 4, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8]);
    expect(sizes(taperedParts(40, 1, 2, 8))).toEqual([10, 5, 3, 3, 1, 3, 5, 10]);
  });

  it("stagedOrder puts the workers' first ranges (the last threads - 1) at the front of the table, then the calling thread's", () => {
    expect(stagedOrder(8, 2)).toEqual([7, 0, 1, 2, 3, 4, 5, 6]);
    expect(stagedOrder(16, 4)).toEqual([15, 14, 13, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(stagedOrder(2, 4)).toEqual([1, 0]);
    expect(stagedOrder(1, 2)).toEqual([0]);
  });

  it("on 2 threads, ranges shrink from each end towards the middle, so that the last claimed are the smallest", () => {
    const wrong: string[] = [];
    for (let count = 1; count <= 70; count++) {
      for (const chunk of [1, 3, 4]) {
        const s = sizes(taperedParts(count, chunk, 2, 8));
        if (s === null) continue;
        // Front claims: ranges 0, 1, ... up to the middle; back claims: the last, the one before, ...
        const half = Math.ceil(s.length / 2);
        const fromFront = s.slice(0, half);
        const fromBack = s.slice(half).reverse();
        // Non-increasing, but for a side's last range, which may hold the remainder of an uneven split.
        const shrinks = (a: number[]): boolean => a.every((v, i) => i === 0 || i === a.length - 1 || v <= a[i - 1]!);
        if (!shrinks(fromFront) || !shrinks(fromBack)) wrong.push(`${count} ${chunk}: ${JSON.stringify(s)}`);
      }
    }
    expect(wrong).toEqual([]);
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
    expect(sizes(taperedParts(8, 1, 2, 8))).toEqual([2, 1, 1, 1, 1, 2]);
  });
});

describe("kept splits", () => {
  it("equal the computed ones, are the same frozen arrays at every call, and are computed afresh past the packed key's ranges", () => {
    const cases: Array<[number, number, number, number]> = [[64, 4, 2, 8], [64, 1, 2, 8], [40, 1, 2, 8], [64, 1, 2, 2], [7, 3, 4, 16], [1, 1, 2, 8]];
    for (const [count, chunk, threads, calls] of cases) {
      const tapered = taperedParts(count, chunk, threads, calls);
      expect(keptTaperedParts(count, chunk, threads, calls)).toEqual(tapered);
      expect(keptTaperedParts(count, chunk, threads, calls)).toBe(keptTaperedParts(count, chunk, threads, calls));
      const staged = tapered === null ? null : stagedOrder(tapered.length, threads).map((k) => tapered[k]!);
      expect(keptStagedParts(count, chunk, threads, calls)).toEqual(staged);
      expect(keptEqualParts(count, chunk, calls)).toEqual(equalParts(count, chunk, calls));
      expect(keptEqualParts(count, chunk, calls)).toBe(keptEqualParts(count, chunk, calls));
      expect(keptStagedOrder(calls, threads)).toEqual(stagedOrder(calls, threads));
      const kept = keptEqualParts(count, chunk, calls);
      expect(Object.isFrozen(kept) && kept.every((r) => Object.isFrozen(r))).toBe(true);
    }
    // A chunk past the key's 12 bits: the right split, not a kept one.
    expect(keptEqualParts(10_000, 5_000, 2)).toEqual([[0, 5_000], [5_000, 10_000]]);
    expect(keptEqualParts(10_000, 5_000, 2)).not.toBe(keptEqualParts(10_000, 5_000, 2));
  });

  it("keep a bounded number of splits: after many distinct requests the earlier ones are computed again, with the same values", () => {
    const first = keptEqualParts(64, 4, 8);
    for (let count = 1; count <= 600; count++) keptEqualParts(count, 1, 2);
    const again = keptEqualParts(64, 4, 8);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});
