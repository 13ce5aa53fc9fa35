// f32 GEMM for @pico/core in WebAssembly SIMD: C[m×n] = op(A)[m×k] · op(B)[k×n] (+ C), row-major.
// All matrices already sit in this module's memory; the loader copies operands in and C out.
// Pointers are byte addresses, leading dimensions are in elements.
import { madd } from "./simd";

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
/** Below this many bytes a packed depth block of B stays in L1, so each A micro-panel sweeps all of it. */
const B_IN_L1: i32 = 16384;
/**
 * Up to this many rows of C, a non-transposed B is read in place (its panels are too few times reused
 * to repay packing). The last panel then reads up to NR-1 floats past a row's end: B must be followed
 * by that much readable memory, whose values only reach discarded columns of the edge tile.
 */
const DIRECT_B_ROWS: i32 = 64;
/** Ways per set of a 32 KiB, 8-way L1 data cache with 64 sets of 64-byte lines. */
const L1_WAYS: i32 = 8;

/** First free byte after the module's static data: the loader places its buffers from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of scratch space `gemmRows` needs at `work` for these sizes: packed B and A, the edge tile, 64 bytes of counters. */
export function workBytes(m: i32, n: i32, k: i32): i32 {
  const kc = min(k, KC);
  const panelsB = (n + NR - 1) / NR;
  const rowsA = ((min(m, MC) + MR - 1) / MR) * MR;
  return (panelsB * NR * kc + rowsA * kc + MR * NR) * 4 + 64;
}

/**
 * Reads 4 floats from each of 4 rows (`rowBytes` apart) at `src` and stores them transposed as the
 * first halves of 4 consecutive NR-wide panel rows at `out`.
 */
// @ts-ignore: decorator
@inline
function transpose4(src: usize, rowBytes: usize, out: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + rowBytes);
  const r2 = v128.load(src + 2 * rowBytes);
  const r3 = v128.load(src + 3 * rowBytes);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), NR << 2);
  v128.store(out, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 2 * NR << 2);
  v128.store(out, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 3 * NR << 2);
}

/**
 * Whether kc rows `rowBytes` apart can be read in place without thrashing L1: rows closer than 1 KiB
 * spread over the sets by themselves; farther apart, no set may receive more of their lines than it
 * has ways (rows a multiple of 4 KiB apart all land in one set). `counts` is 64 bytes of scratch.
 */
function rowsSpreadOverL1(rowBytes: usize, kc: i32, counts: usize): bool {
  if (rowBytes < 1024) return true;
  memory.fill(counts, 0, 64);
  for (let p = 0; p < kc; p++) {
    const set = ((<usize>p * rowBytes) >> 6) & 63;
    const count = <i32>load<u8>(counts + set) + 1;
    if (count > L1_WAYS) return false;
    store<u8>(counts + set, <u8>count);
  }
  return true;
}

/**
 * Packs rows pc..pc+kc of op(B) into column panels of NR, each kc×NR row-major, zero-padded
 * past column n, so the micro-kernel reads B contiguously.
 */
function packB(n: i32, kc: i32, pc: i32, b: usize, ldb: i32, transB: bool, out: usize): void {
  const rowBytes = <usize>ldb << 2;
  const panelBytes = <usize>(kc * NR) << 2;
  const full = transB ? 0 : n / NR;
  // Row by row, so that each row of B streams once even when rows alias in the cache.
  for (let p = 0; p < kc; p++) {
    const src = b + <usize>(pc + p) * rowBytes;
    let dst = out + (<usize>(p * NR) << 2);
    for (let j = 0; j < full; j++) {
      v128.store(dst, v128.load(src + (<usize>(j * NR) << 2)));
      v128.store(dst, v128.load(src + (<usize>(j * NR) << 2), 16), 16);
      dst += panelBytes;
    }
  }
  out += <usize>full * panelBytes;
  for (let j0 = full * NR; j0 < n; j0 += NR) {
    const w = min(NR, n - j0);
    let p = 0;
    if (transB && w == NR) {
      const src = b + <usize>j0 * rowBytes + (<usize>pc << 2);
      for (; p + 4 <= kc; p += 4) {
        const at = src + (<usize>p << 2);
        transpose4(at, rowBytes, out);
        transpose4(at + 4 * rowBytes, rowBytes, out + 16);
        out += 4 * NR << 2;
      }
    }
    if (w < NR) {
      // The last, partial panel: zeros, then its columns one by one.
      memory.fill(out, 0, <usize>(kc * NR) << 2);
      for (let c = 0; c < w; c++) {
        const colStep: usize = transB ? 4 : rowBytes;
        let src = transB ? b + <usize>(j0 + c) * rowBytes + (<usize>pc << 2) : b + <usize>pc * rowBytes + (<usize>(j0 + c) << 2);
        let dst = out + (<usize>c << 2);
        for (let q = 0; q < kc; q++) {
          store<f32>(dst, load<f32>(src));
          src += colStep;
          dst += NR << 2;
        }
      }
      return;
    }
    for (; p < kc; p++) {
      for (let c = 0; c < NR; c++) store<f32>(out + (<usize>c << 2), load<f32>(b + (<usize>(j0 + c) * rowBytes) + (<usize>(pc + p) << 2)));
      out += NR << 2;
    }
  }
}

