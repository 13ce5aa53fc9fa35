import { runBlockwise } from "./blockwise.js";
import { heapOf, Layout, localInstance } from "./engine.js";
import { offerOutput } from "./handoff.js";
import { addressOf } from "./resident-storage.js";
import { runStagedJobs } from "./staged-jobs.js";
import type { WasmInstance } from "./engine.js";
import type { KernelExports, WasmMemory } from "./wasm-api.js";

// The loader of assembly/elementwise.ts and assembly/pool.ts: ReLU, add + ReLU and 2×2 max pooling (forward
// and backward) on float32 (batch norm's loader, batch-norm-wasm.ts, runs its jobs through the same entry and
// threads). Operands are copied into the module's memory (the worker threads' shared one while
// `@pico/core/threads` runs them, else the calling thread's), computed there in SIMD and the results copied
// back: a copy costs about 0.15 ns per element, the TypeScript loops these replace 1-8 ns. On the calling
// thread a call goes block by block through small regions, so that each block stays in the cache from its
// copy in to its copy out. From THREADED_MIN_ELEMENTS on, every kernel splits across the threads (by
// element range, max pooling by planes), staged: the calling thread copies one job's operands in after
// another while the workers compute the jobs already in, then copies each result out once it is done.

const RELU_FORWARD = 2;
const RELU_BACKWARD = 3;
const ADD_RELU_FORWARD = 4;
const MAX_POOL_2X2 = 5;
const MAX_POOL_2X2_BACKWARD = 6;

/** Below this many elements a call stays on the calling thread: waking the workers costs more than it saves. */
const THREADED_MIN_ELEMENTS = 1 << 15;
/** Jobs per thread, so that a thread the OS schedules late takes fewer of them. */
const JOBS_PER_THREAD = 4;

/**
 * The worker threads as elementwise-wasm-threads.ts (reachable only from `@pico/core/threads`, so that
 * this file stays free of Node) hands them over: the calling thread's instance over the shared memory,
 * and `launch`, which opens jobs to the workers and returns the function with which the calling thread
 * claims its share (running each with `run`) and waits for the rest.
 */
export interface ElementwiseThreads {
  exports: KernelExports;
  memory: WasmMemory;
  threads: number;
  /**
   * Opens the jobs ([kind, ...arguments]) to the workers: all ready, unless `copied` (the calling thread then
   * copies their operands in and marks them ready, in order).
   */
  launch(jobs: number[][], copied: boolean): ElementwiseLaunch;
}

/** Jobs open on the workers. */
export interface ElementwiseLaunch {
  /** Jobs [0, count) have their operands in place. */
  ready(count: number): void;
  /**
   * Marks every job ready (all must run before the table closes), then the calling thread runs (with `run`)
   * the jobs no thread has started, and hands each job to `done` in order once it finished (between its own
   * jobs, then waiting); throws if one trapped.
   */
  finish(run: (job: number) => void, done: (job: number) => void): void;
}

let threaded: ElementwiseThreads | null = null;
/** The targets over the threads' shared memory, made once per routing (target() runs for every call): one call split, one not. */
let splitTarget: Target | null = null;
let sharedTarget: Target | null = null;
let ownTarget: Target | null = null;

/** @internal Routes the kernels to `t`'s threads, or back to the calling thread's own instance (null). */
export function routeElementwiseThreads(t: ElementwiseThreads | null): void {
  threaded = t;
  const instance: WasmInstance | null = t === null ? null : { exports: t.exports, memory: t.memory, heap: null };
  splitTarget = t === null || instance === null || t.threads < 2 ? null : { instance, exports: t.exports, threads: t };
  sharedTarget = t === null || instance === null ? null : { instance, exports: t.exports, threads: null };
}

/** Where the calls run: an instance (its exports and memory), and the threads when this call splits. */
export interface Target {
  instance: WasmInstance;
  exports: KernelExports;
  threads: ElementwiseThreads | null;
}

