import { Generator, Tensor, type DType } from "@pico/core";
import { expect } from "vitest";

/** A seeded standard-normal tensor. */
export function randomTensor(shape: readonly number[], seed: number, options: { dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
  return Tensor.randn(shape, { dtype: options.dtype ?? "float64", requiresGrad: options.requiresGrad ?? false, generator: new Generator(seed) });
}

export function float64Of(t: Tensor): Float64Array {
  return Float64Array.from(t.toTypedArray());
}

/** Elementwise |actual − expected| <= atol + rtol·|expected|, reporting the first offending index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-10, rtol = 1e-10): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`${what}: element ${i} is ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Formats a shape and options the way test names encode them: `x=[2,3,7,5] w=[4,3,3,2] s=2 p=1 d=1 g=1`. */
export function shapeName(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

export function optionName(value: number | readonly [number, number]): string {
  return typeof value === "number" ? String(value) : `[${value.join(",")}]`;
}
