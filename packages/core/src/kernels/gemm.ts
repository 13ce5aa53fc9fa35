import type { FloatArray } from "../dtype.js";
import { gemmPacked } from "./gemm-packed.js";
import { kernelFamily } from "./registry.js";
import { gemmThreads, gemmWasm, gemmWasmProducts } from "./wasm/gemm-wasm.js";
import type { Product } from "./wasm/run-gemm.js";
import { wasmAvailable } from "./wasm/engine.js";
import type { PreparedMatrix } from "./wasm/prepared-matrix.js";

/** A row-major matrix inside a flat typed array. */
export interface MatrixView {
  data: FloatArray;
  offset: number;
  /** Distance between consecutive rows of the stored (untransposed) matrix. */
  ld: number;
  /** Read the stored matrix transposed. */
  trans: boolean;
}

const BLOCK_K = 128;
const BLOCK_J = 512;

/**
 * C[M×N] = op(A)[M×K] · op(B)[K×N] (+ C when `accumulate`), the plain reference GEMM:
 * cache-blocked over K and N, i-k-j order so the innermost loop streams contiguous rows.
 */
export function gemmReference(
  m: number,
  n: number,
  k: number,
  a: MatrixView,
  b: MatrixView,
  c: { data: FloatArray; offset: number; ld: number },
  accumulate: boolean,
): void {
  const A = a.trans ? transposeCopy(a, k, m) : a;
  const B = b.trans ? transposeCopy(b, n, k) : b;
  const Ad = A.data;
  const Bd = B.data;
  const Cd = c.data;
  if (!accumulate) for (let i = 0; i < m; i++) Cd.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
  for (let k0 = 0; k0 < k; k0 += BLOCK_K) {
    const k1 = Math.min(k, k0 + BLOCK_K);
    for (let j0 = 0; j0 < n; j0 += BLOCK_J) {
      const j1 = Math.min(n, j0 + BLOCK_J);
      for (let i = 0; i < m; i++) {
        const ci = c.offset + i * c.ld;
        const ai = A.offset + i * A.ld;
        for (let p = k0; p < k1; p++) {
          const av = Ad[ai + p]!;
          if (av === 0) continue;
          const bp = B.offset + p * B.ld;
          for (let j = j0; j < j1; j++) Cd[ci + j] = Cd[ci + j]! + av * Bd[bp + j]!;
        }
      }
    }
  }
}

/** Materialises op(X) row-major: the stored matrix is cols×rows and read transposed. */
function transposeCopy(x: MatrixView, rows: number, cols: number): MatrixView {
  // Stored matrix has `rows` rows of length `cols`... read as its transpose: result is cols×rows.
  const out = new (x.data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = x.offset + r * x.ld;
    for (let q = 0; q < cols; q++) out[q * rows + r] = x.data[src + q]!;
  }
  return { data: out, offset: 0, ld: rows, trans: false };
}

/**
 * C = op(A)·op(B) (+ C): every GEMM kernel's signature. `prepared` is an optional cache a caller that
 * multiplies by the same B again keeps (a compiled node's reused ctx): the "wasm" kernel keeps B in its
 * module's memory there (PreparedMatrix); kernels without such a copy step have nothing to keep and
 * leave it alone.
 */
export type Gemm = (
  m: number, n: number, k: number,
  a: MatrixView, b: MatrixView,
  c: { data: FloatArray; offset: number; ld: number },
  accumulate: boolean,
  prepared?: PreparedMatrix,
) => void;

/**
 * The GEMM family: "reference" (above), "js" (gemmPacked), "wasm" (gemmWasm: WebAssembly SIMD on the
 * calling thread, large products split across the threads of `@pico/core/threads` when they run).
 */
export const gemmKernels = kernelFamily<Gemm>("gemm")
  .register("reference", gemmReference)
  .register("js", gemmPacked)
  .register("wasm", gemmWasm, { available: wasmAvailable, threads: gemmThreads });

/** The kernel used when nothing was chosen: WebAssembly SIMD where it runs, the packed TypeScript kernel elsewhere. */
export function defaultGemm(): Gemm {
  return wasmAvailable() ? gemmWasm : gemmPacked;
}

/** The GEMM every operator calls: the gemm family's resolved kernel (see useKernels). */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: MatrixView,
  b: MatrixView,
  c: { data: FloatArray; offset: number; ld: number },
  accumulate: boolean,
  prepared?: PreparedMatrix,
): void {
  gemmKernels.resolve().kernel(m, n, k, a, b, c, accumulate, prepared);
}

/** One product of gemmProducts: C = op(A)·op(B) (+ C when `accumulate`). */
export interface GemmProduct {
  m: number;
  n: number;
  k: number;
  a: MatrixView;
  b: MatrixView;
  c: { data: FloatArray; offset: number; ld: number };
  accumulate: boolean;
}

/**
 * Independent products (no C is another's operand), each as gemm() computes it, bit for bit: at once on
 * separate threads where the "wasm" GEMM runs on the threads of `@pico/core/threads` (a linear layer's
 * input and weight gradients; each alone is too small to split well), else one after the other.
 */
export function gemmProducts(products: GemmProduct[]): void {
  const { backend, kernel } = gemmKernels.resolve();
  if (backend === "wasm" && gemmWasmProducts(products as Product[])) return;
  for (const { m, n, k, a, b, c, accumulate } of products) kernel(m, n, k, a, b, c, accumulate);
}

/** The kernel gemm() calls now. */
export function activeGemmKernel(): Gemm {
  return gemmKernels.resolve().kernel;
}

/** Makes `kernel` the GEMM every operator calls until the next useKernels (gemmKernels.override); returns the previous one. */
export function setGemm(kernel: Gemm): Gemm {
  return gemmKernels.override(kernel);
}
