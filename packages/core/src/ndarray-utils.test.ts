import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { copy, create, filled, isContiguous, isPacked, packed, reshapeView, scalarArray } from "./ndarray-utils.js";
import { Generator } from "./random.js";
import { LAYOUTS, elements, randomShape, randomView } from "./test-utils/index.js";

describe("ndarray utilities", () => {
  it("copy and packed give row-major buffers with the same elements, on every layout", () => {
    const gen = new Generator(51);
    for (const layout of LAYOUTS) {
      for (let rank = 0; rank <= 4; rank++) {
        const a = randomView(gen, randomShape(gen, rank), layout);
        const c = copy(a);
        expect(isPacked(c)).toBe(true);
        expect(c.data).not.toBe(a.data);
        expect(Array.from(c.data)).toEqual(elements(a));
        const p = packed(a);
        expect(isPacked(p)).toBe(true);
        expect(Array.from(p.data)).toEqual(elements(a));
        expect(Array.from(copy(a, "float32").data)).toEqual(elements(a).map(Math.fround));
      }
    }
  });

  it("packed returns the array itself only when it already is packed", () => {
    const a = ndarray(new Float32Array(6), [2, 3]);
    expect(packed(a)).toBe(a);
    expect(packed(a.transpose(1, 0))).not.toBe(a);
    expect(isPacked(a.hi(1, 3))).toBe(false);
  });

  it("isContiguous ignores the strides of size-1 axes and allows an offset", () => {
    const base = ndarray(new Float32Array(24), [2, 3, 4]);
    expect(isContiguous(base)).toBe(true);
    expect(isContiguous(base.lo(1, 0, 0))).toBe(true);
    expect(isContiguous(base.hi(1, 3, 4).lo(0, 1, 0).hi(1, 1, 4))).toBe(true);
    expect(isContiguous(base.transpose(0, 2, 1))).toBe(false);
    expect(isContiguous(base.hi(2, 3, 2))).toBe(false);
  });

  it("reshapeView is a view when contiguous and a copy otherwise, always with the right elements", () => {
    const gen = new Generator(52);
    for (const layout of LAYOUTS) {
      const a = randomView(gen, [2, 3, 4], layout);
      const r = reshapeView(a, [4, 6]);
      expect(r.shape).toEqual([4, 6]);
      expect(elements(r)).toEqual(elements(a));
      expect(r.data === a.data).toBe(isContiguous(a));
    }
  });

  it("create, filled and scalarArray", () => {
    expect(create("float64", [2, 3]).data).toBeInstanceOf(Float64Array);
    expect(Array.from(filled("float32", [2], 3).data)).toEqual([3, 3]);
    const s = scalarArray("float32", 1.5);
    expect(s.shape).toEqual([]);
    expect(s.get()).toBe(1.5);
  });
});
