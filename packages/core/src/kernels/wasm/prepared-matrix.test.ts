import { describe, expect, it } from "vitest";
import { bumpVersion } from "../../version.js";
import { gemmReference } from "../gemm.js";
import type { MatrixView } from "../gemm.js";
import { gemmWasmLocal } from "./gemm-wasm.js";
import { PreparedMatrix } from "./prepared-matrix.js";
import { residentBytes } from "./resident-regions.js";

const random = (count: number, seed: number): Float32Array => {
  let s = seed;
  return Float32Array.from({ length: count }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
};

/** C = A·Bᵀ + bias for A [m, k] and a weight B [n, k] read transposed, as a linear layer multiplies. */
function linear(a: Float32Array, w: Float32Array, m: number, n: number, k: number, prepared?: PreparedMatrix, kernel = gemmWasmLocal): Float32Array {
  const c = { data: new Float32Array(m * n).fill(0.25), offset: 0, ld: n };
  const av: MatrixView = { data: a, offset: 0, ld: k, trans: false };
  const bv: MatrixView = { data: w, offset: 0, ld: k, trans: true };
  kernel(m, n, k, av, bv, c, true, prepared);
  return c.data;
}

describe("PreparedMatrix", () => {
  it("keeps B in the module between products: bit for bit the copying product, until B's version changes", () => {
    const [m, n, k] = [3, 120, 400];
    const w = random(n * k, 1);
    const prepared = new PreparedMatrix();
    const start = residentBytes();
    for (const seed of [2, 3]) {
      const a = random(m * k, seed);
      expect(linear(a, w, m, n, k, prepared)).toEqual(linear(a, w, m, n, k));
    }
    // A product of more rows packs the resident (untransposed) B as it packs the copied one.
    const many = new PreparedMatrix();
    const a40 = random(40 * k, 9);
    expect(linear(a40, w, 40, n, k, many)).toEqual(linear(a40, w, 40, n, k));
    many.release();
    expect(residentBytes()).toBeGreaterThanOrEqual(start + n * k * 4);
    // Another product lays out its scratch after the resident B, leaving it whole.
    linear(random(64 * 512, 4), random(512 * 256, 5), 64, 256, 512);
    const a = random(m * k, 8);
    const before = linear(a, w, m, n, k);
    // Written without a version bump, B is not copied again: the product still sees the old B.
    const old = w.slice();
    w.fill(0.5);
    expect(linear(a, w, m, n, k, prepared)).toEqual(before);
    bumpVersion(w);
    const fresh = linear(a, w, m, n, k, prepared);
    expect(fresh).toEqual(linear(a, w, m, n, k));
    expect(fresh).not.toEqual(linear(a, old, m, n, k));
    const reference = linear(a, w, m, n, k, undefined, gemmReference);
    expect(Math.max(...fresh.map((v, i) => Math.abs(v - reference[i]!)))).toBeLessThan(1e-4);
    prepared.release();
    expect(residentBytes()).toBe(start);
  });
});