/**
 * Where a call over `elements` runs: split across the threads from THREADED_MIN_ELEMENTS on, else on the
 * shared memory's instance while the threads run, else on the calling thread's own.
 */
export function target(elements: number): Target | null {
  if (sharedTarget !== null) return splitTarget !== null && elements >= THREADED_MIN_ELEMENTS ? splitTarget : sharedTarget;
  return callingThread();
}

/** The calling thread's own instance and memory, for a call that does not split (with the threads running or not). */
function callingThread(): Target | null {
  if (ownTarget === null) {
    const local = localInstance();
    if (local !== null) ownTarget = { instance: local, exports: local.exports, threads: null };
  }
  return ownTarget;
}

/** Threads a large elementwise call splits across now (1 without `@pico/core/threads`). */
export function elementwiseWasmThreads(): number {
  return threaded?.threads ?? 1;
}

/** [start, end) ranges of about equal size cutting [0, count) into `parts`, starts rounded to `align`. */
function ranges(count: number, parts: number, align: number): [number, number][] {
  const out: [number, number][] = [];
  const step = Math.max(align, Math.ceil(count / parts / align) * align);
  for (let i = 0; i < count; i += step) out.push([i, Math.min(count, i + step)]);
  return out;
}

function jobCount(t: Target, units: number): number {
  return t.threads === null ? 1 : Math.min(units, t.threads.threads * JOBS_PER_THREAD);
}

/**
 * Floats of each operand a block of a call on the calling thread copies in, computes and copies out at a
 * time: small enough that the block stays in the L2 cache from its copy in to its copy out, so that main
 * memory sees each operand once (whole-array copies read and write every operand three times: add + ReLU
 * of [256, 64, 16, 16] in place took 4.5 ms that way, 3.4-3.7 ms in blocks).
 */
const BLOCK_FLOATS = 1 << 15;
const BLOCKS = { floats: BLOCK_FLOATS, align: 1 };
const NO_CONSTANTS: readonly number[] = [];

/**
 * Runs `kind` over `inputs` into `out`: split across the threads by element ranges, staged (run), from
 * THREADED_MIN_ELEMENTS on; else on the calling thread, block by block through regions of BLOCK_FLOATS.
 * One operation per element is bound by memory, so the split gains only the compute the workers take
 * from the calling thread, which still makes every copy: the CIFAR network's add + ReLU [64, 64, 16, 16]
 * forward and backward on 2 threads (breakdown, shared machine under load, two runs each) 2.52 and 2.54
 * ms on the calling thread, 2.18 and 2.17 split (the backward 1.56/1.46 -> 1.00/1.20).
 */
