import type { FloatArray } from "../dtype.js";
import type { MatrixView } from "./gemm.js";

/**
 * Rows of op(A) and columns of op(B) per micro-tile. V8's scalar code plateaus near one flop per cycle
 * whatever the tile (2×4, 3×4, 4×4, 3×8, 4×8, 8×4, 6×4 all measured within ~8%); 4×4 wastes the least
 * on the network's narrow edges (8, 10, 16, 25 wide).
 */
const MR = 4;
const NR = 4;
/** Depth of one packed panel: an A sliver (MR×KC) plus a B sliver (KC×NR) stay in L1. */
const KC = 256;
/**
 * Rows of op(A) per packed block: MC×KC doubles (256 KiB) stay in L2 while every B sliver streams past.
 * KC 128/512 and MC 64/256 measured the same: at this speed the kernel is bound by instructions, not memory.
 */
const MC = 128;
/** Columns of op(B) per packed block. */
const NC = 2048;

// Packed panels are float64 whatever the operands' dtype: V8 computes in doubles anyway, so float32
// panels add a conversion per load (measured ~6% slower), and one element type keeps the
// micro-kernel monomorphic. A's panel sits at [0, MC*KC), B's right after it: one array to read
// measured slightly (~2%) faster than two.
const A_PANEL = MC * KC;
let scratch = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

function scratchFor(bSize: number): Float64Array {
  if (scratch.length < A_PANEL + bSize) scratch = new Float64Array(A_PANEL + bSize);
  return scratch;
}

/**
 * C[M×N] = op(A)[M×K] · op(B)[K×N] (+ C when `accumulate`): op(A) and op(B) are packed block by block
 * into MR-row and NR-column slivers (zero-padded at the edges), and a 4×4 register-blocked micro-kernel
 * runs over each pair of slivers.
 */
export function gemmPacked(
  m: number,
  n: number,
  k: number,
  a: MatrixView,
  b: MatrixView,
  c: { data: FloatArray; offset: number; ld: number },
  accumulate: boolean,
): void {
  if (m <= 0 || n <= 0) return;
  const cd = c.data;
  const ldc = c.ld;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) cd.fill(0, c.offset + i * ldc, c.offset + i * ldc + n);
    return;
  }
  const ncMax = Math.min(n, NC);
  const p = scratchFor(Math.ceil(ncMax / NR) * NR * Math.min(k, KC));
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const overwrite = pc === 0 && !accumulate;
      packB(p, A_PANEL, b, pc, kc, jc, nc);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packA(p, a, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const bo = A_PANEL + jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            const co = c.offset + (ic + ir) * ldc + jc + jr;
            if (mr === MR && nr === NR) {
              microKernel(kc, p, ir * kc, bo, cd, co, ldc, overwrite);
            } else {
              microKernel(kc, p, ir * kc, bo, edgeTile, 0, NR, true);
              storeEdge(edgeTile, mr, nr, cd, co, ldc, overwrite);
            }
          }
        }
      }
    }
  }
}

/** Packs op(A)[i0:i0+mc, p0:p0+kc] at 0 as slivers of MR rows: element (i, p) of a sliver sits at p*MR + i. */
function packA(dst: Float64Array, a: MatrixView, i0: number, mc: number, p0: number, kc: number): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = Math.min(MR, mc - ir);
    // op(A)[i][p] is stored[p][i] when transposed: the sliver's rows are then neighbours within a stored row.
    if (a.trans) sliverAlongRows(dst, ir * kc, a.data, a.offset + p0 * a.ld + i0 + ir, a.ld, rows, kc);
    else sliverAcrossRows(dst, ir * kc, a.data, a.offset + (i0 + ir) * a.ld + p0, a.ld, rows, kc);
  }
}

/** Packs op(B)[p0:p0+kc, j0:j0+nc] at `at` as slivers of NR columns: element (p, j) of a sliver sits at p*NR + j. */
function packB(dst: Float64Array, at: number, b: MatrixView, p0: number, kc: number, j0: number, nc: number): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = Math.min(NR, nc - jr);
    if (b.trans) sliverAcrossRows(dst, at + jr * kc, b.data, b.offset + (j0 + jr) * b.ld + p0, b.ld, cols, kc);
    else sliverAlongRows(dst, at + jr * kc, b.data, b.offset + p0 * b.ld + j0 + jr, b.ld, cols, kc);
  }
}

// Both slivers are 4 wide (MR = NR = 4), so one pair of copy loops packs A and B.

