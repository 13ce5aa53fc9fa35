import { runBlockwise } from "./blockwise.js";
import { jobCount, ranges, run as runStaged, target } from "./elementwise-wasm.js";
import type { Target } from "./elementwise-wasm.js";
import { heapOf, Layout, localInstance } from "./engine.js";

// The loader of assembly/optimizer.ts: an optimizer's update of one float32 parameter. On the calling
// thread's instance it goes block by block through regions small enough that a block stays in the cache
// from its copy in to its copy out (the parameter, its gradient and its state each go through main memory
// once). On one thread the kernel itself, not the copies, is most of a step: Adam over the reference
// network's 3,200 + 30,720 + 1,200 floats takes ~119 us, of which its f64 divides and square roots (needed
// for the TypeScript loop's bits) ~97 us, the seven copies ~19 us and the JavaScript around them ~1 us.
// So while `@pico/core/threads` runs, a large parameter's Adam splits across the threads by element
// ranges (assembly/elementwise.ts's elementwiseJob runs each range), staged as the elementwise kernels
// are: the calling thread copies one range's operands into the shared memory after another while the
// workers compute the ranges already in, then copies each result out once it is done. Every element is
// computed by the same code whichever thread takes it, so the bits are one thread's.
/** Floats of each operand per block: Adam with amsgrad copies five operands, 160 KB in all; whole vectors of 4. */
const BLOCKS = { floats: 1 << 13, align: 4 };

const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

/** assembly/elementwise.ts's job kind that runs adamStep. */
const ADAM_STEP = 7;

/**
 * From this many elements Adam splits across the threads: it computes ~3.3 ns an element on one thread,
 * and the calling thread's copies through the shared memory (seven operands) ~1 ns. In-process
 * alternation on 2 threads, medians of 9 blocks of 200 calls, when the worker had a core: 30,720 floats
 * 103 -> 72 us, 16,384 55 -> 42 us; when other processes took it, 103 -> 120 and 55 -> 62 us (the
 * calling thread runs the jobs itself after the slower copies). 4,096 floats: 14 -> 21 us, never faster.
 */
const ADAM_THREADED_MIN_ELEMENTS = 8192;

/**
 * SGD's step on float32 p (with its momentum buffer `buf`, or null), bit for bit the TypeScript loop's
 * (src/kernels/optimizer.ts): see there for the arguments. False where WebAssembly is missing (nothing written).
 */
export function sgdUpdateWasm(
  p: Float32Array, g: Float32Array, buf: Float32Array | null, first: boolean,
  lr: number, momentum: number, keep: number, decay: number, sign: number, nesterov: boolean,
): boolean {
  const flags = (decay !== 0 ? WITH_DECAY : 0) | (first ? FIRST : 0) | (nesterov ? NESTEROV : 0);
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  return runBlockwise([p, buf, g], [p, buf], BLOCKS, [lr, momentum, keep, decay, sign, flags], (at, count, hyper) =>
    e.sgdStep(hyper, at[0]!, at[2]!, at[1]!, 0, count),
  );
}

/**
 * Adam's (AdamW's) step on float32 p with its moments m, v (and their running maximum vmax with amsgrad,
 * else null), bit for bit the TypeScript loop's (src/kernels/optimizer.ts). False where WebAssembly is
 * missing (nothing written).
 */
export function adamUpdateWasm(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, vmax: Float32Array | null,
  shrink: number, l2: number, sign: number, keep1: number, beta2: number, keep2: number, stepSize: number, inverseCorrection2: number, eps: number,
): boolean {
  const hyper = [shrink, l2, sign, keep1, beta2, keep2, stepSize, inverseCorrection2, eps, l2 !== 0 ? WITH_DECAY : 0];
  const split = target(p.length, ADAM_THREADED_MIN_ELEMENTS);
  if (split !== null && split.threads !== null) {
    return runSplit(split, [p, m, v, vmax, g], [p, m, v, vmax], hyper, (h, at, i0, i1) => [
      ADAM_STEP, h, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, i0, i1, 0, 0, 0, 0, 0,
    ]);
  }
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  return runBlockwise([p, m, v, vmax, g], [p, m, v, vmax], BLOCKS, hyper, (at, count, h) =>
    e.adamStep(h, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, 0, count),
  );
}

/** A Float64Array over the shared memory for the constants, made again only when the memory grows. */
let constantsView: Float64Array | null = null;

/**
 * Runs an update split across `t`'s threads by element ranges (whole vectors of 4: each range but the last
 * starts and ends on one, the last is padded into its region), staged: `operands` (null for one the call
 * lacks) into regions of the shared memory, `results[k]` out of operand k's region. `job(constantsAt,
 * regions, i0, i1)` is the elementwiseJob of range [i0, i1). False where the memory cannot grow.
 */
function runSplit(
  t: Target,
  operands: readonly (Float32Array | null)[],
  results: readonly (Float32Array | null)[],
  constants: readonly number[],
  job: (constantsAt: number, at: number[], i0: number, i1: number) => number[],
): boolean {
  const size = operands[0]!.length;
  const padded = Math.ceil(size / 4) * 4;
  const mem = new Layout(t.exports.heapBase());
  const constantsAt = mem.take(constants.length * 2);
  const at: number[] = [];
  for (let k = 0; k < operands.length; k++) at.push(operands[k] === null ? 0 : mem.take(padded));
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  if (constantsView?.buffer !== heap.buffer) constantsView = new Float64Array(heap.buffer);
  constantsView.set(constants, constantsAt >> 3);
  const parts = ranges(size, jobCount(t, padded >> 2), 4);
  const jobs: number[][] = [];
  for (const [i0, i1] of parts) jobs.push(job(constantsAt, at, i0, Math.ceil(i1 / 4) * 4));
  runStaged(t, jobs, {
    copyIn: (k) => {
      const [i0, i1] = parts[k]!;
      for (let j = 0; j < operands.length; j++) {
        const a = operands[j];
        if (a !== null && a !== undefined) heap.set(a.subarray(i0, i1), (at[j]! >> 2) + i0);
      }
    },
    copyOut: (k) => {
      const [i0, i1] = parts[k]!;
      for (let j = 0; j < results.length; j++) {
        const r = results[j];
        if (r !== null && r !== undefined) r.set(heap.subarray((at[j]! >> 2) + i0, (at[j]! >> 2) + i1), i0);
      }
    },
  });
  return true;
}
