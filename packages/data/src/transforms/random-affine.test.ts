import { ArgumentError, Generator, ShapeError, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { randomAffine, warpAffine } from "./random-affine.js";
import { applyTransform } from "./transform.js";

/** A [c, h, w] image with value 1 + ch * 100 + y * w + x everywhere. */
function ramp(c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = 1 + ch * 100 + y * w + x;
  return out;
}

const warp = (src: Float32Array, c: number, h: number, w: number, p: Partial<{ angle: number; translateX: number; translateY: number; scale: number }>, nearest = false): Float32Array => {
  const out = new Float32Array(src.length);
  warpAffine(src, out, 0, c, h, w, { angle: 0, translateX: 0, translateY: 0, scale: 1, ...p }, nearest, 0);
  return out;
};

describe("warpAffine", () => {
  it("is the identity with no rotation, shift or scaling (odd sizes, 2 channels)", () => {
    const src = ramp(2, 5, 7);
    expect(Array.from(warp(src, 2, 5, 7, {}))).toEqual(Array.from(src));
    expect(Array.from(warp(src, 2, 5, 7, {}, true))).toEqual(Array.from(src));
  });

  it("shifts by whole pixels with zero fill", () => {
    const src = ramp(1, 3, 4);
    const out = warp(src, 1, 3, 4, { translateX: 1, translateY: -1 });
    // Output (y, x) takes input (y + 1, x - 1).
    expect(Array.from(out)).toEqual([0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0]);
  });

  it("rotates by 90 degrees about the centre, matching a hand-made transpose-and-flip", () => {
    const src = ramp(1, 3, 3);
    const out = warp(src, 1, 3, 3, { angle: 90 }, true);
    // A quarter turn counter-clockwise as displayed: the right column becomes the top row.
    expect(Array.from(out)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    const bilinear = warp(src, 1, 3, 3, { angle: 90 });
    bilinear.forEach((v, i) => expect(v).toBeCloseTo(out[i]!, 4));
  });

  it("interpolates bilinearly between pixels when scaling", () => {
    const src = Float32Array.from([0, 10]);
    // Scale 2 about the centre x = 0.5: output x reads input 0.5 + (x - 0.5) / 2, i.e. 0.25 and 0.75.
    expect(Array.from(warp(src, 1, 1, 2, { scale: 2 }))).toEqual([2.5, 7.5]);
  });
});

describe("randomAffine", () => {
  it("is repeatable for a seeded generator and differs between samples", () => {
    const run = (): number[][] => {
      const t = randomAffine({ degrees: 15, translate: [0.1, 0.1], scale: [0.9, 1.1], generator: new Generator(7) });
      const data = new Float32Array(2 * 28 * 28);
      const one = ramp(1, 28, 28);
      data.set(one, 0);
      data.set(one, 784);
      t(data, 0, [1, 28, 28]);
      t(data, 784, [1, 28, 28]);
      return [Array.from(data.subarray(0, 784)), Array.from(data.subarray(784))];
    };
    const [a, b] = run();
    const [a2, b2] = run();
    expect(a).toEqual(a2);
    expect(b).toEqual(b2);
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(Array.from(ramp(1, 28, 28)));
  });

  it("keeps every channel aligned and draws integer shifts within the limit", () => {
    const generator = new Generator(1);
    const t = randomAffine({ translate: [0.2, 0.2], generator, interpolation: "nearest" });
    for (let trial = 0; trial < 20; trial++) {
      const x = tensor(ramp(3, 5, 5), { shape: [3, 5, 5] });
      const y = applyTransform(t, x).toTypedArray();
      // Channel ch is channel 0 plus 100 * ch wherever channel 0 is inside the image.
      for (let p = 0; p < 25; p++) {
        if (y[p] === 0) expect(y[25 + p]).toBe(0);
        else expect(y[25 + p]).toBe(y[p]! + 100);
      }
      // A pure shift of at most one pixel keeps at least a 4x4 block of the original values.
      const kept = Array.from(y.subarray(0, 25)).filter((v) => v !== 0).length;
      expect(kept).toBeGreaterThanOrEqual(16);
    }
  });

  it("refuses bad options and samples that are not [C, H, W]", () => {
    expect(() => randomAffine({ degrees: [10, 5] })).toThrow(ArgumentError);
    expect(() => randomAffine({ translate: [1.5, 0] })).toThrow(/translate fractions must lie in \[0, 1\], but got \[1.5, 0\]/);
    expect(() => randomAffine({ scale: [0, 1] })).toThrow(/scale must be a pair 0 < min <= max/);
    expect(() => randomAffine()(new Float32Array(4), 0, [4])).toThrow(ShapeError);
  });
});