/** Packs op(A) rows ic..ic+mc, depth pc..pc+kc, from a transposed store (k×m) into MR panels. */
function packATrans(mc: i32, kc: i32, ic: i32, pc: i32, a: usize, lda: i32, out: usize): void {
  const rowBytes = <usize>lda << 2;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const h = min(MR, mc - i0);
    let src = a + (<usize>pc * rowBytes) + (<usize>(ic + i0) << 2);
    if (h == MR) {
      for (let p = 0; p < kc; p++) {
        v128.store(out, v128.load(src));
        src += rowBytes;
        out += MR << 2;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) store<f32>(out + (<usize>r << 2), r < h ? load<f32>(src + (<usize>r << 2)) : 0);
        src += rowBytes;
        out += MR << 2;
      }
    }
  }
}

/**
 * The 4×8 register block: C[4×8] (+)= A[4×kc] · B[kc×8]. Row r of A at depth p is read at
 * a + offR + p·step (offsets 0, o1, o2, o3), row p of B at b + p·bStep, C rows are ldc apart.
 */
// @ts-ignore: decorator
@inline
function kernel(kc: i32, a: usize, o1: usize, o2: usize, o3: usize, step: usize, b: usize, bStep: usize, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = madd(av, b0, c00);
    c01 = madd(av, b1, c01);
    av = v128.load32_splat(a + o1);
    c10 = madd(av, b0, c10);
    c11 = madd(av, b1, c11);
    av = v128.load32_splat(a + o2);
    c20 = madd(av, b0, c20);
    c21 = madd(av, b1, c21);
    av = v128.load32_splat(a + o3);
    c30 = madd(av, b0, c30);
    c31 = madd(av, b1, c31);
    a += step;
    b += bStep;
  }
  const ldcBytes = ldc << 2;
  if (add) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldcBytes));
    c11 = f32x4.add(c11, v128.load(c + ldcBytes, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldcBytes));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldcBytes, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldcBytes));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldcBytes, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldcBytes, c10);
  v128.store(c + ldcBytes, c11, 16);
  v128.store(c + 2 * ldcBytes, c20);
  v128.store(c + 2 * ldcBytes, c21, 16);
  v128.store(c + 3 * ldcBytes, c30);
  v128.store(c + 3 * ldcBytes, c31, 16);
}

/**
 * One MR×NR tile of C at rows ic+ir, columns jr, depth block pc..pc+kc. A non-transposed A is read in
 * place through row offsets; tiles on the right or bottom edge go through the scratch `tile`.
 */
