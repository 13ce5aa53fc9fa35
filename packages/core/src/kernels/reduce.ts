import type { NDArray } from "../dtype.js";
import { dtypeOf } from "../dtype.js";
import { create, filled, isPacked } from "../ndarray-utils.js";
import { contiguousStrides, sizeOf } from "../shape.js";
import { forEachRow, planRows } from "./strided-loop.js";

/** Shape of a reduction over `axes` (sorted), keeping them as size 1. */
export function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  const kept = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) kept[i] = axes.includes(i) ? 1 : shape[i]!;
  return kept;
}

export function droppedShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

/** Output strides that stay put along reduced axes, so every input element lands on its output slot. */
function reducingStrides(shape: readonly number[], axes: readonly number[]): number[] {
  const kept = contiguousStrides(keptShape(shape, axes));
  return kept.map((s, i) => (axes.includes(i) ? 0 : s));
}

/**
 * Sum over `axes`; the result has the kept shape (reduced axes of size 1), or `outShape`, a shape of
 * the same size (sumToShape's target, instead of a reshaped view of the result).
 */
export function sumAxes(a: NDArray, axes: readonly number[], outShape?: readonly number[]): NDArray {
  const out = create(dtypeOf(a), outShape ?? keptShape(a.shape, axes));
  if (a.data instanceof Float32Array && isPacked(a) && reducesAllButLast(axes, a.shape)) {
    columnSumsFloat32(a.data, a.shape[a.shape.length - 1]!, out.data as Float32Array);
    return out;
  }
  const plan = planRows(a.shape, [a.stride, reducingStrides(a.shape, axes)]);
  const x = a.data;
  const o = out.data;
  forEachRow(plan, [a.offset, 0], (off, n, st) => {
    let xi = off[0]!;
    let oi = off[1]!;
    const xs = st[0]!;
    const os = st[1]!;
    if (os === 0) {
      let acc = 0;
      for (let k = 0; k < n; k++, xi += xs) acc += x[xi]!;
      o[oi] = o[oi]! + acc;
    } else {
      for (let k = 0; k < n; k++, xi += xs, oi += os) o[oi] = o[oi]! + x[xi]!;
    }
  });
  return out;
}

/**
 * `axes` (sorted) are every axis but the last of `shape`, which has at least two axes and a last one
 * longer than 1 (for a last axis of 1 the general loop sums each column in float64 and rounds once).
 */
function reducesAllButLast(axes: readonly number[], shape: readonly number[]): boolean {
  const rank = shape.length;
  if (rank < 2 || axes.length !== rank - 1 || shape[rank - 1]! < 2) return false;
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return false;
  return true;
}

/**
 * `o[j] += x[r·n + j]` over the rows r of a packed float32 [rows, n] block, in row order, four rows a
 * pass: a bias's gradient (a linear layer's [64, 120]: 25 -> 6 us). Each column's sum rounds to float32
 * after every addition, as the general loop's stores into the Float32Array do, so the bits are the same.
 */
function columnSumsFloat32(x: Float32Array, n: number, o: Float32Array): void {
  const m = x.length / n;
  const f = Math.fround;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const r = i * n;
    for (let j = 0; j < n; j++) o[j] = f(f(f(o[j]! + x[r + j]!) + x[r + n + j]!) + x[r + 2 * n + j]!) + x[r + 3 * n + j]!;
  }
  for (; i < m; i++) for (let j = 0; j < n; j++) o[j] = o[j]! + x[i * n + j]!;
}

/**
 * Max over `axes` with the row-major input index of the first maximum of each output slot
 * (first wins on ties, NaN wins over numbers).
 */
export function maxAxes(a: NDArray, axes: readonly number[]): { values: NDArray; indices: Int32Array } {
  const shape = keptShape(a.shape, axes);
  const values = filled(dtypeOf(a), shape, -Infinity);
  const indices = new Int32Array(sizeOf(shape)).fill(-1);
  const plan = planRows(a.shape, [a.stride, reducingStrides(a.shape, axes)]);
  const x = a.data;
  const o = values.data;
  let linear = 0;
  forEachRow(plan, [a.offset, 0], (off, n, st) => {
    let xi = off[0]!;
    let oi = off[1]!;
    const xs = st[0]!;
    const os = st[1]!;
    for (let k = 0; k < n; k++, xi += xs, oi += os, linear++) {
      const v = x[xi]!;
      if (indices[oi] === -1 || v > o[oi]! || (v !== v && o[oi] === o[oi])) {
        o[oi] = v;
        indices[oi] = linear;
      }
    }
  });
  return { values, indices };
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumToShape(g: NDArray, shape: readonly number[]): NDArray {
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    const target = i < lead ? 1 : shape[i - lead]!;
    if (target === 1 && (g.shape[i] !== 1 || i < lead)) axes.push(i);
  }
  if (axes.length === 0 && lead === 0) return g;
  // The kept shape has the target's size, in the same order: the sums are made in the target's shape.
  return sumAxes(g, axes, shape);
}