/** dst[d + 4q + r] = src[s + q·ld + r] for r < width (zero beyond), q < kc: `width` neighbours from each of kc rows. */
function sliverAlongRows(dst: Float64Array, d: number, src: FloatArray, s: number, ld: number, width: number, kc: number): void {
  if (width === 4) {
    for (let q = 0; q < kc; q++, d += 4, s += ld) {
      dst[d] = src[s]!;
      dst[d + 1] = src[s + 1]!;
      dst[d + 2] = src[s + 2]!;
      dst[d + 3] = src[s + 3]!;
    }
    return;
  }
  for (let q = 0; q < kc; q++, d += 4, s += ld) {
    let r = 0;
    for (; r < width; r++) dst[d + r] = src[s + r]!;
    for (; r < 4; r++) dst[d + r] = 0;
  }
}

/** dst[d + 4q + r] = src[s + r·ld + q] for r < width (zero beyond), q < kc: kc consecutive entries of each of `width` rows. */
function sliverAcrossRows(dst: Float64Array, d: number, src: FloatArray, s: number, ld: number, width: number, kc: number): void {
  if (width === 4) {
    const s1 = s + ld, s2 = s1 + ld, s3 = s2 + ld;
    for (let q = 0; q < kc; q++, d += 4) {
      dst[d] = src[s + q]!;
      dst[d + 1] = src[s1 + q]!;
      dst[d + 2] = src[s2 + q]!;
      dst[d + 3] = src[s3 + q]!;
    }
    return;
  }
  for (let r = 0; r < 4; r++) {
    const row = s + r * ld;
    for (let q = 0; q < kc; q++) dst[d + 4 * q + r] = r < width ? src[row + q]! : 0;
  }
}

/** Writes (or adds) the valid mr×nr corner of a full micro-tile computed into `tile`. */
function storeEdge(tile: Float64Array, mr: number, nr: number, cd: FloatArray, co: number, ldc: number, overwrite: boolean): void {
  for (let i = 0; i < mr; i++) {
    const row = co + i * ldc;
    for (let j = 0; j < nr; j++) cd[row + j] = overwrite ? tile[i * NR + j]! : cd[row + j]! + tile[i * NR + j]!;
  }
}

/** The 4×4 tile of C at `co` from an A sliver at `ao` and a B sliver at `bo` of the packed buffer `p`. */
function microKernel(
  kc: number,
  p: Float64Array,
  ao: number,
  bo: number,
  cd: FloatArray,
  co: number,
  ldc: number,
  overwrite: boolean,
): void {
  // -0 (a double constant, unlike the small integer 0) lets V8 keep the accumulators as unboxed
  // doubles from the first iteration: about 5% faster, measured. -0 + x is x for every x.
  let c00 = -0, c01 = -0, c02 = -0, c03 = -0;
  let c10 = -0, c11 = -0, c12 = -0, c13 = -0;
  let c20 = -0, c21 = -0, c22 = -0, c23 = -0;
  let c30 = -0, c31 = -0, c32 = -0, c33 = -0;
  for (let q = 0; q < kc; q++) {
    const b0 = p[bo]!, b1 = p[bo + 1]!, b2 = p[bo + 2]!, b3 = p[bo + 3]!;
    let a = p[ao]!;
    c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3;
    a = p[ao + 1]!;
    c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3;
    a = p[ao + 2]!;
    c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3;
    a = p[ao + 3]!;
    c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3;
    ao += MR;
    bo += NR;
  }
  const r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
  if (overwrite) {
    // + 0 turns a -0 left by the initial value into +0, as a sum that starts from 0 gives.
    cd[co] = c00 + 0; cd[co + 1] = c01 + 0; cd[co + 2] = c02 + 0; cd[co + 3] = c03 + 0;
    cd[r1] = c10 + 0; cd[r1 + 1] = c11 + 0; cd[r1 + 2] = c12 + 0; cd[r1 + 3] = c13 + 0;
    cd[r2] = c20 + 0; cd[r2 + 1] = c21 + 0; cd[r2 + 2] = c22 + 0; cd[r2 + 3] = c23 + 0;
    cd[r3] = c30 + 0; cd[r3 + 1] = c31 + 0; cd[r3 + 2] = c32 + 0; cd[r3 + 3] = c33 + 0;
  } else {
    cd[co] = cd[co]! + c00; cd[co + 1] = cd[co + 1]! + c01; cd[co + 2] = cd[co + 2]! + c02; cd[co + 3] = cd[co + 3]! + c03;
    cd[r1] = cd[r1]! + c10; cd[r1 + 1] = cd[r1 + 1]! + c11; cd[r1 + 2] = cd[r1 + 2]! + c12; cd[r1 + 3] = cd[r1 + 3]! + c13;
    cd[r2] = cd[r2]! + c20; cd[r2 + 1] = cd[r2 + 1]! + c21; cd[r2 + 2] = cd[r2 + 2]! + c22; cd[r2 + 3] = cd[r2 + 3]! + c23;
    cd[r3] = cd[r3]! + c30; cd[r3 + 1] = cd[r3 + 1]! + c31; cd[r3 + 2] = cd[r3 + 2]! + c32; cd[r3 + 3] = cd[r3 + 3]! + c33;
  }
}
