import { describe, expect, it } from "vitest";
import { Generator } from "../random.js";
import { indices, randomShape } from "../test-utils/index.js";
import { broadcastStrides, forEachRow, planRows } from "./strided-loop.js";

/** The offsets every operand visits, element by element, as forEachRow walks them. */
function walk(shape: number[], strides: number[][], starts: number[]): number[][] {
  const seen: number[][] = strides.map(() => []);
  forEachRow(planRows(shape, strides), starts, (off, n, st) => {
    for (let k = 0; k < n; k++) strides.forEach((_, j) => seen[j]!.push(off[j]! + k * st[j]!));
  });
  return seen;
}

/** The same offsets computed directly from each row-major index. */
function reference(shape: number[], strides: number[][], starts: number[]): number[][] {
  const seen: number[][] = strides.map(() => []);
  for (const idx of indices(shape)) {
    strides.forEach((s, j) => seen[j]!.push(idx.reduce((o, i, d) => o + i * s[d]!, starts[j]!)));
  }
  return seen;
}

function randomStrides(gen: Generator, shape: number[]): number[] {
  const kind = gen.randint(4);
  if (kind === 0) {
    // row-major contiguous
    const s = new Array<number>(shape.length);
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      s[d] = acc;
      acc *= shape[d]!;
    }
    return s;
  }
  if (kind === 1) {
    // a permuted contiguous layout
    const order = shape.map((_, i) => i);
    gen.shuffle(order);
    const s = new Array<number>(shape.length);
    let acc = 1;
    for (const d of order) {
      s[d] = acc;
      acc *= shape[d]!;
    }
    return s;
  }
  // anything: zero (broadcast), negative, gaps
  return shape.map(() => gen.randint(13) - 4);
}

describe("strided loop", () => {
  it("visits every element of several operands in row-major order, on random shapes and strides", () => {
    const gen = new Generator(31);
    for (let trial = 0; trial < 400; trial++) {
      const shape = randomShape(gen, gen.randint(6), 4);
      const operands = 1 + gen.randint(3);
      const strides = Array.from({ length: operands }, () => randomStrides(gen, shape));
      const starts = strides.map(() => gen.randint(50));
      expect(walk(shape, strides, starts)).toEqual(reference(shape, strides, starts));
    }
  });

  it("merges dimensions that every operand lays out contiguously", () => {
    expect(planRows([2, 3, 4], [[12, 4, 1], [12, 4, 1]]).shape).toEqual([24]);
    expect(planRows([2, 3, 4], [[12, 4, 1], [0, 4, 1]]).shape).toEqual([2, 12]);
    expect(planRows([2, 3, 4], [[12, 4, 1], [1, 8, 2]]).shape).toEqual([2, 12]);
    expect(planRows([2, 3, 4], [[12, 4, 1], [1, 2, 8]]).shape).toEqual([2, 3, 4]);
    expect(planRows([2, 1, 4], [[4, 99, 1]]).shape).toEqual([8]);
    expect(planRows([], [[]]).shape).toEqual([1]);
  });

  it("a zero-size shape visits nothing", () => {
    let rows = 0;
    forEachRow(planRows([3, 0, 2], [[0, 2, 1]]), [0], () => rows++);
    expect(rows).toBe(0);
  });

  it("a 0-d shape visits its one element", () => {
    expect(walk([], [[], []], [5, 7])).toEqual([[5], [7]]);
  });

  it("broadcastStrides puts 0 on broadcast and missing axes", () => {
    expect(broadcastStrides([3, 1], [1, 3], [2, 3, 5])).toEqual([0, 1, 0]);
    expect(broadcastStrides([], [], [2])).toEqual([0]);
  });
});
