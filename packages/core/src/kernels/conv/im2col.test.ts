import { Generator } from "../../index.js";
import { describe, expect, it } from "vitest";
import { geometryOf } from "./test-utils/geometry.js";
import { col2im, im2col } from "./im2col.js";

function random(n: number, gen: Generator): Float64Array {
  return Float64Array.from({ length: n }, () => gen.normal());
}

describe("im2col / col2im", () => {
  it("x=[1,1,2,2] k=2 s=1 p=1: each column row holds what one kernel tap sees, zeros in the padding", () => {
    const g = geometryOf([1, 1, 2, 2], [1, 1, 2, 2], { padding: 1 });
    const cols = new Float64Array(4 * 9).fill(Number.NaN);
    im2col(Float64Array.of(1, 2, 3, 4), 0, 1, g, cols);
    expect(Array.from(cols)).toEqual([
      [0, 0, 0, 0, 1, 2, 0, 3, 4],
      [0, 0, 0, 1, 2, 0, 3, 4, 0],
      [0, 1, 2, 0, 3, 4, 0, 0, 0],
      [1, 2, 0, 3, 4, 0, 0, 0, 0],
    ].flat());
  });

  const cases = [
    { x: [1, 2, 7, 5], w: [1, 2, 3, 2], s: 2, p: 1, d: 1 },
    { x: [1, 3, 9, 8], w: [1, 3, 3, 3], s: [2, 3] as [number, number], p: [1, 2] as [number, number], d: [2, 1] as [number, number] },
    { x: [1, 1, 5, 7], w: [1, 1, 5, 5], s: 1, p: 2, d: 1 },
    { x: [1, 2, 4, 4], w: [1, 2, 4, 4], s: 3, p: 2, d: 1 },
  ];
  cases.forEach((c, index) => {
    it(`x=[${c.x.join(",")}] w=[${c.w.join(",")}] s=${String(c.s)} p=${String(c.p)} d=${String(c.d)}: col2im is the adjoint of im2col`, () => {
      const g = geometryOf(c.x, c.w, { stride: c.s, padding: c.p, dilation: c.d });
      const gen = new Generator(index + 1);
      const channels = c.x[1]!;
      const offset = 3;
      const x = random(offset + channels * g.inHeight * g.inWidth, gen);
      const y = random(channels * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth, gen);
      const cols = new Float64Array(y.length);
      im2col(x, offset, channels, g, cols);
      const back = new Float64Array(x.length);
      col2im(y, 0, g.outHeight * g.outWidth, channels, g, back, offset);
      let lhs = 0;
      for (let i = 0; i < y.length; i++) lhs += cols[i]! * y[i]!;
      let rhs = 0;
      for (let i = offset; i < x.length; i++) rhs += x[i]! * back[i]!;
      expect(lhs).toBeCloseTo(rhs, 10);
      expect(Array.from(back.subarray(0, offset))).toEqual([0, 0, 0]);
    });
  });
});
