import type { BatchNormResidualGradient, BatchNormSync } from "../batch-norm.js";
import { heapOf, Layout } from "./engine.js";
import { offerOutput, takeOutput } from "./handoff.js";
import { addressOf } from "./resident-storage.js";
import { target } from "./elementwise-wasm.js";
import type { Target } from "./elementwise-wasm.js";
import { runStagedJobs } from "./staged-jobs.js";
import { MAX_JOBS } from "./thread-pool.js";

// The loader of assembly/batch-norm.ts: batch norm over axis 1 of a packed float32 [n, c, s] array
// (optionally with the ReLU that follows it fused in), in blocks of images × channels. Each direction runs
// in two phases, a block at a time: the forward copies a block of x in and takes its statistics, then,
// once the channels' statistics are combined, normalises each block and copies it out; the backward copies
// x and g in and sums, then writes dx block by block and copies it out. On one thread a block of the first
// phase is computed right after it is copied in, while it is still in the core's cache (one pass over main
// memory instead of two or three); the second phase goes in large blocks, which copy out faster. On the
// threads the copies, which only the calling thread can make (it alone reads the JavaScript arrays), are
// staged: the workers compute the blocks already in while the calling thread copies the next, and copies
// out each block once done. The statistics and sums are per unit of `group` images × 1 channel (fixed by
// the shape), added in image order, so the results are the same bits whatever the blocks and threads.

/** elementwiseJob's kind for batch norm (assembly/elementwise.ts); its first argument is the step. */
const BATCH_NORM = 0;
/** The steps of assembly/batch-norm.ts's batchNormJob. */
const STATISTICS = 0;
const FINISH_STATISTICS = 1;
const NORMALIZE = 2;
const GRADIENT_SUMS = 3;
const FINISH_GRADIENT_SUMS = 4;
const GRADIENT_INPUT = 5;
const GRADIENT_COEFFICIENTS = 6;
const NORMALIZE_ADD = 7;
const MASKED_GRADIENT_SUMS = 8;
const PARTS_GRADIENT_SUMS = 9;
const PARTS_GRADIENT_SUMS_RELU = 10;
/** Most elements of a statistics unit of several planes: assembly/batch-norm.ts's CHUNK (its lanes' length). */
const UNIT_ELEMENTS = 1024;
/**
 * Floats of one operand per block copied in (the first phase): 256 KB, so that a block's operands stay in a
 * core's L2 between its copy and its statistics or sums.
 */
const BLOCK_FLOATS = 1 << 16;
/**
 * Floats per block of the second phase, whose results are copied out: 4 MB. Copies out of the module into
 * arrays the cache does not hold cost twice as much in pieces of 256 KB as in one piece (0.96 against 0.55
 * ms per 8 MB, and 24.7-25.0 against 21.1 ms for the CIFAR step's 6 batch norms on one thread): large
 * copies go by stores that bypass the cache, small ones read every destination line first.
 */
const OUT_FLOATS = 1 << 20;
/** On the threads, blocks per thread at least, so that a late thread takes fewer. */
const BLOCKS_PER_THREAD = 4;

/**
 * Images per statistics unit for [n, c, s]: as many as fit UNIT_ELEMENTS (a unit's f64 work is per unit, so
 * small planes go several to a unit) and, with all c channels, a block; at least one. From the shape alone,
 * so that the units, and the bits, do not depend on the threads.
 */
export function batchNormGroup(n: number, c: number, s: number): number {
  return Math.max(1, Math.min(n, Math.floor(UNIT_ELEMENTS / s), Math.floor(BLOCK_FLOATS / (s * c))));
}

/** Images [b0, b1) (whole groups, unless the block is the batch's last) × channels [c0, c1). */
interface Block {
  b0: number;
  b1: number;
  c0: number;
  c1: number;
}

/**
 * The blocks of [n, c, s] for `t`: whole groups of images with all channels when a group fits `floats`,
 * else one group with a range of channels; about `floats` each (less on the threads, so that each thread
 * gets BLOCKS_PER_THREAD, but never less than a group), at most MAX_JOBS on the threads (a job table's size).
 */
