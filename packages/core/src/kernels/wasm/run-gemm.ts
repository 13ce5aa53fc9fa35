import type { MatrixView } from "../gemm.js";
import { alignUp, heapOf } from "./engine.js";
import type { WasmInstance } from "./engine.js";
import { addressOf } from "./resident-storage.js";
import type { GemmExports, WasmMemory } from "./wasm-api.js";

/** The micro-kernel's register block in assembly/gemm.ts: row splits keep MR multiples, column splits NR. */
const MR = 4;
const NR = 8;
/**
 * Jobs that start while the calling thread still copies their input in: `start` opens them with none
 * ready, `ready(count)` lets jobs [0, count) go, `finish` has the calling thread help and then waits.
 */
export interface StagedJobs {
  start(jobs: RowsJob[], works: number[]): void;
  ready(count: number): void;
  finish(): void;
}

/** The first 13 arguments of one `gemmRows` call (ic0, ic1, n, k, a, lda, transA, b, ldb, transB, c, ldc, accumulate); the thread that runs it adds its own work area. */
export type RowsJob = number[];

export interface FloatMatrix32 {
  data: Float32Array;
  offset: number;
  ld: number;
}

/**
 * Where a stored rows×cols matrix with leading dimension `ld` goes in wasm memory: kept with its
 * own `ld` (one bulk copy) unless the gaps would more than double the bytes copied.
 */
function layoutOf(rows: number, cols: number, ld: number): { ld: number; elements: number } {
  if (rows <= 1 || ld === cols) return { ld: cols, elements: rows * cols };
  const span = (rows - 1) * ld + cols;
  return span <= 2 * rows * cols ? { ld, elements: span } : { ld: cols, elements: rows * cols };
}

/** An operand read (C written) where it lies: its byte address and leading dimension (inPlace). */
interface InPlace {
  at: number;
  ld: number;
}

/**
 * Where the kernel reads an operand: in place (`own`, see inPlace), else copied to byte `end` as layoutOf
 * lays it out; with the layout's end after it (`end` unchanged in place).
 */
function place(own: InPlace | null, rows: number, cols: number, ld: number, end: number): { at: number; ld: number; end: number } {
  if (own !== null) return { at: own.at, ld: own.ld, end };
  const l = layoutOf(rows, cols, ld);
  return { at: end, ld: l.ld, end: alignUp(end + l.elements * 4) };
}

/**
 * Where the kernel reads a stored rows×cols matrix in place: the byte address of its element (0, 0) and its
 * leading dimension when its array is resident storage in `memory` (resident-storage.ts), else null (it is
 * copied in).
 */
function inPlace(memory: WasmMemory, data: Float32Array, offset: number, ld: number): InPlace | null {
  const at = addressOf(memory, data);
  return at < 0 ? null : { at: at + offset * 4, ld };
}

/** Byte range [from, to) that a stored rows×cols matrix at byte `at` with leading dimension `ld` spans. */
function spanOf(at: number, rows: number, cols: number, ld: number): [number, number] {
  return [at, at + ((rows - 1) * ld + cols) * 4];
}

const overlaps = (x: [number, number], y: [number, number]): boolean => x[0] < y[1] && y[0] < x[1];

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

/** Fewest rows per panel when B alone fills the budget: fewer would copy B in again too often. */
const MIN_PANEL_ROWS = 64;

/**
 * Rows of C per runGemm call so that the operands one call copies into wasm memory stay within
 * `budget` bytes: all of m when they fit, else panels of A's and C's rows (MR multiples), each of
 * which copies B again. A stored with gaps between rows may be copied with them, up to twice its
 * elements (see layoutOf), so such operands count double.
 */
export function panelRows(m: number, n: number, k: number, a: MatrixView, b: MatrixView, budget: number): number {
  const aDense = a.trans ? a.ld === m : a.ld === k;
  const bDense = b.trans ? b.ld === k : b.ld === n;
  const bBytes = (bDense ? 1 : 2) * k * n * 4;
  const rowBytes = ((aDense ? 1 : 2) * k + n) * 4;
  if (bBytes + m * rowBytes <= budget) return m;
  // A panel of a transposed or gappy A is copied with gaps only up to twice its size, whatever m is.
  const panelRowBytes = (2 * k + n) * 4;
  const rows = Math.floor((budget - bBytes) / panelRowBytes / MR) * MR;
  return Math.min(m, Math.max(MIN_PANEL_ROWS, rows));
}

/** op(A) restricted to rows [i0, …) of the product. */
export function rowsFrom(a: MatrixView, i0: number): MatrixView {
  return { ...a, offset: a.offset + (a.trans ? i0 : i0 * a.ld) };
}

