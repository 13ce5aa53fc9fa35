import type { MatrixView } from "../gemm.js";
import { alignUp, heapOf, heapView } from "./engine.js";
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
  start(jobs: RowsJobs): void;
  ready(count: number): void;
  finish(): void;
}

/** The first 13 arguments of one `gemmRows` call (ic0, ic1, n, k, a, lda, transA, b, ldb, transB, c, ldc, accumulate); the thread that runs it adds its own work area. */
export type RowsJob = number[];

/**
 * The gemmRows jobs of one runGemm or runProducts call: jobs[0, count), and thread t's work area at
 * works[t]. One table serves every call, rewritten by the next: the jobs are read before it returns.
 */
export class RowsJobs {
  count = 0;
  readonly jobs: RowsJob[] = [];
  readonly works: number[] = [];
  /** The product (m×n×k) the jobs are parts of; m < 0: each job is a whole product of its own (runProducts). */
  private m = -1;
  private n = 0;
  private k = 0;

  /** The product(s) the jobs compute, as an error message names them: "64×120×256", or "64×256×120 and 120×256×64". */
  describe(): string {
    if (this.m >= 0) return `${this.m}×${this.n}×${this.k}`;
    return this.jobs.slice(0, this.count).map((j) => `${j[1]}×${j[2]}×${j[3]}`).join(" and ");
  }

  /** Empties the table for the jobs of one m×n×k product (m < 0: of whole products). */
  clear(m: number, n: number, k: number): void {
    this.count = 0;
    this.m = m;
    this.n = n;
    this.k = k;
  }

  /** Appends a job: gemmRows' first 13 arguments. */
  add(
    ic0: number, ic1: number, n: number, k: number, a: number, lda: number, transA: number,
    b: number, ldb: number, transB: number, c: number, ldc: number, accumulate: number,
  ): void {
    if (this.count === this.jobs.length) this.jobs.push(new Array<number>(13).fill(0));
    const j = this.jobs[this.count++]!;
    j[0] = ic0; j[1] = ic1; j[2] = n; j[3] = k; j[4] = a; j[5] = lda; j[6] = transA;
    j[7] = b; j[8] = ldb; j[9] = transB; j[10] = c; j[11] = ldc; j[12] = accumulate;
  }
}

/**
 * The one table of runGemm and runProducts. Safe because their calls cannot nest: nothing between a
 * call's clear() and its last read of the jobs runs a GEMM (the runners it calls only run these jobs).
 */
const table = new RowsJobs();

export interface FloatMatrix32 {
  data: Float32Array;
  offset: number;
  ld: number;
}

/**
 * The leading dimension a stored rows×cols matrix with leading dimension `ld` keeps when copied into wasm
 * memory: its own (one bulk copy) unless the gaps would more than double the bytes copied, else cols.
 */
function copiedLd(rows: number, cols: number, ld: number): number {
  if (rows <= 1 || ld === cols) return cols;
  return (rows - 1) * ld + cols <= 2 * rows * cols ? ld : cols;
}

/** Bytes a stored rows×cols matrix with leading dimension `ld` spans from its element (0, 0). */
const spanBytes = (rows: number, cols: number, ld: number): number => ((rows - 1) * ld + cols) * 4;

/**
 * The byte address of element (0, 0) of a matrix stored in `data` from `offset` when that array is resident
 * storage in `memory` (resident-storage.ts): the kernel reads it (writes C) there, with its own leading
 * dimension. -1 otherwise (it is copied in).
 */
function inPlace(memory: WasmMemory, data: Float32Array, offset: number): number {
  const at = addressOf(memory, data);
  return at < 0 ? -1 : at + offset * 4;
}

/** Whether byte ranges [x, x + xBytes) and [y, y + yBytes) meet. */
const overlaps = (x: number, xBytes: number, y: number, yBytes: number): boolean => x < y + yBytes && y < x + xBytes;

