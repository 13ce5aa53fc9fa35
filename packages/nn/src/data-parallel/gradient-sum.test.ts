import { describe, expect, it } from "vitest";
import { sumInto } from "./gradient-sum.js";

function random(n: number, seed: number, Type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array): Float32Array | Float64Array {
  let s = seed;
  const out = new Type(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31 - 0.5) * 10 ** ((s % 7) - 3);
  }
  return out;
}

describe("sumInto (a replica's slice of the shards' gradient sum)", () => {
  it("adds the sources in order with one float32 rounding per addition, then to the target when accumulating, over any slice", () => {
    const n = 23;
    for (const count of [1, 2, 3]) {
      for (const accumulate of [false, true]) {
        const sources = Array.from({ length: count }, (_, s) => random(n, 10 + s)) as Float32Array[];
        const start = random(n, 99) as Float32Array;
        const expected = Float32Array.from(start);
        for (let k = 0; k < n; k++) {
          let sum = sources[0]![k]!;
          for (let s = 1; s < count; s++) sum = Math.fround(sum + sources[s]![k]!);
          expected[k] = accumulate ? Math.fround(start[k]! + sum) : sum;
        }
        const target = Float32Array.from(start);
        // Three slices that together cover the parameter, of lengths that are not multiples of four.
        for (const [from, to] of [[0, 5], [5, 18], [18, 23]] as const) sumInto(target, sources, accumulate, from, to);
        expect(target).toEqual(expected);
        // The first `count` of a longer list (sumSlices reuses one list): the entries after them are not read.
        const reused = Float32Array.from(start);
        sumInto(reused, [...sources, random(n, 77) as Float32Array, random(n, 78) as Float32Array], accumulate, 0, n, count);
        expect(reused).toEqual(expected);
      }
    }
  });

  it("leaves the elements outside the slice alone, and sums float64 without rounding to float32", () => {
    const a = random(9, 1, Float64Array);
    const b = random(9, 2, Float64Array);
    const target = new Float64Array(9).fill(-1);
    sumInto(target, [a, b], false, 2, 7);
    expect(Array.from(target)).toEqual(Array.from(target, (_, k) => (k >= 2 && k < 7 ? a[k]! + b[k]! : -1)));
    expect(target.some((v, k) => k >= 2 && k < 7 && v !== Math.fround(v))).toBe(true);
  });
});