/** Least rows, columns and depth per block: smaller blocks would spend too much on repacking the other operand or on the reduction. */
const MIN_BLOCK_ROWS = 16;
const MIN_BLOCK_COLS = 32;
const MIN_BLOCK_DEPTH = 256;
/** A depth split sums partial products of C, so it is used only for a C this small. */
const MAX_DEPTH_SPLIT_C = 16384;

/** How `split` cuts a product into `parts`: by rows or columns of C (each element summed as by one job), by depth, or not at all. */
export function splitAxis(m: number, n: number, k: number, parts: number): "rows" | "columns" | "depth" | "none" {
  const blocks = split(m, n, k, parts);
  if (blocks.length === 1) return "none";
  return blocks[0]!.p1 < k ? "depth" : blocks[0]!.i1 < m ? "rows" : "columns";
}

interface Block {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  p0: number;
  p1: number;
}

/**
 * Cuts the product into at most `parts` blocks along whichever dimension allows the most: rows of C
 * (MR multiples), else columns (NR multiples), else, for a small C with a long depth, the depth (the
 * blocks' partial products are then summed).
 */
function split(m: number, n: number, k: number, parts: number): Block[] {
  const byRows = Math.min(parts, Math.floor(m / MIN_BLOCK_ROWS));
  const byCols = Math.min(parts, Math.floor(n / MIN_BLOCK_COLS));
  const byDepth = m * n <= MAX_DEPTH_SPLIT_C ? Math.min(parts, Math.floor(k / MIN_BLOCK_DEPTH)) : 0;
  const out: Block[] = [];
  if (byRows >= 2 && byRows >= byCols && byRows >= byDepth) {
    const step = Math.ceil(m / byRows / MR) * MR;
    for (let i0 = 0; i0 < m; i0 += step) out.push({ i0, i1: Math.min(m, i0 + step), j0: 0, j1: n, p0: 0, p1: k });
  } else if (byCols >= 2 && byCols >= byDepth) {
    const step = Math.ceil(n / byCols / NR) * NR;
    for (let j0 = 0; j0 < n; j0 += step) out.push({ i0: 0, i1: m, j0, j1: Math.min(n, j0 + step), p0: 0, p1: k });
  } else if (byDepth >= 2) {
    const step = Math.ceil(k / byDepth);
    for (let p0 = 0; p0 < k; p0 += step) out.push({ i0: 0, i1: m, j0: 0, j1: n, p0, p1: Math.min(k, p0 + step) });
  } else {
    out.push({ i0: 0, i1: m, j0: 0, j1: n, p0: 0, p1: k });
  }
  return out;
}

/**
 * C = op(A)·op(B) (+ C) on one module instance, m, n, k > 0, float32 only: copies A, B (and C when
 * accumulating) into its memory, has `execute` run the `gemmRows` jobs (the product cut into up to
 * `chunks` blocks) with one work area per thread (`threads` of them), and copies C back. An operand whose
 * array is resident storage in the instance's memory is read (C written) where it is instead, with its own
 * leading dimension (C only when it overlaps neither A nor B). With `staged` and a product cut by rows of
 * a non-transposed A that is copied, the jobs start instead as soon as B and their own rows of A are in, so
 * that copying A overlaps computing. With `residentB`, B is already in the memory at that address (a
 * PreparedMatrix), stored as `b` says with leading dimension `b.ld`, and is not copied. Returns false,
 * having done nothing, when the memory cannot grow to hold the operands.
 */