function blocksOf(t: Target, n: number, c: number, s: number, group: number, floats: number): Block[] {
  const size = n * c * s;
  const threads = t.threads?.threads ?? 1;
  let budget = t.threads === null ? floats : Math.min(floats, Math.ceil(size / (threads * BLOCKS_PER_THREAD)));
  const unit = group * s;
  for (;;) {
    const out: Block[] = [];
    // Channel ranges only where a group's images exceed a block by themselves: a range is a run per image,
    // and short runs (small planes) would copy piece by piece.
    if (unit * c <= Math.max(floats, budget)) {
      const images = Math.max(1, Math.floor(budget / (unit * c))) * group;
      for (let b = 0; b < n; b += images) out.push({ b0: b, b1: Math.min(n, b + images), c0: 0, c1: c });
    } else {
      const channels = Math.max(1, Math.floor(budget / unit));
      for (let b = 0; b < n; b += group) {
        for (let ch = 0; ch < c; ch += channels) out.push({ b0: b, b1: Math.min(n, b + group), c0: ch, c1: Math.min(c, ch + channels) });
      }
    }
    if (t.threads === null || out.length <= MAX_JOBS) return out;
    budget *= 2;
  }
}

/** Calls `run(start, end)` for each contiguous range of flat indices that block `k` covers. */
function spans(block: Block, c: number, s: number, run: (start: number, end: number) => void): void {
  if (block.c0 === 0 && block.c1 === c) {
    run(block.b0 * c * s, block.b1 * c * s);
    return;
  }
  for (let b = block.b0; b < block.b1; b++) run((b * c + block.c0) * s, (b * c + block.c1) * s);
}

/** A job of step `step` with its arguments, padded to elementwiseJob's 15. */
function job(step: number, ...args: number[]): number[] {
  const out = [BATCH_NORM, step, ...args];
  while (out.length < 15) out.push(0);
  return out;
}

export interface BatchNormWasmOptions {
  /** Normalise with the batch's statistics (written to stats) rather than the ones in stats. */
  train: boolean;
  /** Rectify the output, max(·, 0), in the same pass (the backward then masks g by it). */
  relu: boolean;
  gamma: Float32Array | null;
  beta: Float32Array | null;
  eps: number;
  /** With `train`: the exchange that turns this shard's statistics into the whole batch's (synchronized BatchNorm), or null. */
  sync: BatchNormSync | null;
  /** Added after the normalisation and before the ReLU (`relu` must be set): y = relu(bn(x) + residual), packed like x. Default none. */
  residual?: Float32Array | null;
}

/**
 * y = (x − mean)·invStd·γ + β per channel of x [n, c, s] (packed float32; y may be x), rectified with
 * `relu`, with `options.residual` added before the ReLU. stats is f64 [mean c | var c | invStd c]: written (batch mean, biased variance) when `train`,
 * read (running statistics) otherwise; invStd is always written. affine ([mean c | scale c | shift c], f32
 * values) receives what the backward needs to recompute the ReLU mask exactly. Returns false, having
 * written nothing, where WebAssembly SIMD is missing, the memory cannot grow or x is empty.
 */
