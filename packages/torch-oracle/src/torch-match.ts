import { Tensor } from "@pico/core";
import { recordArray } from "./stats.js";
import { TorchTensor } from "./wire.js";
import { expect } from "vitest";

/** Tolerances of the differential tests: float64 to 1e-10, float32 to 1e-5 (relative, as compareWithTorch). */
export const RTOL = { float64: 1e-10, float32: 1e-5 } as const;

/**
 * Expects Pico's `actual` to match torch's `expected` with compareWithTorch's measure:
 * |a − e| / (|e| + max|e| of the array) <= rtol, NaN for NaN, infinities exactly. Counts the
 * comparison into oracleStats() and PICO_TORCH_STATS (when set) under `label`, like compareWithTorch's cases.
 */
export function expectTorchClose(label: string, actual: Tensor | ArrayLike<number> | number, expected: TorchTensor | ArrayLike<number> | number, rtol: number): number {
  const a = toArray(actual);
  const e = toArray(expected instanceof TorchTensor ? expected.data : expected);
  if (actual instanceof Tensor && expected instanceof TorchTensor) expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  expect(a.length, `${label}: element count`).toBe(e.length);
  let scale = 0;
  for (const v of e) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const dev = Number.isFinite(x) && Number.isFinite(y) ? Math.abs(x - y) / (Math.abs(y) + scale) : Infinity;
    if (!(dev <= rtol)) throw new Error(`${label} differs at element ${i} of ${e.length}: Pico ${x}, torch ${y}; relative deviation ${dev.toExponential(2)} > ${rtol}`);
    worst = Math.max(worst, dev);
  }
  recordArray(rtol >= 1e-8 ? "float32" : "float64", label, e.length, worst);
  return worst;
}

function toArray(v: Tensor | ArrayLike<number> | number): Float64Array {
  if (typeof v === "number") return Float64Array.of(v);
  if (v instanceof Tensor) return Float64Array.from(v.toTypedArray());
  return Float64Array.from(v);
}