function copyIn(heap: Float32Array, at: number, src: Float32Array, offset: number, rows: number, cols: number, ld: number, dstLd: number): void {
  const base = at >> 2;
  if (dstLd === ld || rows <= 1) {
    const floats = (rows - 1) * ld + cols;
    // The whole array (most operands) without a subarray: one object less per copy.
    heap.set(offset === 0 && floats === src.length ? src : src.subarray(offset, offset + floats), base);
    return;
  }
  for (let r = 0; r < rows; r++) heap.set(src.subarray(offset + r * ld, offset + r * ld + cols), base + r * dstLd);
}

function copyOut(target: WasmInstance<unknown>, heap: Float32Array, at: number, dst: Float32Array, offset: number, rows: number, cols: number, ld: number): void {
  const base = at >> 2;
  if (ld === cols || rows <= 1) {
    dst.set(heapView(target, heap, at, rows * cols), offset);
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

type Axis = "rows" | "columns" | "depth" | "none";

/** How `cut` cuts a product: along `axis` into `count` blocks of `step` (the last one shorter). */
interface Cut {
  axis: Axis;
  step: number;
  count: number;
}

/** The one record `cut` fills (read before its next call). */
const theCut: Cut = { axis: "none", step: 0, count: 1 };

/**
 * Cuts the product into at most `parts` blocks along whichever dimension allows the most: rows of C
 * (MR multiples), else columns (NR multiples), else, for a small C with a long depth, the depth (the
 * blocks' partial products are then summed). On a tie between rows and columns, `columnsFirst` takes columns.
 */
function cut(m: number, n: number, k: number, parts: number, columnsFirst = false): Cut {
  const byRows = Math.min(parts, Math.floor(m / MIN_BLOCK_ROWS));
  const byCols = Math.min(parts, Math.floor(n / MIN_BLOCK_COLS));
  const byDepth = m * n <= MAX_DEPTH_SPLIT_C ? Math.min(parts, Math.floor(k / MIN_BLOCK_DEPTH)) : 0;
  let axis: Axis = "none";
  let length = m;
  let step = m;
  if (byRows >= 2 && byRows >= byCols && byRows >= byDepth && !(columnsFirst && byCols === byRows)) {
    axis = "rows";
    step = Math.ceil(m / byRows / MR) * MR;
  } else if (byCols >= 2 && byCols >= byDepth) {
    axis = "columns";
    length = n;
    step = Math.ceil(n / byCols / NR) * NR;
  } else if (byDepth >= 2) {
    axis = "depth";
    length = k;
    step = Math.ceil(k / byDepth);
  }
  theCut.axis = axis;
  theCut.step = step;
  theCut.count = Math.ceil(length / step);
  return theCut;
}

/** How runGemm cuts a product into `parts`: by rows or columns of C (each element summed as by one job), by depth, or not at all. */
export function splitAxis(m: number, n: number, k: number, parts: number): Axis {
  const c = cut(m, n, k, parts);
  return c.count === 1 ? "none" : c.axis;
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
  execute: (jobs: RowsJobs) => void,
  staged?: StagedJobs,
  residentB?: number,
): boolean {
  const aRows = a.trans ? k : m;
  const aCols = a.trans ? m : k;
  const bRows = b.trans ? n : k;
  const bCols = b.trans ? k : n;
  const aOwn = inPlace(target.memory, a.data as Float32Array, a.offset);
  const bOwn = residentB ?? inPlace(target.memory, b.data as Float32Array, b.offset);
  let cOwn = inPlace(target.memory, c.data, c.offset);
  if (cOwn >= 0) {
    const cBytes = spanBytes(m, n, c.ld);
    if ((aOwn >= 0 && overlaps(cOwn, cBytes, aOwn, spanBytes(aRows, aCols, a.ld))) || (bOwn >= 0 && overlaps(cOwn, cBytes, bOwn, spanBytes(bRows, bCols, b.ld)))) cOwn = -1;
  }
  // Each operand copied in goes after the last, with the leading dimension copiedLd gives it.
  let end = alignUp(target.exports.heapBase());
  const lda = aOwn >= 0 ? a.ld : copiedLd(aRows, aCols, a.ld);
  const aAt = aOwn >= 0 ? aOwn : end;
  if (aOwn < 0) end = alignUp(end + spanBytes(aRows, aCols, lda));
  const ldb = bOwn >= 0 ? b.ld : copiedLd(bRows, bCols, b.ld);
  const bAt = bOwn >= 0 ? bOwn : end;
  if (bOwn < 0) end = alignUp(end + spanBytes(bRows, bCols, ldb));
  const cAt = cOwn >= 0 ? cOwn : end;
  const cLd = cOwn >= 0 ? c.ld : n;
  if (cOwn < 0) end = alignUp(end + m * n * 4);
  // Each job packs all of a transposed B for its rows, but only its own columns of it; A read in place
  // (nothing to stage) and not transposed is packed by neither: a tie goes to columns.
  const { axis, step, count } = cut(m, n, k, chunks, b.trans && !a.trans && aOwn >= 0);
  // Depth blocks after the first write their partial products beside C (dense) from `partials` on, to be summed into it.
  const partials = end;
  const partialBytes = alignUp(m * n * 4);
  const jobs = table;
  jobs.clear(m, n, k);
  for (let j = 0; j < count; j++) {
    const lo = j * step;
    const i0 = axis === "rows" ? lo : 0;
    const i1 = axis === "rows" ? Math.min(m, lo + step) : m;
    const j0 = axis === "columns" ? lo : 0;
    const j1 = axis === "columns" ? Math.min(n, lo + step) : n;
    const p0 = axis === "depth" ? lo : 0;
    const p1 = axis === "depth" ? Math.min(k, lo + step) : k;
    const aOffset = a.trans ? p0 * lda : p0;
    const bOffset = b.trans ? j0 * ldb + p0 : p0 * ldb + j0;
    const cOut = p0 > 0 ? partials + (j - 1) * partialBytes : cAt + j0 * 4;
    const add = accumulate && p0 === 0 ? 1 : 0;
    jobs.add(i0, i1, j1 - j0, p1 - p0, aAt + aOffset * 4, lda, a.trans ? 1 : 0, bAt + bOffset * 4, ldb, b.trans ? 1 : 0, cOut, p0 > 0 ? n : cLd, add);
  }
  if (axis === "depth") end = partials + (count - 1) * partialBytes;
  // The first block is the largest along the cut.
  const first = jobs.jobs[0]!;
  end = workAreas(target, jobs, end, threads, first[1]! - first[0]!, first[2]!, first[3]!);
  const heap = heapOf(target, end);
  if (heap === null) return false;
  if (bOwn < 0) copyIn(heap, bAt, b.data as Float32Array, b.offset, bRows, bCols, b.ld, ldb);
  if (accumulate && cOwn < 0) copyIn(heap, cAt, c.data, c.offset, m, n, c.ld, n);
  if (staged !== undefined && axis === "rows" && count > 1 && !a.trans && aOwn < 0) {
    staged.start(jobs);
    try {
      for (let j = 0; j < count; j++) {
        const i0 = j * step;
        copyIn(heap, aAt + i0 * lda * 4, a.data as Float32Array, a.offset + i0 * a.ld, Math.min(m, i0 + step) - i0, aCols, a.ld, lda);
        staged.ready(j + 1);
      }
    } finally {
      staged.ready(count);
      staged.finish();
    }
  } else {
    if (aOwn < 0) copyIn(heap, aAt, a.data as Float32Array, a.offset, aRows, aCols, a.ld, lda);
    execute(jobs);
  }
  // A shared memory's buffer object can change when another thread grows it; a local one cannot here.
  const result = heapOf(target, end) ?? heap;
  if (axis === "depth") {
    const to = cAt >> 2;
    for (let p = 1; p < count; p++) {
      const from = (partials + (p - 1) * partialBytes) >> 2;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) result[to + i * cLd + j] = result[to + i * cLd + j]! + result[from + i * n + j]!;
      }
    }
  }
  if (cOwn < 0) copyOut(target, result, cAt, c.data, c.offset, m, n, c.ld);
  return true;
}

