import { Generator, Tensor, type DType } from "@pico/core";
import { expect } from "vitest";

/** A seeded standard-normal tensor, float64 by default (what gradcheck wants). */
export function randn(shape: readonly number[], seed: number, options: { dtype?: DType; requiresGrad?: boolean; scale?: number } = {}): Tensor {
  const t = Tensor.randn(shape, { dtype: options.dtype ?? "float64", generator: new Generator(seed) });
  const scaled = options.scale === undefined ? t : t.mul(options.scale);
  scaled.requiresGrad = options.requiresGrad ?? false;
  return scaled;
}

/** Class indices drawn uniformly from [0, c), as a float32 tensor of `shape`. */
export function classIndices(shape: readonly number[], c: number, seed: number): Tensor {
  const gen = new Generator(seed);
  const t = Tensor.zeros(shape);
  const d = t.data.data;
  for (let i = 0; i < d.length; i++) d[i] = gen.randint(c);
  return t;
}

/** The elements of `t` as plain numbers, row-major. */
export function values(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

/** Elementwise |actual − expected| <= atol + rtol·|expected|, reporting the first offending index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-12, rtol = 1e-10): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) expect.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}