export function batchNormForwardWasm(
  x: Float32Array, y: Float32Array, n: number, c: number, s: number, options: BatchNormWasmOptions,
  stats: Float64Array, affine: Float64Array,
): boolean {
  const size = n * c * s;
  if (size === 0) return false;
  const t = target(size);
  if (t === null) return false;
  const group = batchNormGroup(n, c, s);
  const { train } = options;
  const memory = t.instance.memory;
  const residual = options.residual ?? null;
  // x, y and the residual where they are when they live in the module (resident-storage.ts), else -1.
  const [xOwn, yOwn, rOwn] = [addressOf(memory, x), addressOf(memory, y), residual === null ? -1 : addressOf(memory, residual)];
  // Else x as the kernel before left it in the module (a convolution's output, see handoff.ts), or copied in.
  const handed = xOwn >= 0 ? -1 : takeOutput(memory, x, 0, size);
  const heapBase = t.exports.heapBase();
  const mem = new Layout(handed < 0 ? heapBase : Math.max(heapBase, handed + size * 4));
  const xAt = xOwn >= 0 ? xOwn : handed >= 0 ? handed : mem.take(size);
  // The result goes over the module's copy of x, but never over x itself (unless y is x).
  const outAt = yOwn >= 0 ? yOwn : xOwn >= 0 ? mem.take(size) : xAt;
  const partialsAt = train ? mem.take(4 * Math.ceil(n / group) * c) : 0;
  const statsAt = mem.take(2 * (3 * c + 1));
  const tableAt = mem.take(3 * c);
  const gammaAt = options.gamma === null ? 0 : mem.take(c);
  const betaAt = options.beta === null ? 0 : mem.take(c);
  const rAt = residual === null ? 0 : rOwn >= 0 ? rOwn : mem.take(size);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const table = new Float64Array(heap.buffer, statsAt, 3 * c + 1);
  if (!train) table.set(stats.subarray(0, 2 * c));
  table[3 * c] = options.eps;
  if (options.gamma !== null) heap.set(options.gamma, gammaAt >> 2);
  if (options.beta !== null) heap.set(options.beta, betaAt >> 2);
  const [xF, outF] = [xAt >> 2, outAt >> 2];
  const copyIn = (blocks: Block[]) => (xOwn >= 0 || handed >= 0 ? null : (k: number): void => spans(blocks[k]!, c, s, (i0, i1) => heap.set(x.subarray(i0, i1), xF + i0)));
  if (train) {
    const blocks = blocksOf(t, n, c, s, group, BLOCK_FLOATS);
    runStagedJobs(t, blocks.map((b) => job(STATISTICS, xAt, c, s, group, b.b0, b.b1, b.c0, b.c1, partialsAt)), copyIn(blocks), null);
  }
  t.exports.elementwiseJob(BATCH_NORM, FINISH_STATISTICS, c, n, s, group, partialsAt, statsAt, gammaAt, betaAt, tableAt, train ? 1 : 0, 0, 0);
  if (train && options.sync !== null) {
    // The shard's statistics out, the whole batch's in; the finish then takes invStd and the table from them.
    const shard = new Float64Array(3 * c);
    shard.set(table.subarray(0, 2 * c));
    options.sync.statistics(shard, c, n * s);
    table.set(shard.subarray(0, 2 * c));
    t.exports.elementwiseJob(BATCH_NORM, FINISH_STATISTICS, c, n, s, group, partialsAt, statsAt, gammaAt, betaAt, tableAt, 0, 0, 0);
  }
  const relu = options.relu ? 1 : 0;
  const blocks = blocksOf(t, n, c, s, group, OUT_FLOATS);
  const copyOut = yOwn >= 0 ? null : (k: number): void => spans(blocks[k]!, c, s, (i0, i1) => y.set(heap.subarray(outF + i0, outF + i1), i0));
  if (residual === null) {
    runStagedJobs(t, blocks.map((b) => job(NORMALIZE, xAt, outAt, c, s, b.b0, b.b1, b.c0, b.c1, relu, tableAt)), train ? null : copyIn(blocks), copyOut);
  } else {
    // The residual goes in block by block with this phase (and x too in evaluation), staged as a first phase's x.
    const rF = rAt >> 2;
    const xIn = train ? null : copyIn(blocks);
    const rIn = rOwn >= 0 ? xIn : (k: number): void => {
      xIn?.(k);
      spans(blocks[k]!, c, s, (i0, i1) => heap.set(residual.subarray(i0, i1), rF + i0));
    };
    runStagedJobs(t, blocks.map((b) => job(NORMALIZE_ADD, xAt, rAt, outAt, c, s, b.b0, b.b1, b.c0, b.c1, tableAt)), rIn, copyOut);
  }
  stats.set(new Float64Array(heap.buffer, statsAt, 3 * c));
  affine.set(heap.subarray(tableAt >> 2, (tableAt >> 2) + 3 * c));
  return true;
}

/**
 * The backward of batchNormForwardWasm given its stats and affine tables: sums (f64 [Σgm c | Σgm·(x − mean) c],
 * gm being g masked by the fused ReLU's output > 0 when `relu`), and unless dx is null the input gradient
 * (the batch statistics' own gradient included when `train`; dx may be g), offered to the next kernel with
 * `handOffGradInput` (a caller that knows dx goes to the backward of the one Function that made x alone;
 * handoff.ts). g is read where the kernel before left it in the module (a convolution's or max pooling's
 * input gradient) when it offered it, else copied in. With `residual` (the forward had one), gm is g masked
 * by the output residual.y rather than by a mask recomputed from x, and is copied out to residual.grad. With
 * `g2` (not with a residual), the gradient is g + g2, added block by block as they come in (g2 is copied in).
 * Returns false, having written nothing, where WebAssembly SIMD is missing, the memory cannot grow or x is empty.
 */
