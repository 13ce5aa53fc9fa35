import type { FloatArray } from "../../dtype.js";
import { setGemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { Gemm } from "../gemm.js";
import { gemmWasmBase64 } from "./gemm-wasm-binary.js";
import { panelRows, rowsFrom, runGemm, runJobs } from "./run-gemm.js";
import type { FloatMatrix32, GemmTarget } from "./run-gemm.js";
import { decodeBase64, wasmApi } from "./wasm-api.js";
import type { GemmExports, WasmMemory } from "./wasm-api.js";

let target: GemmTarget | null | undefined;
let fallback: Gemm = gemmPacked;
/**
 * Most bytes of operands one product copies into the module's memory: a larger product runs in
 * panels of rows. The memory never shrinks, so one huge product would otherwise pin its size for good.
 */
let budget = 16 * 1024 * 1024;

function instantiate(): GemmTarget | null {
  const api = wasmApi();
  if (api === undefined) return null;
  try {
    const module = new api.Module(decodeBase64(gemmWasmBase64));
    const exports = new api.Instance(module, {}).exports as GemmExports & { memory: WasmMemory };
    return { exports, memory: exports.memory, heap: null };
  } catch {
    // No SIMD support (or WebAssembly disabled by policy): the caller keeps the TypeScript kernels.
    return null;
  }
}

function loaded(): GemmTarget | null {
  if (target === undefined) target = instantiate();
  return target;
}

/** True where WebAssembly with SIMD can run this kernel. */
export function wasmAvailable(): boolean {
  return loaded() !== null;
}

export const isFloat32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array;

/**
 * C = op(A)·op(B) (+ C when `accumulate`) in WebAssembly SIMD for float32 operands: copies A, B
 * (and C when accumulating) into the module's memory, runs the register-blocked kernel there and
 * copies C back. Float64 operands, a host without WebAssembly SIMD, or operands too large for the
 * module's memory go to the fallback kernel (`gemmPacked` unless `installWasmGemm` was given another).
 */
export const gemmWasm: Gemm = (m, n, k, a, b, c, accumulate) => {
  const t = loaded();
  if (t === null || !isFloat32(a.data) || !isFloat32(b.data) || !isFloat32(c.data)) {
    fallback(m, n, k, a, b, c, accumulate);
    return;
  }
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
    return;
  }
  const rows = panelRows(m, n, k, a, b, budget);
  for (let i0 = 0; i0 < m; i0 += rows) {
    const mp = Math.min(rows, m - i0);
    const ap = i0 === 0 ? a : rowsFrom(a, i0);
    const cp: FloatMatrix32 = { data: c.data, offset: c.offset + i0 * c.ld, ld: c.ld };
    if (!runGemm(t, mp, n, k, ap, b, cp, accumulate, 1, 1, (jobs, works) => runJobs(t.exports, jobs, works[0]!))) {
      fallback(mp, n, k, ap, b, cp, accumulate);
    }
  }
};

/**
 * Sets the most bytes of operands one product may copy into the module's memory (larger products
 * run in panels of rows), returning the previous value.
 */
export function setWasmGemmBudget(bytes: number): number {
  const previous = budget;
  budget = bytes;
  return previous;
}

/** Bytes the module's memory holds now (0 where WebAssembly SIMD is unavailable); it only ever grows. */
export function wasmGemmMemoryBytes(): number {
  return loaded()?.memory.buffer.byteLength ?? 0;
}

/**
 * Makes `gemmWasm` the GEMM every operator uses, with `float64Kernel` for Float64 operands; returns
 * false (and changes nothing) without WebAssembly SIMD.
 */
export function installWasmGemm(float64Kernel: Gemm = gemmPacked): boolean {
  if (!wasmAvailable()) return false;
  fallback = float64Kernel;
  setGemm(gemmWasm);
  return true;
}
