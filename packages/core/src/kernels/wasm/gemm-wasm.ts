import type { FloatArray } from "../../dtype.js";
import { gemmPacked } from "../gemm-packed.js";
import type { Gemm, MatrixView } from "../gemm.js";
import { localInstance } from "./engine.js";
import type { PreparedMatrix } from "./prepared-matrix.js";
import { panelRows, rowsFrom, runGemm, runJobs } from "./run-gemm.js";
import type { FloatMatrix32, Product, RowsJobs } from "./run-gemm.js";

/**
 * Most bytes of operands one product copies into the module's memory: a larger product runs in
 * panels of rows. The memory never shrinks, so one huge product would otherwise pin its size for good.
 */
let budget = 16 * 1024 * 1024;

/** Set by `@pico/core/threads` while its workers run: large products split across them. */
let threaded: GemmThreadsRoute | null = null;

/** How `@pico/core/threads` routes the "wasm" GEMM: its threaded kernel, its runner of independent products, its thread count. */
export interface GemmThreadsRoute {
  gemm: Gemm;
  /** Runs the products at once on the threads and returns true, or returns false having done nothing. */
  products: (products: Product[]) => boolean;
  threads: number;
}

export const isFloat32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array;

/** runGemm's runner on the calling thread's own instance. */
const runHere = (jobs: RowsJobs): void => runJobs(localInstance()!.exports, jobs);

/** B as gemmWasmLocal hands a PreparedMatrix's region to runGemm: stored untransposed without gaps (ld set per call; its data is not read). */
const preparedB: MatrixView = { data: new Float32Array(0), offset: 0, ld: 0, trans: false };

/**
 * C = op(A)·op(B) (+ C) in WebAssembly SIMD on the calling thread's instance: copies A, B (and C
 * when accumulating) into its memory, runs the register-blocked kernel there and copies C back.
 * Float64 operands, a host without WebAssembly SIMD, or operands too large for the memory go to
 * `gemmPacked`. With `prepared`, op(B) stays in the memory after the product (untransposed) and the
 * next product with the same B (same buffer, offset and version) reads it there instead of copying
 * it in again.
 */
export const gemmWasmLocal: Gemm = (m, n, k, a, b, c, accumulate, prepared) => {
  const t = localInstance();
  if (t === null || !isFloat32(a.data) || !isFloat32(b.data) || !isFloat32(c.data)) {
    gemmPacked(m, n, k, a, b, c, accumulate);
    return;
  }
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
    return;
  }
  const rows = panelRows(m, n, k, a, b, budget);
  if (prepared !== undefined && rows === m) {
    const at = prepared.address(t, b, k, n);
    preparedB.ld = n;
    if (at !== null && runGemm(t, m, n, k, a, preparedB, c as FloatMatrix32, accumulate, 1, 1, runHere, undefined, at)) return;
  }
  for (let i0 = 0; i0 < m; i0 += rows) {
    const mp = Math.min(rows, m - i0);
    const ap = i0 === 0 ? a : rowsFrom(a, i0);
    const cp: FloatMatrix32 = i0 === 0 ? (c as FloatMatrix32) : { data: c.data, offset: c.offset + i0 * c.ld, ld: c.ld };
    if (!runGemm(t, mp, n, k, ap, b, cp, accumulate, 1, 1, runHere)) {
      gemmPacked(mp, n, k, ap, b, cp, accumulate);
    }
  }
};

/**
 * The "wasm" GEMM: gemmWasmLocal, or while `@pico/core/threads` runs its workers, the threaded GEMM
 * (large products split across the threads, small ones still on the calling thread).
 */
export const gemmWasm: Gemm = (m, n, k, a, b, c, accumulate, prepared) => {
  (threaded?.gemm ?? gemmWasmLocal)(m, n, k, a, b, c, accumulate, prepared);
};

/** Threads the "wasm" GEMM splits large products across now. */
export function gemmThreads(): number {
  return threaded?.threads ?? 1;
}

/**
 * Runs independent float32 products at once on the threads while they run (see gemmProductsThreaded) and
 * returns true; false, nothing done, without the threads or for products too small to repay them.
 */
export function gemmWasmProducts(products: Product[]): boolean {
  return threaded?.products(products) ?? false;
}

/** @internal The threads entry routes the "wasm" GEMM through `gemm` on `threads` threads, or back to the calling thread (null). */
export function routeGemmThreads(route: GemmThreadsRoute | null): void {
  threaded = route;
}

/**
 * Sets the most bytes of operands one product may copy into the module's memory (larger products
 * run in panels of rows), returning the previous value.
 */
export function setWasmGemmBudget(bytes: number): number {
  const previous = budget;
  budget = bytes;
  return previous;
}

/** Bytes the calling thread's memory holds now (0 where WebAssembly SIMD is unavailable); it only ever grows. */
export function wasmGemmMemoryBytes(): number {
  return localInstance()?.memory.buffer.byteLength ?? 0;
}