export function runGemm(
  target: WasmInstance<GemmExports>,
  m: number, n: number, k: number,
  a: MatrixView, b: MatrixView, c: FloatMatrix32,
  accumulate: boolean,
  threads: number,
  chunks: number,
  execute: (jobs: RowsJob[], works: number[]) => void,
  staged?: StagedJobs,
  residentB?: number,
): boolean {
  const aRows = a.trans ? k : m;
  const aCols = a.trans ? m : k;
  const bRows = b.trans ? n : k;
  const bCols = b.trans ? k : n;
  const aOwn = inPlace(target.memory, a.data as Float32Array, a.offset, a.ld);
  const bOwn = residentB === undefined ? inPlace(target.memory, b.data as Float32Array, b.offset, b.ld) : { at: residentB, ld: b.ld };
  let cOwn = inPlace(target.memory, c.data, c.offset, c.ld);
  if (cOwn !== null) {
    const cSpan = spanOf(cOwn.at, m, n, cOwn.ld);
    if ((aOwn !== null && overlaps(cSpan, spanOf(aOwn.at, aRows, aCols, aOwn.ld))) || (bOwn !== null && overlaps(cSpan, spanOf(bOwn.at, bRows, bCols, bOwn.ld)))) cOwn = null;
  }
  const la = place(aOwn, aRows, aCols, a.ld, alignUp(target.exports.heapBase()));
  const lb = place(bOwn, bRows, bCols, b.ld, la.end);
  let end = lb.end;
  const aAt = la.at;
  const bAt = lb.at;
  const cAt = cOwn?.at ?? end;
  const cLd = cOwn?.ld ?? n;
  if (cOwn === null) end = alignUp(end + m * n * 4);
  const jobs: RowsJob[] = [];
  const partials: number[] = [];
  let rows = 0;
  let cols = 0;
  let depth = 0;
  const blocks = split(m, n, k, chunks);
  for (const { i0, i1, j0, j1, p0, p1 } of blocks) {
    const aOffset = a.trans ? p0 * la.ld : p0;
    const bOffset = b.trans ? j0 * lb.ld + p0 : p0 * lb.ld + j0;
    // Depth blocks after the first write their partial products beside C (dense), to be summed into it.
    let cOut = cAt + j0 * 4;
    let ldc = cLd;
    if (p0 > 0) {
      cOut = end;
      ldc = n;
      partials.push(end);
      end = alignUp(end + m * n * 4);
    }
    const add = accumulate && p0 === 0 ? 1 : 0;
    jobs.push([i0, i1, j1 - j0, p1 - p0, aAt + aOffset * 4, la.ld, a.trans ? 1 : 0, bAt + bOffset * 4, lb.ld, b.trans ? 1 : 0, cOut, ldc, add]);
    rows = Math.max(rows, i1 - i0);
    cols = Math.max(cols, j1 - j0);
    depth = Math.max(depth, p1 - p0);
  }
  const areas = workAreas(target, end, threads, rows, cols, depth);
  const works = areas.works;
  end = areas.end;
  const heap = heapOf(target, end);
  if (heap === null) return false;
  if (bOwn === null) copyIn(heap, bAt, b.data as Float32Array, b.offset, bRows, bCols, b.ld, lb.ld);
  if (accumulate && cOwn === null) copyIn(heap, cAt, c.data, c.offset, m, n, c.ld, n);
  const byRows = blocks.length > 1 && !a.trans && blocks.every((bl) => bl.j0 === 0 && bl.j1 === n && bl.p0 === 0 && bl.p1 === k);
  if (staged !== undefined && byRows && aOwn === null) {
    staged.start(jobs, works);
    try {
      blocks.forEach(({ i0, i1 }, j) => {
        copyIn(heap, aAt + i0 * la.ld * 4, a.data as Float32Array, a.offset + i0 * a.ld, i1 - i0, aCols, a.ld, la.ld);
        staged.ready(j + 1);
      });
    } finally {
      staged.ready(jobs.length);
      staged.finish();
    }
  } else {
    if (aOwn === null) copyIn(heap, aAt, a.data as Float32Array, a.offset, aRows, aCols, a.ld, la.ld);
    execute(jobs, works);
  }
  // A shared memory's buffer object can change when another thread grows it; a local one cannot here.
  const result = heapOf(target, end) ?? heap;
  for (const at of partials) {
    const from = at >> 2;
    const to = cAt >> 2;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) result[to + i * cLd + j] = result[to + i * cLd + j]! + result[from + i * n + j]!;
    }
  }
  if (cOwn === null) copyOut(result, cAt, c.data, c.offset, m, n, c.ld);
  return true;
}

/** Runs jobs one after the other on the calling thread, in the work area at `work`. */
export function runJobs(exports: GemmExports, jobs: RowsJob[], work: number): void {
  for (const j of jobs) exports.gemmRows(j[0]!, j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!, j[7]!, j[8]!, j[9]!, j[10]!, j[11]!, j[12]!, work);
}

/** One gemmRows work area per thread from byte `start`, for jobs up to rows × cols × depth; `end` after the last. */
function workAreas(target: WasmInstance<GemmExports>, start: number, threads: number, rows: number, cols: number, depth: number): { works: number[]; end: number } {
  const workBytes = target.exports.workBytes(rows, cols, depth);
  const works: number[] = [];
  let end = start;
  for (let t = 0; t < threads; t++) {
    works.push(end);
    end = alignUp(end + workBytes);
  }
  return { works, end };
}

