import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../graph/compile.js";
import { Generator } from "../../random.js";
import { Tensor } from "../../tensor.js";
import { disableThreads, enableThreads } from "../../threads.js";
import { noGrad } from "../../tracer.js";
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
  afterAll(() => disableThreads());

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

  it("serves a compiled linear layer while @pico/core/threads runs: small products on the calling thread keep their weight, large ones split as before", async () => {
    await enableThreads(2);
    const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.toTypedArray()).buffer));
    const g = new Generator(11);
    const w = Tensor.randn([120, 400], { generator: g });
    const b = Tensor.randn([120], { generator: g });
    const fc = (x: Tensor): Tensor => b.addmm(x, w.transpose()).relu();
    for (const rows of [1, 1000]) {
      const f = compile(fc, Tensor.zeros([rows, 400]));
      const x = Tensor.randn([rows, 400], { generator: g });
      for (let i = 0; i < 2; i++) expect(bits(f(x))).toEqual(bits(noGrad(() => fc(x))));
    }
  });
});
