import type { FloatArray } from "../../dtype.js";
import { gemmReference, setGemm } from "../gemm.js";
import type { Gemm, MatrixView } from "../gemm.js";
import { gemmWasmBase64 } from "./gemm-wasm-binary.js";

// The library is typed without DOM or Node globals, so the slice of the WebAssembly API used here is declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface GemmExports {
  memory: WasmMemory;
  heapBase(): number;
  workBytes(m: number, n: number, k: number): number;
  gemmRows(
    ic0: number, ic1: number, n: number, k: number,
    a: number, lda: number, transA: number,
    b: number, ldb: number, transB: number,
    c: number, ldc: number, accumulate: number, work: number,
  ): void;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

const PAGE = 65536;
const ALIGN = 64;

let state: { exports: GemmExports; heap: Float32Array } | null | undefined;
let fallback: Gemm = gemmReference;

/** Decodes standard base64 (no `atob` in the library's type environment). */
export function decodeBase64(text: string): Uint8Array {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lookup = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let count = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    bits = (bits << 6) | lookup[clean.charCodeAt(i)]!;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[o++] = (bits >> count) & 0xff;
    }
  }
  return out;
}

function instantiate(): { exports: GemmExports; heap: Float32Array } | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    const module = new api.Module(decodeBase64(gemmWasmBase64));
    const exports = new api.Instance(module, {}).exports as GemmExports;
    return { exports, heap: new Float32Array(exports.memory.buffer) };
  } catch {
    // No SIMD support (or WebAssembly disabled by policy): the caller keeps the TypeScript kernels.
    return null;
  }
}

function loaded(): { exports: GemmExports; heap: Float32Array } | null {
  if (state === undefined) state = instantiate();
  return state;
}

/** True where WebAssembly with SIMD can run this kernel. */
export function wasmAvailable(): boolean {
  return loaded() !== null;
}

/** Grows the module's memory to at least `bytes` and returns a Float32Array over all of it. */
function heapOf(s: { exports: GemmExports; heap: Float32Array }, bytes: number): Float32Array {
  const memory = s.exports.memory;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  if (s.heap.buffer !== memory.buffer) s.heap = new Float32Array(memory.buffer);
  return s.heap;
}

const alignUp = (x: number): number => Math.ceil(x / ALIGN) * ALIGN;

/**
 * Where a stored rows×cols matrix with leading dimension `ld` goes in wasm memory: kept with its
 * own `ld` (one bulk copy) unless the gaps would more than double the bytes copied.
 */
function layoutOf(rows: number, cols: number, ld: number): { ld: number; elements: number } {
  if (rows <= 1 || ld === cols) return { ld: cols, elements: rows * cols };
  const span = (rows - 1) * ld + cols;
  return span <= 2 * rows * cols ? { ld, elements: span } : { ld: cols, elements: rows * cols };
}

function copyIn(heap: Float32Array, at: number, src: Float32Array, offset: number, rows: number, cols: number, ld: number, dstLd: number): void {
  const base = at >> 2;
  if (dstLd === ld || rows <= 1) {
    heap.set(src.subarray(offset, offset + (rows - 1) * ld + cols), base);
    return;
  }
  for (let r = 0; r < rows; r++) heap.set(src.subarray(offset + r * ld, offset + r * ld + cols), base + r * dstLd);
}

function copyOut(heap: Float32Array, at: number, dst: Float32Array, offset: number, rows: number, cols: number, ld: number): void {
  const base = at >> 2;
  if (ld === cols || rows <= 1) {
    dst.set(heap.subarray(base, base + rows * cols), offset);
    return;
  }
  if (cols >= 32) {
    for (let r = 0; r < rows; r++) dst.set(heap.subarray(base + r * cols, base + (r + 1) * cols), offset + r * ld);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = base + r * cols;
    const d = offset + r * ld;
    for (let q = 0; q < cols; q++) dst[d + q] = heap[s + q]!;
  }
}

const isF32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array;

/**
 * C = op(A)·op(B) (+ C when `accumulate`) in WebAssembly SIMD for float32 operands: copies A, B
 * (and C when accumulating) into the module's memory, runs the register-blocked kernel there and
 * copies C back. Float64 operands, or a host without WebAssembly SIMD, go to the fallback kernel
 * (`gemmReference` unless `installWasmGemm` was given another).
 */
export const gemmWasm: Gemm = (m, n, k, a, b, c, accumulate) => {
  const s = loaded();
  if (s === null || !isF32(a.data) || !isF32(b.data) || !isF32(c.data)) {
    fallback(m, n, k, a, b, c, accumulate);
    return;
  }
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
    return;
  }
  runWasm(s, m, n, k, a, b, c as { data: Float32Array; offset: number; ld: number }, accumulate);
};

function runWasm(
  s: { exports: GemmExports; heap: Float32Array },
  m: number, n: number, k: number,
  a: MatrixView, b: MatrixView, c: { data: Float32Array; offset: number; ld: number },
  accumulate: boolean,
): void {
  const aRows = a.trans ? k : m;
  const aCols = a.trans ? m : k;
  const bRows = b.trans ? n : k;
  const bCols = b.trans ? k : n;
  const la = layoutOf(aRows, aCols, a.ld);
  const lb = layoutOf(bRows, bCols, b.ld);
  const aAt = alignUp(s.exports.heapBase());
  const bAt = alignUp(aAt + la.elements * 4);
  const cAt = alignUp(bAt + lb.elements * 4);
  const workAt = alignUp(cAt + m * n * 4);
  const end = workAt + s.exports.workBytes(m, n, k);
  const heap = heapOf(s, end);
  copyIn(heap, aAt, a.data as Float32Array, a.offset, aRows, aCols, a.ld, la.ld);
  copyIn(heap, bAt, b.data as Float32Array, b.offset, bRows, bCols, b.ld, lb.ld);
  if (accumulate) copyIn(heap, cAt, c.data, c.offset, m, n, c.ld, n);
  s.exports.gemmRows(0, m, n, k, aAt, la.ld, a.trans ? 1 : 0, bAt, lb.ld, b.trans ? 1 : 0, cAt, n, accumulate ? 1 : 0, workAt);
  copyOut(heap, cAt, c.data, c.offset, m, n, c.ld);
}

/**
 * Makes `gemmWasm` the GEMM every operator uses, with `float64Kernel` for Float64 operands; returns
 * false (and changes nothing) without WebAssembly SIMD.
 */
export function installWasmGemm(float64Kernel: Gemm = gemmReference): boolean {
  if (!wasmAvailable()) return false;
  fallback = float64Kernel;
  setGemm(gemmWasm);
  return true;
}
