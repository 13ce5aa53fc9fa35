import { alignUp, heapOf, heapView } from "./engine.js";
import { target } from "./elementwise-wasm.js";
import type { Target } from "./elementwise-wasm.js";
import { addressOf } from "./resident-storage.js";
import { runStagedJobs } from "./staged-jobs.js";

// The loader of assembly/global-mean.ts: the mean of each plane (adaptive average pooling to 1×1, the head
// of a CIFAR or ResNet network) and its backward, on float32, for @pico/nn. From elementwise-wasm.ts's
// THREADED_MIN_ELEMENTS on (target()) a call splits across the threads by planes: each plane's sum is one
// job's, so the bits do not depend on the split. Operands that live in the module (resident storage) are
// read and written in place; others go in and out job by job, staged (staged-jobs.ts). On the calling
// thread a call goes through the module block by block. The TypeScript loops these replace (nn's
// kernels/adaptive-pool2d.ts) ran serially on the calling thread: on the CIFAR-shaped network's
// [64, 128, 8, 8] about 0.5 ms forward and 0.8 ms backward of a 2-thread training step.

/** elementwiseJob's kinds (assembly/elementwise.ts): (x, out, size, p0, p1) and (gy, gx, size, p0, p1). */
const GLOBAL_MEAN = 7;
const GLOBAL_MEAN_BACKWARD = 8;
/** Floats of a block of planes on the calling thread: small enough to stay in the L2 cache between its copy and its use. */
const BLOCK_FLOATS = 1 << 15;
/** Jobs per thread, so that a thread the OS schedules late takes fewer of them. */
const JOBS_PER_THREAD = 4;

/**
 * A call's plan, the same every step for a shape: plane ranges [p0[k], p1[k]) (one per job on the threads,
 * blocks of about BLOCK_FLOATS on the calling thread) and the job table, whose addresses each call rewrites
 * (runStagedJobs is done with it when it returns). Made once per (kind, threads, planes, size).
 */
interface Plan {
  kind: number;
  /** The threads' count, 0 on the calling thread. */
  threads: number;
  planes: number;
  size: number;
  p0: number[];
  p1: number[];
  jobs: number[][];
}

/** The plans made so far: a network has a few shapes of global mean (forgotten past MAX_PLANS: batch sizes that keep changing). */
const plans: Plan[] = [];
const MAX_PLANS = 32;

function planOf(t: Target, kind: number, planes: number, size: number): Plan {
  const threads = t.threads === null ? 0 : t.threads.threads;
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!;
    if (p.kind === kind && p.threads === threads && p.planes === planes && p.size === size) return p;
  }
  const parts = threads === 0 ? Math.ceil((planes * size) / BLOCK_FLOATS) : threads * JOBS_PER_THREAD;
  const step = Math.max(1, Math.ceil(planes / Math.max(1, parts)));
  if (plans.length >= MAX_PLANS) plans.length = 0;
  const plan: Plan = { kind, threads, planes, size, p0: [], p1: [], jobs: [] };
  for (let p = 0; p < planes; p += step) {
    plan.p0.push(p);
    plan.p1.push(Math.min(planes, p + step));
    plan.jobs.push(new Array<number>(15).fill(0));
  }
  plans.push(plan);
  return plan;
}

const NO_ARRAY: Float32Array = new Float32Array(0);

/**
 * The running call, read by the copy functions below (made once: no closure per call); its arrays are
 * let go after the call. `src` and `dst` are the operands copied
 * in and out, at byte addresses `srcAt` and `dstAt` of the memory, which holds `end` bytes.
 */
const running = { t: null as Target | null, plan: null as Plan | null, src: NO_ARRAY, dst: NO_ARRAY, size: 0, srcAt: 0, dstAt: 0, end: 0 };

function begin(t: Target, plan: Plan, src: Float32Array, dst: Float32Array, size: number, srcAt: number, dstAt: number, end: number): void {
  running.t = t;
  running.plan = plan;
  running.src = src;
  running.dst = dst;
  running.size = size;
  running.srcAt = srcAt;
  running.dstAt = dstAt;
  running.end = end;
}

function end(): void {
  running.t = null;
  running.plan = null;
  running.src = running.dst = NO_ARRAY;
}

/**
 * Byte address of job k's first plane in a region from `at` of `floats` floats a plane: a region that holds
 * one block (on the calling thread's instance, an operand not in place) takes each block at its start.
 */
function planeAt(t: Target, plan: Plan, k: number, at: number, floats: number, inPlace: boolean): number {
  return !inPlace && t.threads === null ? at : at + plan.p0[k]! * floats * 4;
}

/** Forward, job k: its planes of x in. */
function copyPlanesIn(k: number): void {
  const { t, plan, size } = running;
  const heap = heapOf(t!.instance, running.end)!;
  heap.set(running.src.subarray(plan!.p0[k]! * size, plan!.p1[k]! * size), planeAt(t!, plan!, k, running.srcAt, size, false) >> 2);
}

