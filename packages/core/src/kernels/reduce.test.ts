import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { Generator } from "../random.js";
import { LAYOUTS, expectClose, indices, randomShape, randomView } from "../test-utils/index.js";
import { maxAxes, sumAxes, sumToShape } from "./reduce.js";

function randomAxes(gen: Generator, rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter(() => gen.random() < 0.5);
}

/** Per-element reference: the reduced value at each kept-shape position, and the row-major index of the first max. */
function reference(a: ndarray.NdArray, axes: number[]): { sum: number[]; max: number[]; argmax: number[] } {
  const kept = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const size = kept.reduce((p, d) => p * d, 1);
  const sum = new Array<number>(size).fill(0);
  const max = new Array<number>(size).fill(-Infinity);
  const argmax = new Array<number>(size).fill(-1);
  let linear = 0;
  for (const idx of indices(a.shape)) {
    const o = idx.reduce((acc, i, d) => acc * kept[d]! + (axes.includes(d) ? 0 : i), 0);
    const v = a.get(...idx) as number;
    sum[o]! += v;
    if (argmax[o] === -1 || v > max[o]!) {
      max[o] = v;
      argmax[o] = linear;
    }
    linear++;
  }
  return { sum, max, argmax };
}

describe("reduce kernels against a per-element reference", () => {
  it("sumAxes and maxAxes on random shapes, axes and layouts", () => {
    const gen = new Generator(41);
    for (const layout of LAYOUTS) {
      for (let trial = 0; trial < 30; trial++) {
        const a = randomView(gen, randomShape(gen, gen.randint(5)), layout);
        const axes = randomAxes(gen, a.shape.length);
        const ref = reference(a, axes);
        const kept = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const s = sumAxes(a, axes);
        expect(s.shape).toEqual(kept);
        expectClose(Array.from(s.data), ref.sum, 1e-12, 1e-12);
        const m = maxAxes(a, axes);
        expect(m.values.shape).toEqual(kept);
        expect(Array.from(m.values.data)).toEqual(ref.max);
        expect(Array.from(m.indices)).toEqual(ref.argmax);
      }
    }
  });

  it("maxAxes: ties go to the first, NaN wins, and -Infinity is a real value", () => {
    const a = ndarray(new Float64Array([1, 3, 3, -Infinity, -Infinity, -Infinity, 2, NaN, 5]), [3, 3]);
    const { values, indices: idx } = maxAxes(a, [1]);
    expect(Array.from(values.data)).toEqual([3, -Infinity, NaN]);
    expect(Array.from(idx)).toEqual([1, 3, 7]);
  });

  it("sumAxes keeps the input's dtype and leaves the input untouched", () => {
    const gen = new Generator(42);
    const a = randomView(gen, [3, 5], "offset", "float32");
    const before = Array.from(a.data);
    expect(sumAxes(a, [0]).data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data)).toEqual(before);
  });

  it("sumAxes over every axis but the last of a packed float32 array (the column-sum loop) has the bits of a row-by-row float32 sum", () => {
    const gen = new Generator(44);
    for (const shape of [[1, 7], [2, 5], [4, 33], [7, 3], [9, 120], [2, 3, 4], [3, 1, 5, 2]]) {
      const n = shape[shape.length - 1]!;
      const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
      // Magnitudes spread over 2^-8..2^8, so that float64 and float32 accumulation would differ.
      const x = Float32Array.from({ length: rows * n }, () => gen.normal() * 2 ** (gen.randint(17) - 8));
      const axes = shape.slice(0, -1).map((_, i) => i);
      const out = sumAxes(ndarray(x, shape), axes);
      const expected = new Float32Array(n);
      for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) expected[j] = Math.fround(expected[j]! + x[r * n + j]!);
      expect(out.shape).toEqual([...shape.slice(0, -1).map(() => 1), n]);
      expect(Array.from(out.data)).toEqual(Array.from(expected));
      // The general loop on the same values behind an offset (not packed) gives the same bits.
      const shifted = new Float32Array(x.length + 3);
      shifted.set(x, 3);
      expect(Array.from(sumAxes(ndarray(shifted, shape, undefined, 3), axes).data)).toEqual(Array.from(expected));
    }
  });

  it("sumToShape undoes broadcasting", () => {
    const gen = new Generator(43);
    const cases: [number[], number[]][] = [
      [[3, 4], [3, 4]],
      [[3, 4], [4]],
      [[3, 4], [3, 1]],
      [[2, 3, 4], [1, 4]],
      [[2, 3, 4], []],
      [[2, 1, 4], [1, 1]],
    ];
    for (const [from, to] of cases) {
      for (const layout of LAYOUTS) {
        const g = randomView(gen, from, layout);
        const out = sumToShape(g, to);
        expect(out.shape).toEqual(to);
        // Reference: add each element of g into the slot it was broadcast from.
        const ref = new Array<number>(to.reduce((p, d) => p * d, 1)).fill(0);
        const shift = from.length - to.length;
        for (const idx of indices(from)) {
          const o = to.reduce((acc, d, i) => acc * d + (d === 1 ? 0 : idx[i + shift]!), 0);
          ref[o]! += g.get(...idx);
        }
        const got: number[] = [];
        for (const idx of indices(to)) got.push(out.get(...idx));
        expectClose(got, ref, 1e-12, 1e-12);
      }
    }
  });
});