/** Runs the jobs one after the other on the calling thread, in thread 0's work area. */
export function runJobs(exports: GemmExports, jobs: RowsJobs): void {
  for (let i = 0; i < jobs.count; i++) runJob(exports, jobs, i, jobs.works[0]!);
}

/** Runs job `i` in the work area at `work`. */
export function runJob(exports: GemmExports, jobs: RowsJobs, i: number, work: number): void {
  const j = jobs.jobs[i]!;
  exports.gemmRows(j[0]!, j[1]!, j[2]!, j[3]!, j[4]!, j[5]!, j[6]!, j[7]!, j[8]!, j[9]!, j[10]!, j[11]!, j[12]!, work);
}

/** One gemmRows work area per thread from byte `start` into jobs.works, for jobs up to rows × cols × depth; returns the end of the last. */
function workAreas(target: WasmInstance<GemmExports>, jobs: RowsJobs, start: number, threads: number, rows: number, cols: number, depth: number): number {
  const workBytes = target.exports.workBytes(rows, cols, depth);
  let end = start;
  for (let t = 0; t < threads; t++) {
    jobs.works[t] = end;
    end = alignUp(end + workBytes);
  }
  return end;
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

/** Where runProducts puts one operand (A or B) of a product: byte address, leading dimension, and whether it is copied in (else read in place). */
interface OperandPlacement {
  at: number;
  ld: number;
  copied: boolean;
  /** Copied by an earlier product that reads the same stored matrix (copiedBefore): read from its copy. */
  shared: boolean;
}

/** Where runProducts puts one product's operands, and whether its C is copied out (else written in place). */
interface Placement {
  a: OperandPlacement;
  b: OperandPlacement;
  cAt: number;
  ldc: number;
  cCopied: boolean;
}

/** runProducts' placements, one per product, reused from call to call. */
const placements: Placement[] = [];

/**
 * The address of an earlier product's copy of the same stored rows×cols matrix (array, offset, leading
 * dimension), or -1: a linear layer's two gradient products both read g, which is then copied in once.
 */
function copiedBefore(products: readonly Product[], p: number, data: MatrixView["data"], offset: number, ld: number, rows: number, cols: number): number {
  for (let q = 0; q < p; q++) {
    const { m, n, k, a, b } = products[q]!;
    const s = placements[q]!;
    if (s.a.copied && a.data === data && a.offset === offset && a.ld === ld && (a.trans ? k : m) === rows && (a.trans ? m : k) === cols) return s.a.at;
    if (s.b.copied && b.data === data && b.offset === offset && b.ld === ld && (b.trans ? n : k) === rows && (b.trans ? k : n) === cols) return s.b.at;
  }
  return -1;
}

/**
 * Places product p's operand `view`, stored rows×cols, whose `o.at` says where it lies in place (-1: not
 * resident): there, in an earlier product's copy of it, or copied in at byte `end`. Returns the new end.
 */
function placeOperand(o: OperandPlacement, products: readonly Product[], p: number, view: MatrixView, rows: number, cols: number, end: number): number {
  o.copied = o.at < 0;
  o.ld = o.copied ? copiedLd(rows, cols, view.ld) : view.ld;
  o.shared = false;
  if (!o.copied) return end;
  const at = copiedBefore(products, p, view.data, view.offset, view.ld, rows, cols);
  o.shared = at >= 0;
  o.at = o.shared ? at : end;
  return o.shared ? end : alignUp(end + spanBytes(rows, cols, o.ld));
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
  products: readonly Product[],
  threads: number,
  staged: StagedJobs,
): boolean {
  const memory = target.memory;
  while (placements.length < products.length) {
    placements.push({ a: { at: 0, ld: 0, copied: false, shared: false }, b: { at: 0, ld: 0, copied: false, shared: false }, cAt: 0, ldc: 0, cCopied: false });
  }
  for (let p = 0; p < products.length; p++) {
    const { a, b, c } = products[p]!;
    const s = placements[p]!;
    s.a.at = inPlace(memory, a.data as Float32Array, a.offset);
    s.b.at = inPlace(memory, b.data as Float32Array, b.offset);
    s.cAt = inPlace(memory, c.data, c.offset);
  }
  // A C written in place must not be what another product (or its own) reads or writes: else it is copied.
  for (let p = 0; p < products.length; p++) {
    const s = placements[p]!;
    s.cCopied = s.cAt < 0;
    if (s.cCopied) continue;
    const bytes = spanBytes(products[p]!.m, products[p]!.n, products[p]!.c.ld);
    for (let q = 0; q < products.length && !s.cCopied; q++) {
      const { m, n, k, a, b, c } = products[q]!;
      const o = placements[q]!;
      s.cCopied =
        (o.a.at >= 0 && overlaps(s.cAt, bytes, o.a.at, a.trans ? spanBytes(k, m, a.ld) : spanBytes(m, k, a.ld))) ||
        (o.b.at >= 0 && overlaps(s.cAt, bytes, o.b.at, b.trans ? spanBytes(n, k, b.ld) : spanBytes(k, n, b.ld))) ||
        (q !== p && o.cAt >= 0 && overlaps(s.cAt, bytes, o.cAt, spanBytes(m, n, c.ld)));
    }
  }
  let end = alignUp(target.exports.heapBase());
  const jobs = table;
  jobs.clear(-1, 0, 0);
  let rows = 0;
  let cols = 0;
  let depth = 0;
  for (let p = 0; p < products.length; p++) {
    const { m, n, k, a, b, c, accumulate } = products[p]!;
    const s = placements[p]!;
    end = placeOperand(s.a, products, p, a, a.trans ? k : m, a.trans ? m : k, end);
    end = placeOperand(s.b, products, p, b, b.trans ? n : k, b.trans ? k : n, end);
    s.ldc = s.cCopied ? n : c.ld;
    if (s.cCopied) {
      s.cAt = end;
      end = alignUp(end + m * n * 4);
    }
    jobs.add(0, m, n, k, s.a.at, s.a.ld, a.trans ? 1 : 0, s.b.at, s.b.ld, b.trans ? 1 : 0, s.cAt, s.ldc, accumulate ? 1 : 0);
    rows = Math.max(rows, m);
    cols = Math.max(cols, n);
    depth = Math.max(depth, k);
  }
  end = workAreas(target, jobs, end, threads, rows, cols, depth);
  const heap = heapOf(target, end);
  if (heap === null) return false;
  staged.start(jobs);
  try {
    for (let p = 0; p < products.length; p++) {
      const { m, n, k, a, b, c, accumulate } = products[p]!;
      const s = placements[p]!;
      if (s.a.copied && !s.a.shared) copyIn(heap, s.a.at, a.data as Float32Array, a.offset, a.trans ? k : m, a.trans ? m : k, a.ld, s.a.ld);
      if (s.b.copied && !s.b.shared) copyIn(heap, s.b.at, b.data as Float32Array, b.offset, b.trans ? n : k, b.trans ? k : n, b.ld, s.b.ld);
      if (accumulate && s.cCopied) copyIn(heap, s.cAt, c.data, c.offset, m, n, c.ld, n);
      staged.ready(p + 1);
    }
  } finally {
    staged.ready(products.length);
    staged.finish();
  }
  const result = heapOf(target, end) ?? heap;
  for (let p = 0; p < products.length; p++) {
    const { m, n, c } = products[p]!;
    const s = placements[p]!;
    if (s.cCopied) copyOut(target, result, s.cAt, c.data, c.offset, m, n, c.ld);
  }
  return true;
}