/** Forward, job k: its means out. */
function copyMeansOut(k: number): void {
  const { t, plan } = running;
  const p0 = plan!.p0[k]!;
  const heap = heapOf(t!.instance, running.end)!;
  running.dst.set(heapView(t!.instance, heap, running.dstAt + p0 * 4, plan!.p1[k]! - p0), p0);
}

/** Backward, job k: its planes of gx out. */
function copyPlanesOut(k: number): void {
  const { t, plan, size } = running;
  const p0 = plan!.p0[k]!;
  const heap = heapOf(t!.instance, running.end)!;
  running.dst.set(heapView(t!.instance, heap, planeAt(t!, plan!, k, running.dstAt, size, false), (plan!.p1[k]! - p0) * size), p0 * size);
}

/**
 * out[p] = the mean of plane p of x [planes, size] (packed float32), bit for bit nn's TypeScript loop
 * (float64 sums in eight interleaved partials). False where WebAssembly SIMD is missing or the memory cannot grow.
 */
export function globalMeanWasm(x: Float32Array, out: Float32Array, planes: number, size: number): boolean {
  const t = target(planes * size);
  if (t === null || planes === 0) return false;
  const memory = t.instance.memory;
  const xOwn = addressOf(memory, x);
  const outOwn = addressOf(memory, out);
  const plan = planOf(t, GLOBAL_MEAN, planes, size);
  // On the calling thread's own instance x goes through one block's region, else through a region of its whole size.
  const blockPlanes = t.threads === null ? plan.p1[0]! : planes;
  let bytes = alignUp(t.exports.heapBase());
  const xAt = xOwn >= 0 ? xOwn : bytes;
  if (xOwn < 0) bytes = alignUp(bytes + blockPlanes * size * 4);
  const outAt = outOwn >= 0 ? outOwn : bytes;
  if (outOwn < 0) bytes = alignUp(bytes + planes * 4);
  if (heapOf(t.instance, bytes) === null) return false;
  const jobs = plan.jobs;
  for (let k = 0; k < jobs.length; k++) {
    const job = jobs[k]!;
    const p0 = plan.p0[k]!;
    job[0] = GLOBAL_MEAN; job[1] = planeAt(t, plan, k, xAt, size, xOwn >= 0); job[2] = outAt + p0 * 4; job[3] = size; job[5] = plan.p1[k]! - p0;
  }
  begin(t, plan, x, out, size, xAt, outAt, bytes);
  try {
    runStagedJobs(t, jobs, xOwn >= 0 ? null : copyPlanesIn, outOwn >= 0 ? null : copyMeansOut);
  } finally {
    end();
  }
  return true;
}

/**
 * gx [planes, size] (every element written, no zero-fill needed) = gy[p] / size over plane p, bit for bit
 * nn's TypeScript loop. False where WebAssembly SIMD is missing or the memory cannot grow.
 */
export function globalMeanBackwardWasm(gy: Float32Array, gx: Float32Array, planes: number, size: number): boolean {
  const t = target(planes * size);
  if (t === null || planes === 0) return false;
  const memory = t.instance.memory;
  const gyOwn = addressOf(memory, gy);
  const gxOwn = addressOf(memory, gx);
  const plan = planOf(t, GLOBAL_MEAN_BACKWARD, planes, size);
  const blockPlanes = t.threads === null ? plan.p1[0]! : planes;
  let bytes = alignUp(t.exports.heapBase());
  const gyAt = gyOwn >= 0 ? gyOwn : bytes;
  if (gyOwn < 0) bytes = alignUp(bytes + planes * 4);
  const gxAt = gxOwn >= 0 ? gxOwn : bytes;
  if (gxOwn < 0) bytes = alignUp(bytes + blockPlanes * size * 4);
  const heap = heapOf(t.instance, bytes);
  if (heap === null) return false;
  // gy is small (one float a plane): in at once.
  if (gyOwn < 0) heapView(t.instance, heap, gyAt, planes).set(gy.length === planes ? gy : gy.subarray(0, planes));
  const jobs = plan.jobs;
  for (let k = 0; k < jobs.length; k++) {
    const job = jobs[k]!;
    const p0 = plan.p0[k]!;
    job[0] = GLOBAL_MEAN_BACKWARD; job[1] = gyAt + p0 * 4; job[2] = planeAt(t, plan, k, gxAt, size, gxOwn >= 0); job[3] = size; job[5] = plan.p1[k]! - p0;
  }
  begin(t, plan, gy, gx, size, gyAt, gxAt, bytes);
  try {
    runStagedJobs(t, jobs, null, gxOwn >= 0 ? null : copyPlanesOut);
  } finally {
    end();
  }
  return true;
}
