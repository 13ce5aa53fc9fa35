import { Generator } from "@pico/core";
import { describe, expect, it } from "vitest";
import { adaptiveAvgPool2dBackward, adaptiveAvgPool2dForward, globalMean } from "./adaptive-pool2d.js";

// The float32 global mean (output 1×1) has flat loops of its own (eight partial sums); the general window
// loops run on float64 with the same values in scan order, and must give the same numbers once rounded to
// float32: bit for bit where the float64 sums are exact, within an ulp where they are not.

function values(n: number, seed: number): Float32Array {
  const gen = new Generator(seed);
  const a = Float32Array.from({ length: n }, () => gen.normal() * 3);
  a[4] = -0;
  a[5] = Infinity;
  a[7] = Number.NaN;
  a[45] = Number.NaN;
  return a;
}

describe("global mean (adaptive average pooling to 1×1), float32 fast path against the general loops", () => {
  const g = { planes: 6, inHeight: 5, inWidth: 7, outHeight: 1, outWidth: 1 };
  const size = 5 * 7;

  it("x=[2,3,5,7] forward at an offset, NaN and infinity included", () => {
    expect(globalMean(g)).toBe(true);
    const x = values(g.planes * size + 4, 1);
    const out = new Float32Array(g.planes);
    adaptiveAvgPool2dForward({ data: x, offset: 4 }, g, out);
    const ref = new Float64Array(g.planes);
    adaptiveAvgPool2dForward({ data: Float64Array.from(x), offset: 4 }, g, ref);
    expect(new Int32Array(out.buffer)).toEqual(new Int32Array(Float32Array.from(ref).buffer));
  });

  it("x=[2,3,5,7] backward writes every element (gx not zero-filled); a −0 gradient lands as +0", () => {
    const gy = values(g.planes + 3, 2);
    const gx = new Float32Array(g.planes * size).fill(123);
    adaptiveAvgPool2dBackward({ data: gy, offset: 3 }, g, gx);
    const ref = new Float64Array(g.planes * size);
    adaptiveAvgPool2dBackward({ data: Float64Array.from(gy), offset: 3 }, g, ref);
    expect(new Int32Array(gx.buffer)).toEqual(new Int32Array(Float32Array.from(ref).buffer));
  });

  it("other output sizes are not global means", () => {
    expect(globalMean({ ...g, outHeight: 2 })).toBe(false);
  });

  it("x=[4,16,8,8] (the CIFAR head's planes, 64 elements): bit for bit; values spanning 1e-30 to 1e30 (inexact float64 sums): within an ulp", () => {
    const h = { planes: 64, inHeight: 8, inWidth: 8, outHeight: 1, outWidth: 1 };
    const gen = new Generator(3);
    const normal = Float32Array.from({ length: 64 * 64 }, () => gen.normal());
    const wide = Float32Array.from({ length: 64 * 64 }, () => gen.normal() * 10 ** Math.round(gen.normal() * 30));
    for (const [x, ulps] of [[normal, 0], [wide, 1]] as const) {
      const out = new Float32Array(h.planes);
      adaptiveAvgPool2dForward({ data: x, offset: 0 }, h, out);
      const ref = new Float64Array(h.planes);
      adaptiveAvgPool2dForward({ data: Float64Array.from(x), offset: 0 }, h, ref);
      const want = Float32Array.from(ref);
      for (let p = 0; p < h.planes; p++) {
        const apart = Math.abs(new Int32Array(out.buffer)[p]! - new Int32Array(want.buffer)[p]!);
        if (apart > ulps) expect.fail(`plane ${p}: ${out[p]} vs ${want[p]} (${apart} ulps apart)`);
      }
    }
  });
});
