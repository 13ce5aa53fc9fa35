import type { FloatArray, NDArray } from "../dtype.js";
import { dtypeOf, promote } from "../dtype.js";
import { empty } from "../ndarray-utils.js";
import { broadcastShapes, contiguousStrides } from "../shape.js";
import { broadcastStrides, forEachRow, planRows } from "./strided-loop.js";

// The gradient rules PyTorch 1.13 uses where a maximum, a minimum or a clamp picks between values.

export type SelectRule =
  /** maximum's weight for a against b: 1 where a wins, 0.5 at a tie, 0 where b wins, 1 where either is NaN. */
  | "maximumWeight"
  /** minimum's weight for a against b, the same with the order reversed. */
  | "minimumWeight"
  /** 1 where a equals b, or both are NaN (max/min over every element share the gradient among these). */
  | "sameOrBothNaN";

/** rule(a, b) elementwise with NumPy broadcasting; 1 or 0 (or 0.5) in the promoted dtype. */
export function selectWeights(rule: SelectRule, a: NDArray, b: NDArray, name: string): NDArray {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const out = empty(promote(dtypeOf(a), dtypeOf(b)), shape);
  const plan = planRows(shape, [broadcastStrides(a.shape, a.stride, shape), broadcastStrides(b.shape, b.stride, shape), contiguousStrides(shape)]);
  const x = a.data;
  const y = b.data;
  const o = out.data;
  forEachRow(plan, [a.offset, b.offset, 0], (off, n, st) => weightRow(rule, x, off[0]!, st[0]!, y, off[1]!, st[1]!, o, off[2]!, n));
  return out;
}

function weightRow(rule: SelectRule, x: FloatArray, xi: number, xs: number, y: FloatArray, yi: number, ys: number, o: FloatArray, oi: number, n: number): void {
  switch (rule) {
    case "maximumWeight":
      // torch: where(a == b, g / 2, g).masked_fill(a < b, 0), so a NaN on either side passes g to both.
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi] === y[yi] ? 0.5 : x[xi]! < y[yi]! ? 0 : 1;
      return;
    case "minimumWeight":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) o[oi + k] = x[xi] === y[yi] ? 0.5 : x[xi]! > y[yi]! ? 0 : 1;
      return;
    case "sameOrBothNaN":
      for (let k = 0; k < n; k++, xi += xs, yi += ys) {
        const v = x[xi]!;
        const w = y[yi]!;
        o[oi + k] = v === w || (v !== v && w !== w) ? 1 : 0;
      }
      return;
  }
}

/** min(max(a, low), high) elementwise, NaN staying NaN (either bound may be infinite; low > high gives high, as torch). */
export function clampValues(a: NDArray, low: number, high: number): NDArray {
  return clampRows(a, low, high, false);
}

/** 1 where low <= a <= high (bounds included), else 0 (NaN included): clamp's gradient mask, as PyTorch's. */
export function clampMask(a: NDArray, low: number, high: number): NDArray {
  return clampRows(a, low, high, true);
}

function clampRows(a: NDArray, low: number, high: number, mask: boolean): NDArray {
  const out = empty(dtypeOf(a), a.shape);
  const plan = planRows(a.shape, [a.stride, contiguousStrides(a.shape)]);
  const x = a.data;
  const o = out.data;
  forEachRow(plan, [a.offset, 0], (off, n, st) => {
    let xi = off[0]!;
    const xs = st[0]!;
    const oi = off[1]!;
    if (mask) {
      for (let k = 0; k < n; k++, xi += xs) o[oi + k] = x[xi]! >= low && x[xi]! <= high ? 1 : 0;
    } else {
      for (let k = 0; k < n; k++, xi += xs) {
        const v = x[xi]!;
        const up = v < low ? low : v;
        o[oi + k] = up > high ? high : up;
      }
    }
  });
  return out;
}
