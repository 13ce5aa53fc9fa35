import { heapOf, Layout } from "./engine.js";
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

/** Plane ranges [p0, p1): one per job on the threads, blocks of about BLOCK_FLOATS on the calling thread. */
function planeRanges(t: Target, planes: number, size: number): Array<[number, number]> {
  const parts = t.threads === null ? Math.ceil((planes * size) / BLOCK_FLOATS) : t.threads.threads * JOBS_PER_THREAD;
  const step = Math.max(1, Math.ceil(planes / Math.max(1, parts)));
  const out: Array<[number, number]> = [];
  for (let p = 0; p < planes; p += step) out.push([p, Math.min(planes, p + step)]);
  return out;
}

/**
 * out[p] = the mean of plane p of x [planes, size] (packed float32), bit for bit nn's TypeScript loop
 * (float64 sums in eight interleaved partials). False where WebAssembly SIMD is missing or the memory cannot grow.
 */
export function globalMeanWasm(x: Float32Array, out: Float32Array, planes: number, size: number): boolean {
  const t = target(planes * size);
  if (t === null || planes === 0) return false;
  const memory = t.instance.memory;
  const [xOwn, outOwn] = [addressOf(memory, x), addressOf(memory, out)];
  const ranges = planeRanges(t, planes, size);
  // On the calling thread's own instance x goes through one block's region, else through a region of its whole size.
  const blockPlanes = t.threads === null ? ranges[0]![1] : planes;
  const mem = new Layout(t.exports.heapBase());
  const xAt = xOwn >= 0 ? xOwn : mem.take(blockPlanes * size);
  const outAt = outOwn >= 0 ? outOwn : mem.take(planes);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  // Where plane p0 of a job is: a region of one block takes each block at its start.
  const xPlane = (p0: number): number => (xOwn < 0 && t.threads === null ? xAt : xAt + p0 * size * 4);
  const jobs = ranges.map(([p0, p1]) => [GLOBAL_MEAN, xPlane(p0), outAt + p0 * 4, size, 0, p1 - p0, 0, 0, 0, 0, 0, 0, 0, 0]);
  runStagedJobs(
    t, jobs,
    xOwn >= 0 ? null : (k) => {
      const [p0, p1] = ranges[k]!;
      heap.set(x.subarray(p0 * size, p1 * size), xPlane(p0) >> 2);
    },
    outOwn >= 0 ? null : (k) => {
      const [p0, p1] = ranges[k]!;
      const result = heapOf(t.instance, mem.end) ?? heap;
      out.set(result.subarray((outAt >> 2) + p0, (outAt >> 2) + p1), p0);
    },
  );
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
  const [gyOwn, gxOwn] = [addressOf(memory, gy), addressOf(memory, gx)];
  const ranges = planeRanges(t, planes, size);
  const blockPlanes = t.threads === null ? ranges[0]![1] : planes;
  const mem = new Layout(t.exports.heapBase());
  const gyAt = gyOwn >= 0 ? gyOwn : mem.take(planes);
  const gxAt = gxOwn >= 0 ? gxOwn : mem.take(blockPlanes * size);
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  // gy is small (one float a plane): in at once.
  if (gyOwn < 0) heap.set(gy.subarray(0, planes), gyAt >> 2);
  const gxPlane = (p0: number): number => (gxOwn < 0 && t.threads === null ? gxAt : gxAt + p0 * size * 4);
  const jobs = ranges.map(([p0, p1]) => [GLOBAL_MEAN_BACKWARD, gyAt + p0 * 4, gxPlane(p0), size, 0, p1 - p0, 0, 0, 0, 0, 0, 0, 0, 0]);
  runStagedJobs(
    t, jobs, null,
    gxOwn >= 0 ? null : (k) => {
      const [p0, p1] = ranges[k]!;
      const result = heapOf(t.instance, mem.end) ?? heap;
      gx.set(result.subarray(gxPlane(p0) >> 2, (gxPlane(p0) >> 2) + (p1 - p0) * size), p0 * size);
    },
  );
  return true;
}
