import ndarray from "ndarray";
import { expect } from "vitest";
import type { DType, FloatArray, NDArray } from "../dtype.js";
import { gradcheck, type GradcheckOptions } from "../gradcheck.js";
import { Generator as Rng } from "../random.js";
import { Tensor } from "../tensor.js";

export type Shape = readonly number[];

export interface InputOptions {
  /** Inputs are drawn uniformly from [low, high). */
  low?: number;
  high?: number;
  /** Draws whose distance to any of these points is below `gap` are redrawn (relu at 0, abs at 0, ...). */
  avoid?: readonly number[];
  gap?: number;
  seed?: number;
  dtype?: DType;
  /** Lay each leaf out non-contiguously: axes reversed in memory, inside a larger buffer at an offset. */
  strided?: boolean;
}

/** Seeded random leaf tensors (float64, requiresGrad) of the given shapes. */
export function inputs(shapes: readonly Shape[], options: InputOptions = {}): Tensor[] {
  const gen = new Rng(options.seed ?? 7);
  const low = options.low ?? -2;
  const high = options.high ?? 2;
  const avoid = options.avoid ?? [];
  const gap = options.gap ?? 0.05;
  return shapes.map((shape) => {
    const t = Tensor.zeros(options.strided ? [...shape].reverse().map((n) => n + 1) : shape, { dtype: options.dtype ?? "float64", requiresGrad: true });
    const d = t.data.data;
    for (let i = 0; i < d.length; i++) {
      let v: number;
      do v = low + (high - low) * gen.random();
      while (avoid.some((p) => Math.abs(v - p) < gap));
      d[i] = v;
    }
    if (!options.strided) return t;
    const r = shape.length;
    const view = t.data.lo(...shape.map(() => 1)).transpose(...shape.map((_, i) => r - 1 - i));
    return new Tensor(view, { requiresGrad: true });
  });
}

/**
 * The tinygrad-style one-liner: gradcheck `fn` on seeded random inputs of `shapes`
 * (also runs forward once in float32 to make sure that path works and agrees).
 */
export function checkGrad(
  shapes: readonly Shape[],
  fn: (...xs: Tensor[]) => Tensor,
  options: InputOptions & GradcheckOptions = {},
): void {
  const xs = inputs(shapes, options);
  expect(gradcheck(fn, xs, options)).toBe(true);
  const out64 = fn(...xs);
  const out32 = fn(...xs.map((x) => x.to("float32")));
  expect(out32.dtype).toBe("float32");
  expect(out32.shape).toEqual(out64.shape);
  expectClose(out32.toTypedArray(), out64.toTypedArray(), 1e-4, 1e-4);
}

/** Elementwise |actual - expected| <= atol + rtol * |expected|, treating equal infinities and NaNs as equal. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Every index of `shape` in row-major order. */
export function* indices(shape: Shape): IterableIterator<number[]> {
  const n = shape.reduce((p, d) => p * d, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let t = 0; t < n; t++) {
    yield [...idx];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** The elements of any strided view in row-major order, read one by one with `get` (a reference, not a kernel). */
export function elements(a: NDArray): number[] {
  const out: number[] = [];
  for (const idx of indices(a.shape)) out.push(a.get(...idx));
  return out;
}

/** NumPy broadcasting of a row-major index of `target` into an index of `shape`. */
export function broadcastIndex(idx: readonly number[], shape: Shape, target: Shape): number[] {
  const shift = target.length - shape.length;
  return shape.map((d, i) => (d === 1 ? 0 : idx[i + shift]!));
}

export type Layout = "packed" | "permuted" | "offset" | "stepped" | "reversed" | "broadcast";
export const LAYOUTS: readonly Layout[] = ["packed", "permuted", "offset", "stepped", "reversed", "broadcast"];

/**
 * A view of `shape` whose elements are random, laid out in memory as `layout` says:
 * an axis permutation, an offset slice of a larger buffer, a step of 2, reversed axes,
 * or stride 0 along the first axis (a broadcast view).
 */
export function randomView(gen: Rng, shape: Shape, layout: Layout, dtype: DType = "float64"): NDArray {
  const alloc = (n: number): FloatArray => {
    const d = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = Math.round((gen.random() * 8 - 4) * 64) / 64;
    return d;
  };
  const size = shape.reduce((p, d) => p * d, 1);
  const r = shape.length;
  switch (layout) {
    case "packed":
      return ndarray(alloc(size), [...shape]);
    case "permuted": {
      const perm = Array.from({ length: r }, (_, i) => i);
      gen.shuffle(perm);
      const inverse = new Array<number>(r);
      perm.forEach((p, i) => (inverse[p] = i));
      const base = ndarray(alloc(size), perm.map((p) => shape[p]!));
      return base.transpose(...inverse);
    }
    case "offset": {
      const big = shape.map((d) => d + 2);
      const base = ndarray(alloc(big.reduce((p, d) => p * d, 1)), big);
      return base.hi(...shape.map((d) => d + 1)).lo(...shape.map(() => 1));
    }
    case "stepped": {
      const big = shape.map((d) => 2 * d);
      const base = ndarray(alloc(big.reduce((p, d) => p * d, 1)), big);
      return base.step(...shape.map(() => 2));
    }
    case "reversed": {
      const base = ndarray(alloc(size), [...shape]);
      return base.step(...shape.map((_, i) => (i % 2 === 0 ? -1 : 1)));
    }
    case "broadcast": {
      // The first axis is read with stride 0: every slice along it shows the same numbers.
      if (r === 0) return ndarray(alloc(1), []);
      const rest = shape.slice(1);
      const base = ndarray(alloc(rest.reduce((p, d) => p * d, 1)), [...rest]);
      return ndarray(base.data, [...shape], [0, ...base.stride], 0);
    }
  }
}

/** A random shape of rank `rank` with sizes in 1..maxDim. */
export function randomShape(gen: Rng, rank: number, maxDim = 5): number[] {
  return Array.from({ length: rank }, () => 1 + gen.randint(maxDim));
}
