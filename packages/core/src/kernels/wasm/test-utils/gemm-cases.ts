import { Generator } from "../../../random.js";
import { gemmReference } from "../../gemm.js";
import type { Gemm, MatrixView } from "../../gemm.js";

// Shared by the wasm GEMM tests: seeded operands inside padded arrays, a float64 triple loop, and a
// check of every element of C (and of the untouched gaps around it) against both references.

export const rng = new Generator(7);
export const SIZES = [1, 3, 7, 17, 63, 129, 300];
const SENTINEL = 12345;

export interface Layout {
  offset: number;
  pad: number;
}

/** A rows×cols stored matrix inside a larger array: `offset` elements before it, `pad` extra per row; gaps hold SENTINEL. */
export function stored<T extends Float32Array | Float64Array>(make: new (n: number) => T, rows: number, cols: number, { offset, pad }: Layout) {
  const ld = cols + pad;
  const data = new make(offset + rows * ld + 3).fill(SENTINEL);
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) data[offset + r * ld + q] = rng.random() * 2 - 1;
  return { data, offset, ld };
}

/** op(X)[i, j] of a MatrixView, read straight from the stored matrix. */
const at = (x: MatrixView, i: number, j: number): number => x.data[x.offset + (x.trans ? j * x.ld + i : i * x.ld + j)]!;

/** Exact-ish product in float64 and, per element, Σ|a·b| for an error bound. */
function naive(m: number, n: number, k: number, a: MatrixView, b: MatrixView) {
  const value = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const prod = at(a, i, p) * at(b, p, j);
        s += prod;
        t += Math.abs(prod);
      }
      value[i * n + j] = s;
      magnitude[i * n + j] = t;
    }
  }
  return { value, magnitude };
}

export interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  layoutA: Layout;
  layoutB: Layout;
  layoutC: Layout;
}

export const packedLayout: Layout = { offset: 0, pad: 0 };

export function checkGemm(kernel: Gemm, { m, n, k, transA, transB, accumulate, layoutA, layoutB, layoutC }: Case): void {
  const label = `m=${m} n=${n} k=${k} transA=${transA} transB=${transB} accumulate=${accumulate} ` +
    `A=${JSON.stringify(layoutA)} B=${JSON.stringify(layoutB)} C=${JSON.stringify(layoutC)}`;
  const a: MatrixView = { ...stored(Float32Array, transA ? k : m, transA ? m : k, layoutA), trans: transA };
  const b: MatrixView = { ...stored(Float32Array, transB ? n : k, transB ? k : n, layoutB), trans: transB };
  const c = stored(Float32Array, m, n, layoutC);
  const before = c.data.slice();
  const cRef = { ...c, data: c.data.slice() };
  kernel(m, n, k, a, b, c, accumulate);
  gemmReference(m, n, k, a, b, cRef, accumulate);
  const { value, magnitude } = naive(m, n, k, a, b);
  const eps = 2 ** -23;
  for (let idx = 0; idx < c.data.length; idx++) {
    const rel = idx - c.offset;
    const i = Math.floor(rel / c.ld);
    const j = rel - i * c.ld;
    const inside = rel >= 0 && i < m && j < n;
    if (!inside) {
      if (c.data[idx] !== before[idx]) throw new Error(`${label}: element ${idx} outside C changed to ${c.data[idx]}`);
      continue;
    }
    const base = accumulate ? before[idx]! : 0;
    const expected = base + value[i * n + j]!;
    const tol = 2 * (k + 2) * eps * (magnitude[i * n + j]! + Math.abs(base)) + 1e-30;
    const got = c.data[idx]!;
    if (!(Math.abs(got - expected) <= tol)) throw new Error(`${label}: C[${i}, ${j}] = ${got}, naive ${expected}, tolerance ${tol}`);
    if (!(Math.abs(got - cRef.data[idx]!) <= 2 * tol)) {
      throw new Error(`${label}: C[${i}, ${j}] = ${got}, gemmReference ${cRef.data[idx]}, tolerance ${2 * tol}`);
    }
  }
}

export const pick = <T>(xs: readonly T[]): T => xs[rng.randint(xs.length)]!;
export const TRANS: ReadonlyArray<readonly [boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

