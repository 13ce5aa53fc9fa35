import { describe, expect, it } from "vitest";
import { syntheticImages } from "./synthetic-images.js";

describe("syntheticImages", () => {
  const shape = [3, 4, 4];

  it("is the same for the same seeds, with labels in range and unit variance", () => {
    const a = syntheticImages({ count: 400, shape, classes: 10, seed: 1, drawSeed: 2 });
    const b = syntheticImages({ count: 400, shape, classes: 10, seed: 1, drawSeed: 2 });
    expect(a.images).toEqual(b.images);
    expect(a.labels).toEqual(b.labels);
    expect(a.images).toHaveLength(400 * 48);
    expect(new Set(a.labels).size).toBe(10);
    for (const l of a.labels) expect(l >= 0 && l < 10).toBe(true);
    const mean = a.images.reduce((s, v) => s + v, 0) / a.images.length;
    const variance = a.images.reduce((s, v) => s + (v - mean) ** 2, 0) / a.images.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(variance).toBeGreaterThan(0.8);
    expect(variance).toBeLessThan(1.2);
  });

  it("gives images of one class a shared template, so the classes can be learnt", () => {
    const size = 3 * 16 * 16;
    const { images, labels } = syntheticImages({ count: 200, shape: [3, 16, 16], classes: 2, seed: 7, drawSeed: 8 });
    const correlation = (i: number, j: number): number => {
      let dot = 0;
      for (let k = 0; k < size; k++) dot += images[i * size + k]! * images[j * size + k]!;
      return dot / size;
    };
    const same: number[] = [];
    const other: number[] = [];
    for (let i = 1; i < 200; i++) (labels[i] === labels[0] ? same : other).push(correlation(0, i));
    const avg = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
    // Same class: 0.36 · |template|² / size ≈ 0.36 on average; another class: about 0.
    expect(avg(same)).toBeGreaterThan(0.25);
    expect(Math.abs(avg(other))).toBeLessThan(0.1);
  });

  it("refuses a count below 1", () => {
    expect(() => syntheticImages({ count: 0, shape, classes: 2, seed: 0, drawSeed: 0 })).toThrow(/count must be an integer >= 1, but got 0/);
  });
});