/** One product of runProducts: C = op(A)·op(B) (+ C), m, n, k > 0, float32. */
export interface Product {
  m: number;
  n: number;
  k: number;
  a: MatrixView;
  b: MatrixView;
  c: FloatMatrix32;
  accumulate: boolean;
}

/**
 * Independent products on one module instance, each as one whole `gemmRows` job (so each packs only its
 * own operands, and computes what gemmWasmLocal's one job would, bit for bit), with one work area per
 * thread (`threads` of them), staged: a product's job starts as soon as its own operands are in, while the
 * calling thread copies the next one's; then every C is copied back. False, having done nothing, when the
 * memory cannot grow to hold them.
 */
export function runProducts(
  target: WasmInstance<GemmExports>,
  products: Product[],
  threads: number,
  staged: StagedJobs,
): boolean {
  let end = alignUp(target.exports.heapBase());
  const jobs: RowsJob[] = [];
  const copies: ((heap: Float32Array) => void)[] = [];
  const outs: ((heap: Float32Array) => void)[] = [];
  let rows = 0;
  let cols = 0;
  let depth = 0;
  const written: [number, number][] = [];
  const read: [number, number][] = [];
  const own: [InPlace | null, InPlace | null, InPlace | null][] = [];
  for (const { m, n, k, a, b, c } of products) {
    const aOwn = inPlace(target.memory, a.data as Float32Array, a.offset, a.ld);
    const bOwn = inPlace(target.memory, b.data as Float32Array, b.offset, b.ld);
    const cOwn = inPlace(target.memory, c.data, c.offset, c.ld);
    if (aOwn !== null) read.push(a.trans ? spanOf(aOwn.at, k, m, aOwn.ld) : spanOf(aOwn.at, m, k, aOwn.ld));
    if (bOwn !== null) read.push(b.trans ? spanOf(bOwn.at, n, k, bOwn.ld) : spanOf(bOwn.at, k, n, bOwn.ld));
    if (cOwn !== null) written.push(spanOf(cOwn.at, m, n, cOwn.ld));
    own.push([aOwn, bOwn, cOwn]);
  }
  // A C written in place must not be what another product (or its own) reads or writes: else it is copied.
  products.forEach(({ m, n }, p) => {
    const cOwn = own[p]![2];
    if (cOwn === null) return;
    const span = spanOf(cOwn.at, m, n, cOwn.ld);
    const clashes = read.some((r) => overlaps(r, span)) || written.filter((w) => overlaps(w, span)).length > 1;
    if (clashes) own[p]![2] = null;
  });
  products.forEach(({ m, n, k, a, b, c, accumulate }, p) => {
    const [aOwn, bOwn, cOwn] = own[p]!;
    const [aRows, aCols] = a.trans ? [k, m] : [m, k];
    const [bRows, bCols] = b.trans ? [n, k] : [k, n];
    const la = place(aOwn, aRows, aCols, a.ld, end);
    const lb = place(bOwn, bRows, bCols, b.ld, la.end);
    end = lb.end;
    const aAt = la.at;
    const bAt = lb.at;
    const cAt = cOwn?.at ?? end;
    if (cOwn === null) end = alignUp(end + m * n * 4);
    jobs.push([0, m, n, k, aAt, la.ld, a.trans ? 1 : 0, bAt, lb.ld, b.trans ? 1 : 0, cAt, cOwn?.ld ?? n, accumulate ? 1 : 0]);
    copies.push((heap) => {
      if (aOwn === null) copyIn(heap, aAt, a.data as Float32Array, a.offset, aRows, aCols, a.ld, la.ld);
      if (bOwn === null) copyIn(heap, bAt, b.data as Float32Array, b.offset, bRows, bCols, b.ld, lb.ld);
      if (accumulate && cOwn === null) copyIn(heap, cAt, c.data, c.offset, m, n, c.ld, n);
    });
    if (cOwn === null) outs.push((heap) => copyOut(heap, cAt, c.data, c.offset, m, n, c.ld));
    rows = Math.max(rows, m);
    cols = Math.max(cols, n);
    depth = Math.max(depth, k);
  });
  const areas = workAreas(target, end, threads, rows, cols, depth);
  const works = areas.works;
  end = areas.end;
  const heap = heapOf(target, end);
  if (heap === null) return false;
  staged.start(jobs, works);
  try {
    copies.forEach((copy, j) => {
      copy(heap);
      staged.ready(j + 1);
    });
  } finally {
    staged.ready(jobs.length);
    staged.finish();
  }
  const result = heapOf(target, end) ?? heap;
  for (const out of outs) out(result);
  return true;
}