export function batchNormBackwardWasm(
  x: Float32Array, g: Float32Array, dx: Float32Array | null, n: number, c: number, s: number,
  train: boolean, relu: boolean, stats: Float64Array, affine: Float64Array, sums: Float64Array, sync: BatchNormSync | null = null,
  handOffGradInput = false, residual: BatchNormResidualGradient<Float32Array> | null = null, g2: Float32Array | null = null,
): boolean {
  const size = n * c * s;
  if (size === 0) return false;
  const t = target(size);
  if (t === null) return false;
  const group = batchNormGroup(n, c, s);
  const memory = t.instance.memory;
  // Operands where they are when they live in the module (resident-storage.ts), else -1. The sums phase
  // writes g + g2, or with a residual gm, over g's region: then g goes into a region of this call's.
  const gInPlace = g2 === null && residual === null;
  const xOwn = addressOf(memory, x);
  const gOwn = gInPlace ? addressOf(memory, g) : -1;
  const dxOwn = dx === null ? -1 : addressOf(memory, dx);
  const yOwn = residual === null ? -1 : addressOf(memory, residual.y);
  const g2Own = g2 === null ? -1 : addressOf(memory, g2);
  // Else g as the kernel before left it in the module (a convolution's input gradient, see handoff.ts), or -1.
  const resident = gOwn >= 0 ? -1 : takeOutput(memory, g, 0, size);
  // With a residual whose gradient lives in the module, g goes straight into that array, where the sums write gm over it (nothing to copy out).
  const gmOwn = residual === null || residual.grad === null || residual.grad === dx || resident >= 0 ? -1 : addressOf(memory, residual.grad);
  // Then a resident g is read where it is, gm written into that array: nothing to copy in or out.
  const gRead = gmOwn >= 0 ? addressOf(memory, g) : -1;
  const heapBase = t.exports.heapBase();
  // The other operands before a resident g where they fit (the regions of the kernel that left it), else after it.
  const layOut = (start: number): { mem: Layout; xAt: number; gAt: number; dxAt: number; partialsAt: number; statsAt: number; tableAt: number; sumsAt: number; totalsAt: number; yAt: number; g2At: number } => {
    const mem = new Layout(start);
    const xAt = xOwn >= 0 ? xOwn : mem.take(size);
    const gAt = gOwn >= 0 ? gOwn : gmOwn >= 0 ? gmOwn : resident < 0 ? mem.take(size) : resident;
    // dx goes over the module's copy of g, never over g itself (unless dx is g) or the residual's gradient.
    const dxAt = dxOwn >= 0 ? dxOwn : (gOwn >= 0 || gmOwn >= 0) && dx !== null ? mem.take(size) : gAt;
    const partialsAt = mem.take(4 * Math.ceil(n / group) * c);
    const statsAt = mem.take(2 * 3 * c);
    const tableAt = mem.take(6 * c);
    const sumsAt = mem.take(4 * c);
    const totalsAt = sync === null ? 0 : mem.take(4 * c);
    const yAt = residual === null ? 0 : yOwn >= 0 ? yOwn : mem.take(size);
    const g2At = g2 === null ? 0 : g2Own >= 0 ? g2Own : mem.take(size);
    return { mem, xAt, gAt, dxAt, partialsAt, statsAt, tableAt, sumsAt, totalsAt, yAt, g2At };
  };
  let laid = layOut(heapBase);
  if (resident >= 0 && laid.mem.end > resident) laid = layOut(Math.max(heapBase, resident + size * 4));
  const { mem, xAt, gAt, dxAt, partialsAt, statsAt, tableAt, sumsAt, totalsAt, yAt, g2At } = laid;
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  new Float64Array(heap.buffer, statsAt, 3 * c).set(stats.subarray(0, 3 * c));
  heap.set(affine.subarray(0, 3 * c), tableAt >> 2);
  const blocks = blocksOf(t, n, c, s, group, BLOCK_FLOATS);
  const [xF, gF, dxF] = [xAt >> 2, gAt >> 2, dxAt >> 2];
  const [yF, g2F] = [yAt >> 2, g2At >> 2];
  const copyG = gOwn < 0 && resident < 0 && gRead < 0;
  const copies = (xOwn < 0 ? 1 : 0) + (copyG ? 1 : 0) + (residual !== null && yOwn < 0 ? 1 : 0) + (g2 !== null && g2Own < 0 ? 1 : 0);
  const copyIn = copies === 0 ? null : (k: number): void =>
    spans(blocks[k]!, c, s, (i0, i1) => {
      if (xOwn < 0) heap.set(x.subarray(i0, i1), xF + i0);
      if (copyG) heap.set(g.subarray(i0, i1), gF + i0);
      if (residual !== null && yOwn < 0) heap.set(residual.y.subarray(i0, i1), yF + i0);
      if (g2 !== null && g2Own < 0) heap.set(g2.subarray(i0, i1), g2F + i0);
    });
  if (g2 !== null && residual === null) {
    const step = relu ? PARTS_GRADIENT_SUMS_RELU : PARTS_GRADIENT_SUMS;
    runStagedJobs(t, blocks.map((b) => job(step, xAt, gAt, g2At, c, s, group, b.b0, b.b1, b.c0, b.c1, tableAt, partialsAt)), copyIn, null);
  } else if (residual === null) {
    const sumsJob = (b: Block): number[] => job(GRADIENT_SUMS, xAt, gAt, c, s, group, b.b0, b.b1, b.c0, b.c1, relu ? 1 : 0, tableAt, partialsAt);
    runStagedJobs(t, blocks.map(sumsJob), copyIn, null);
  } else {
    // gm, written at gAt (over the module's copy of g, or into the residual's own gradient), is the residual's gradient: out with each block once its sums are done.
    const grad = residual.grad;
    const gmOut = grad === null || gmOwn >= 0 ? null : (k: number): void => spans(blocks[k]!, c, s, (i0, i1) => grad.set(heap.subarray(gF + i0, gF + i1), i0));
    runStagedJobs(t, blocks.map((b) => job(MASKED_GRADIENT_SUMS, xAt, gRead >= 0 ? gRead : gAt, yAt, c, s, group, b.b0, b.b1, b.c0, b.c1, tableAt, partialsAt, gAt)), copyIn, gmOut);
  }
  // With a residual, g's region holds gm, already masked.
  const flags = [train ? 1 : 0, relu && residual === null ? 1 : 0] as const;
  t.exports.elementwiseJob(BATCH_NORM, FINISH_GRADIENT_SUMS, c, n, s, group, flags[0], partialsAt, statsAt, tableAt, sumsAt, 0, 0, 0);
  if (dx !== null && train && sync !== null) {
    // The input gradient's coefficients again, from the whole batch's sums (kept apart: sums stays this shard's, for γ and β).
    const totals = new Float64Array(heap.buffer, totalsAt, 2 * c);
    const count = sync.gradientSums(new Float64Array(heap.buffer, sumsAt, 2 * c).slice(), c, n * s, totals);
    t.exports.elementwiseJob(BATCH_NORM, GRADIENT_COEFFICIENTS, c, count, statsAt, tableAt, totalsAt, 0, 0, 0, 0, 0, 0, 0);
  }
  if (dx !== null) {
    const outBlocks = blocksOf(t, n, c, s, group, OUT_FLOATS);
    const copyOut = dxOwn >= 0 ? null : (k: number): void => spans(outBlocks[k]!, c, s, (i0, i1) => dx.set(heap.subarray(dxF + i0, dxF + i1), i0));
    runStagedJobs(t, outBlocks.map((b) => job(GRADIENT_INPUT, xAt, gAt, dxAt, c, s, b.b0, b.b1, b.c0, b.c1, flags[0], flags[1], tableAt)), null, copyOut);
  }
  sums.set(new Float64Array(heap.buffer, sumsAt, 2 * c));
  // A dx of its own is still in the module, for the convolution's backward that reads it next (handoff.ts).
  if (dx !== null && dxOwn < 0 && handOffGradInput) offerOutput(memory, dx, 0, size, dxAt, true);
  return true;
}
