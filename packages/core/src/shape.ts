import { ArgumentError, ShapeError, formatShape } from "./errors.js";

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length; i++) size *= shape[i]!;
  return size;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting: align trailing dimensions; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const out = tryBroadcastShapes(a, b);
  if (out !== null) return out;
  const n = Math.max(a.length, b.length);
  let i = 0;
  while (i < n && broadcastPair(a[a.length - n + i] ?? 1, b[b.length - n + i] ?? 1) !== -1) i++;
  throw new ShapeError(
    `${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together ` +
      `(dimension ${i} of the result: ${a[a.length - n + i] ?? 1} vs ${b[b.length - n + i] ?? 1}; sizes must match or one must be 1)`,
  );
}

/** The broadcast shape of `a` and `b`, or null when they do not broadcast. */
export function tryBroadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const d = broadcastPair(a[a.length - n + i] ?? 1, b[b.length - n + i] ?? 1);
    if (d === -1) return null;
    out[i] = d;
  }
  return out;
}

function broadcastPair(da: number, db: number): number {
  if (da === db || db === 1) return da;
  return da === 1 ? db : -1;
}

/**
 * Resolves a possibly negative axis against `ndim`, with an error naming the operator.
 * As in PyTorch, a 0-d tensor accepts -1 and 0 (both mean 0).
 */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(axis) || axis < -n || axis >= n) {
    throw new ArgumentError(`${op}: axis must be an integer in [${-n}, ${n - 1}], but got ${axis}`);
  }
  return axis < 0 ? axis + n : axis;
}

/** Sorted, unique, non-negative axes; `undefined` means every axis. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out = [...new Set(list.map((a) => normalizeAxis(op, a, ndim)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new ArgumentError(`${op}: axes must not repeat, but got [${list.join(", ")}]`);
  return out;
}

export function checkShapeArgument(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape must be an array of non-negative integers, but got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ArgumentError(`${op}: shape must hold non-negative integers, but got ${formatShape(shape)}`);
    }
  }
}

/**
 * Strides that show the elements of a view of `shape`/`stride` in row-major order at `target`, without
 * copying, or null when no strides can (PyTorch's computeStride: each run of axes merged in memory must
 * split into whole target axes).
 */
export function viewStrides(shape: readonly number[], stride: readonly number[], target: readonly number[]): number[] | null {
  if (shape.length === 0) return target.map(() => 1);
  if (sizeOf(shape) === 0) return contiguousStrides(target);
  const out = new Array<number>(target.length).fill(0);
  let viewD = target.length - 1;
  let chunkBase = stride[stride.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d]!;
    if (d === 0 || (shape[d - 1] !== 1 && stride[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= target[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = stride[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}
