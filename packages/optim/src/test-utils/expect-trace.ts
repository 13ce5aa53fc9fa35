import { expect } from "vitest";

/** Compares x after each step with the expected values to `digits` decimal places. */
export function expectTrace(actual: number[][], expected: number[][], digits = 12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, s) => {
    expect(row.length).toBe(expected[s]!.length);
    row.forEach((v, i) => expect(v, `step ${s + 1}, x[${i}]`).toBeCloseTo(expected[s]![i]!, digits));
  });
}

/** Per-coordinate traces [[x1, x2, x3] for coordinate 0, ...] turned into per-step rows. */
export function byStep(perCoordinate: Array<readonly number[]>): number[][] {
  const steps = perCoordinate[0]!.length;
  return Array.from({ length: steps }, (_, s) => perCoordinate.map((c) => c[s]!));
}