// @ts-ignore: decorator
@inline
function microTile(
  ir: i32, jr: i32, ic: i32, mc: i32, n: i32, kc: i32, pc: i32,
  a: usize, ldaBytes: usize, transA: bool, aPack: usize, bBlock: usize, bPanel: usize, bStep: usize,
  c: usize, ldc: i32, add: bool, tile: usize,
): void {
  const ldcBytes = <usize>ldc << 2;
  const w = min(NR, n - jr);
  const h = min(MR, mc - ir);
  const bp = bBlock + <usize>(jr / NR) * bPanel;
  let ap: usize, o1: usize, o2: usize, o3: usize, step: usize;
  if (transA) {
    ap = aPack + (<usize>(ir * kc) << 2);
    o1 = 4; o2 = 8; o3 = 12; step = MR << 2;
  } else {
    ap = a + <usize>(ic + ir) * ldaBytes + (<usize>pc << 2);
    // Rows past the edge re-read row 0; their results land only in the discarded part of the tile.
    o1 = h > 1 ? ldaBytes : 0;
    o2 = h > 2 ? 2 * ldaBytes : 0;
    o3 = h > 3 ? 3 * ldaBytes : 0;
    step = 4;
  }
  const cp = c + <usize>(ic + ir) * ldcBytes + (<usize>jr << 2);
  if (h == MR && w == NR) {
    kernel(kc, ap, o1, o2, o3, step, bp, bStep, cp, ldc, add);
    return;
  }
  kernel(kc, ap, o1, o2, o3, step, bp, bStep, tile, NR, false);
  for (let r = 0; r < h; r++) {
    const dst = cp + <usize>r * ldcBytes;
    const src = tile + (<usize>(r * NR) << 2);
    for (let q = 0; q < w; q++) {
      const off = <usize>q << 2;
      const v = load<f32>(src + off);
      store<f32>(dst + off, add ? load<f32>(dst + off) + v : v);
    }
  }
}

/**
 * C = op(A)·op(B) (+ C when `accumulate`) for rows ic0..ic1 of C, so that threads can share a
 * product (each with its own `work` area of `workBytes(ic1 - ic0, n, k)` bytes). A non-transposed A
 * is read in place, a transposed one is packed; B is packed per depth block unless the product is
 * short (DIRECT_B_ROWS) and B's rows do not alias in L1. Edge tiles go through a 4×8 scratch tile.
 */
export function gemmRows(
  ic0: i32, ic1: i32, n: i32, k: i32,
  a: usize, lda: i32, transA: bool,
  b: usize, ldb: i32, transB: bool,
  c: usize, ldc: i32, accumulate: bool, work: usize,
): void {
  const m = ic1 - ic0;
  if (m <= 0 || n <= 0) return;
  const kcMax = min(k, KC);
  const panelsB = (n + NR - 1) / NR;
  const bPack = work;
  const aPack = bPack + (<usize>(panelsB * NR * kcMax) << 2);
  const tile = aPack + (<usize>(((min(m, MC) + MR - 1) / MR) * MR * kcMax) << 2);
  const direct = !transB && m <= DIRECT_B_ROWS && rowsSpreadOverL1(<usize>ldb << 2, kcMax, tile + (MR * NR << 2));
  const ldaBytes = <usize>lda << 2;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const add = accumulate || pc > 0;
    const bBytes = panelsB * NR * kc * 4;
    const bBlock = direct ? b + (<usize>pc * (<usize>ldb << 2)) : bPack;
    // Byte distances in B between depths p and p+1, and between neighbouring panels of NR columns.
    const bStep: usize = direct ? <usize>ldb << 2 : <usize>(NR << 2);
    const bPanel: usize = direct ? <usize>(NR << 2) : <usize>(kc * NR) << 2;
    if (!direct) packB(n, kc, pc, b, ldb, transB, bPack);
    for (let ic = ic0; ic < ic1; ic += MC) {
      const mc = min(MC, ic1 - ic);
      if (transA) packATrans(mc, kc, ic, pc, a, lda, aPack);
      if (bBytes <= B_IN_L1) {
        for (let ir = 0; ir < mc; ir += MR) {
          for (let jr = 0; jr < n; jr += NR) {
            microTile(ir, jr, ic, mc, n, kc, pc, a, ldaBytes, transA, aPack, bBlock, bPanel, bStep, c, ldc, add, tile);
          }
        }
      } else {
        for (let jr = 0; jr < n; jr += NR) {
          for (let ir = 0; ir < mc; ir += MR) {
            microTile(ir, jr, ic, mc, n, kc, pc, a, ldaBytes, transA, aPack, bBlock, bPanel, bStep, c, ldc, add, tile);
          }
        }
      }
    }
  }
}