function elementwise(kind: number, inputs: Float32Array[], out: Float32Array): boolean {
  const split = target(out.length);
  if (split !== null && split.threads !== null) return elementwiseThreads(split, kind, inputs, out);
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  // The result overwrites the first input's region: every kernel reads an element before writing it.
  // (x, y, i0, i1) for one input, (a, b, y, i0, i1) for two.
  return runBlockwise(inputs, [out], BLOCKS, NO_CONSTANTS, (at, n) => {
    if (at.length === 1) e.elementwiseJob(kind, at[0]!, at[0]!, 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    else e.elementwiseJob(kind, at[0]!, at[1]!, at[0]!, 0, n, 0, 0, 0, 0, 0, 0, 0, 0);
  });
}

function elementwiseThreads(t: Target, kind: number, inputs: Float32Array[], out: Float32Array): boolean {
  const size = out.length;
  const memory = t.instance.memory;
  // Operands where they are when they live in the module (resident-storage.ts), else -1: copied in or out.
  const own = inputs.map((a) => addressOf(memory, a));
  const outOwn = addressOf(memory, out);
  const mem = new Layout(t.exports.heapBase());
  const at: number[] = [];
  for (let i = 0; i < inputs.length; i++) at.push(own[i]! >= 0 ? own[i]! : mem.take(size));
  // The result goes over the module's copy of the first input, never over an input itself (unless out is it).
  const outAt = outOwn >= 0 ? outOwn : own[0]! >= 0 ? mem.take(size) : at[0]!;
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const parts = ranges(size, jobCount(t, size), 4);
  const [first, second] = [at[0]!, at[1] ?? 0];
  const jobs: number[][] = [];
  for (const [i0, i1] of parts) {
    jobs.push(inputs.length === 1 ? [kind, first, outAt, i0, i1, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [kind, first, second, outAt, i0, i1, 0, 0, 0, 0, 0, 0, 0, 0]);
  }
  runStagedJobs(
    t, jobs,
    own.every((a) => a >= 0) ? null : (k) => {
      const [i0, i1] = parts[k]!;
      for (let i = 0; i < inputs.length; i++) if (own[i]! < 0) heap.set(inputs[i]!.subarray(i0, i1), (at[i]! >> 2) + i0);
    },
    (k) => {
      if (outOwn >= 0) return;
      const [i0, i1] = parts[k]!;
      const result = heapOf(t.instance, mem.end) ?? heap;
      out.set(result.subarray((outAt >> 2) + i0, (outAt >> 2) + i1), i0);
    },
  );
  return true;
}

/** y = max(x, 0) as `v > 0 ? v : 0` (y may be x); false where WebAssembly SIMD is missing. */
export function reluWasm(x: Float32Array, y: Float32Array): boolean {
  return elementwise(RELU_FORWARD, [x], y);
}

/** dx = g where y > 0, else 0 (dx may be g); false where WebAssembly SIMD is missing. */
export function reluBackwardWasm(g: Float32Array, y: Float32Array, dx: Float32Array): boolean {
  return elementwise(RELU_BACKWARD, [g, y], dx);
}

/** y = max(a + b, 0) (y may be a or b); false where WebAssembly SIMD is missing. */
export function addReluWasm(a: Float32Array, b: Float32Array, y: Float32Array): boolean {
  return elementwise(ADD_RELU_FORWARD, [a, b], y);
}

/** Planes of `plane` floats in one block of a call on the calling thread (see BLOCK_FLOATS). */
const planesPerBlock = (plane: number): number => Math.max(1, Math.floor(BLOCK_FLOATS / plane));

/**
 * 2×2 max pooling with stride 2 of x [planes, H, W] (packed float32, windows inside the input: 2·oH <= H,
 * 2·oW <= W) into out [planes, oH, oW], and each window's flat input index into argmax when given: the
 * first maximum in scan order, or the last NaN (nn's maxPool2dForward rule, bit for bit). Split across the
 * threads by planes from THREADED_MIN_ELEMENTS on, else on the calling thread in blocks of planes. False
 * where WebAssembly SIMD is missing or the memory cannot grow.
 */
export function maxPool2x2Wasm(x: Float32Array, out: Float32Array, argmax: Int32Array | null, planes: number, H: number, W: number, oH: number, oW: number): boolean {
  const t = target(x.length);
  if (t?.threads === null) {
    const own = callingThread();
    return own !== null && maxPool2x2Blocks(own, x, out, argmax, planes, H, W, oH, oW);
  }
  return t !== null && maxPool2x2Threads(t, x, out, argmax, planes, H, W, oH, oW);
}

function maxPool2x2Blocks(t: Target, x: Float32Array, out: Float32Array, argmax: Int32Array | null, planes: number, H: number, W: number, oH: number, oW: number): boolean {
  const [inPlane, outPlane] = [H * W, oH * oW];
  const block = Math.min(planes, planesPerBlock(inPlane));
  const mem = new Layout(t.exports.heapBase());
  const xAt = mem.take(block * inPlane);
  const outAt = mem.take(block * outPlane);
  const argmaxAt = argmax === null ? 0 : mem.take(block * outPlane);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const indices = new Int32Array(heap.buffer, argmaxAt, block * outPlane);
  for (let p0 = 0; p0 < planes; p0 += block) {
    const count = Math.min(block, planes - p0);
    heap.set(x.subarray(p0 * inPlane, (p0 + count) * inPlane), xAt >> 2);
    t.exports.elementwiseJob(MAX_POOL_2X2, xAt, outAt, argmaxAt, H, W, oH, oW, 0, count, p0 * inPlane, 0, 0, 0);
    out.set(heap.subarray(outAt >> 2, (outAt >> 2) + count * outPlane), p0 * outPlane);
    if (argmax !== null) argmax.set(indices.subarray(0, count * outPlane), p0 * outPlane);
  }
  return true;
}

function maxPool2x2Threads(t: Target, x: Float32Array, out: Float32Array, argmax: Int32Array | null, planes: number, H: number, W: number, oH: number, oW: number): boolean {
  const memory = t.instance.memory;
  // Operands where they are when they live in the module (resident-storage.ts), else -1: copied in or out.
  const [xOwn, outOwn, argmaxOwn] = [addressOf(memory, x), addressOf(memory, out), argmax === null ? -1 : addressOf(memory, argmax)];
  const mem = new Layout(t.exports.heapBase());
  const xAt = xOwn >= 0 ? xOwn : mem.take(x.length);
  const outAt = outOwn >= 0 ? outOwn : mem.take(out.length);
  const argmaxAt = argmax === null ? 0 : argmaxOwn >= 0 ? argmaxOwn : mem.take(out.length);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const parts = ranges(planes, jobCount(t, planes), 1);
  const jobs = parts.map(([p0, p1]) => [MAX_POOL_2X2, xAt, outAt, argmaxAt, H, W, oH, oW, p0, p1, 0, 0, 0, 0]);
  const inPlane = H * W;
  const outPlane = oH * oW;
  runStagedJobs(
    t, jobs,
    xOwn >= 0 ? null : (k) => {
      const [p0, p1] = parts[k]!;
      heap.set(x.subarray(p0 * inPlane, p1 * inPlane), (xAt >> 2) + p0 * inPlane);
    },
    (k) => {
      const [p0, p1] = parts[k]!;
      const result = heapOf(t.instance, mem.end) ?? heap;
      if (outOwn < 0) out.set(result.subarray((outAt >> 2) + p0 * outPlane, (outAt >> 2) + p1 * outPlane), p0 * outPlane);
      if (argmax !== null && argmaxOwn < 0) argmax.set(new Int32Array(result.buffer, argmaxAt + p0 * outPlane * 4, (p1 - p0) * outPlane), p0 * outPlane);
    },
  );
  return true;
}

/**
 * The backward of maxPool2x2Wasm: gx [planes, H, W] (every element written: its window's gradient where it
 * is the window's arg-max, else 0, as nn's scatter into a zero-filled gradient gives bit for bit) from gy
 * and argmax [planes, oH, oW], with no zero-fill first. Split across the threads by planes from
 * THREADED_MIN_ELEMENTS on, staged as the forward (each plane's result is the one-thread kernel's), else on
 * the calling thread in blocks of planes. CIFAR training step on 2 threads (breakdown, shared machine, two
 * runs each): [64, 32, 32, 32] 1.92 and 1.98 ms on the calling thread, 1.02 and 1.06 split; [64, 64, 8, 8]
 * 1.04 and 1.00 against 0.60 and 0.64. With `handOffGradInput` (a caller that knows gx goes to the backward
 * of the one Function that made the pooling's input: nn's fusion patterns), gx split across the threads is
 * left in the module for that backward to read (handoff.ts). False where WebAssembly SIMD is missing or the
 * memory cannot grow.
 */
export function maxPool2x2BackwardWasm(
  gy: Float32Array, argmax: Int32Array, gx: Float32Array, planes: number, H: number, W: number, oH: number, oW: number, handOffGradInput = false,
): boolean {
  const split = target(gx.length);
  if (split !== null && split.threads !== null) return maxPool2x2BackwardThreads(split, gy, argmax, gx, planes, H, W, oH, oW, handOffGradInput);
  const t = callingThread();
  if (t === null) return false;
  const [inPlane, outPlane] = [H * W, oH * oW];
  const block = Math.min(planes, planesPerBlock(inPlane));
  const mem = new Layout(t.exports.heapBase());
  const gyAt = mem.take(block * outPlane);
  const argmaxAt = mem.take(block * outPlane);
  const gxAt = mem.take(block * inPlane);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const indices = new Int32Array(heap.buffer, argmaxAt, block * outPlane);
  for (let p0 = 0; p0 < planes; p0 += block) {
    const count = Math.min(block, planes - p0);
    heap.set(gy.subarray(p0 * outPlane, (p0 + count) * outPlane), gyAt >> 2);
    indices.set(argmax.subarray(p0 * outPlane, (p0 + count) * outPlane));
    t.exports.maxPool2x2Backward(gyAt, argmaxAt, gxAt, H, W, oH, oW, count, p0 * inPlane);
    gx.set(heap.subarray(gxAt >> 2, (gxAt >> 2) + count * inPlane), p0 * inPlane);
  }
  return true;
}

function maxPool2x2BackwardThreads(
  t: Target, gy: Float32Array, argmax: Int32Array, gx: Float32Array, planes: number, H: number, W: number, oH: number, oW: number, handOffGradInput: boolean,
): boolean {
  const [inPlane, outPlane] = [H * W, oH * oW];
  const memory = t.instance.memory;
  // Operands where they are when they live in the module (resident-storage.ts), else -1: copied in or out.
  const [gyOwn, argmaxOwn, gxOwn] = [addressOf(memory, gy), addressOf(memory, argmax), addressOf(memory, gx)];
  const mem = new Layout(t.exports.heapBase());
  const gyAt = gyOwn >= 0 ? gyOwn : mem.take(planes * outPlane);
  const argmaxAt = argmaxOwn >= 0 ? argmaxOwn : mem.take(planes * outPlane);
  const gxAt = gxOwn >= 0 ? gxOwn : mem.take(planes * inPlane);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  const indices = new Int32Array(heap.buffer, argmaxAt, planes * outPlane);
  const parts = ranges(planes, jobCount(t, planes), 1);
  const jobs: number[][] = [];
  for (const [p0, p1] of parts) {
    jobs.push([MAX_POOL_2X2_BACKWARD, gyAt + p0 * outPlane * 4, argmaxAt + p0 * outPlane * 4, gxAt + p0 * inPlane * 4, H, W, oH, oW, p1 - p0, p0 * inPlane, 0, 0, 0, 0]);
  }
  runStagedJobs(
    t, jobs,
    gyOwn >= 0 && argmaxOwn >= 0 ? null : (k) => {
      const [p0, p1] = parts[k]!;
      if (gyOwn < 0) heap.set(gy.subarray(p0 * outPlane, p1 * outPlane), (gyAt >> 2) + p0 * outPlane);
      if (argmaxOwn < 0) indices.set(argmax.subarray(p0 * outPlane, p1 * outPlane), p0 * outPlane);
    },
    (k) => {
      if (gxOwn >= 0) return;
      const [p0, p1] = parts[k]!;
      const result = heapOf(t.instance, mem.end) ?? heap;
      gx.set(result.subarray((gxAt >> 2) + p0 * inPlane, (gxAt >> 2) + p1 * inPlane), p0 * inPlane);
    },
  );
  // gx is whole in the module, for the kernel the caller said reads it next (a BatchNorm's backward, handoff.ts).
  if (handOffGradInput && gxOwn < 0) offerOutput(t.instance.memory, gx, 0, gx.length, gxAt, true);
  return true;
}
