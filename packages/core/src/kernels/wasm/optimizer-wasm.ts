import { runBlockwise } from "./blockwise.js";
import { target } from "./elementwise-wasm.js";
import type { ElementwiseThreads, Target } from "./elementwise-wasm.js";
import { heapOf, Layout, localInstance } from "./engine.js";
import { MAX_JOBS } from "./thread-pool.js";

// The loader of assembly/optimizer.ts: an optimizer's update of one float32 parameter. On the calling
// thread's instance it goes block by block through regions small enough that a block stays in the cache
// from its copy in to its copy out (the parameter, its gradient and its state each go through main memory
// once). On one thread the kernel itself, not the copies, is most of a step: Adam over the reference
// network's 3,200 + 30,720 + 1,200 floats takes ~119 us, of which its f64 divides and square roots (needed
// for the TypeScript loop's bits) ~97 us, the seven copies ~19 us and the JavaScript around them ~1 us.
//
// So while `@pico/core/threads` runs, a large parameter's Adam is shared with the worker threads, chunk by
// chunk, as they come for work: the calling thread hands out chunks from the end of the parameter (copies
// their operands into the shared memory, a job each through assembly/elementwise.ts's elementwiseJob) only
// while fewer than two per worker wait untaken, and computes chunks from the front itself in the
// meantime, in its own memory (whose copies cost about half of the shared memory's), until the two meet;
// then it copies the handed-out chunks' results out. A worker that is late (asleep, or its core taken by
// another process) is given little and waited for little. Every element is computed by the same code
// whichever thread takes it, so the bits are one thread's.

/** Floats of each operand per block: Adam with amsgrad copies five operands, 160 KB in all; whole vectors of 4. */
const BLOCKS = { floats: 1 << 13, align: 4 };

const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

/** assembly/elementwise.ts's job kind that runs adamStep over the range in its slot. */
const ADAM_STEP = 7;
/** Floats of a chunk: a worker's job, and the calling thread's own step between looks at the workers. */
const CHUNK_FLOATS = 2048;
/** Untaken jobs per worker the calling thread keeps handed out, so that a worker finds the next one ready. */
const QUEUED_PER_WORKER = 2;

/**
 * From this many elements Adam is shared with the workers: it computes ~3.3 ns an element on one thread, and
 * a chunk handed out costs the calling thread ~1 ns an element of copies through the shared memory. The
 * reference network's 30,720-float layer on 2 threads (shared machine, medians of 2,000 calls): 102 us on
 * the calling thread alone, 79 us when the worker came for 9 of its 15 chunks, 113-117 us when it did not
 * (other processes held its core). Below, the chunks are too few to share: 4,096 floats split in two fixed
 * ranges took 21 against 14 us.
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
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  const own = (from: number, to: number): boolean =>
    runBlockwise([p, m, v, vmax, g], [p, m, v, vmax], BLOCKS, hyper, (at, count, h) => e.adamStep(h, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, 0, count), from, to);
  const split = target(p.length, ADAM_THREADED_MIN_ELEMENTS);
  if (split !== null && split.threads !== null) return adamShared(split, split.threads, [p, m, v, vmax, g], hyper, own);
  return own(0, p.length);
}

/** Views of the shared memory for the constants and the jobs' slots, made again only when the memory grows. */
let constantsView: Float64Array | null = null;
let slotsView: Int32Array | null = null;

/**
 * Adam over `operands` (p, m, v, vmax or null, g) shared with `threads`' workers as they come for work
 * (see the top of this file), `own(from, to)` computing the calling thread's chunks in its own memory.
 * False, nothing written, where either memory cannot grow.
 */
function adamShared(
  t: Target,
  threads: ElementwiseThreads,
  operands: readonly (Float32Array | null)[],
  hyper: readonly number[],
  own: (from: number, to: number) => boolean,
): boolean {
  const size = operands[0]!.length;
  const chunk = Math.max(CHUNK_FLOATS, Math.ceil(size / MAX_JOBS / 4) * 4);
  const chunks = Math.ceil(size / chunk);
  const mem = new Layout(t.exports.heapBase());
  const constantsAt = mem.take(hyper.length * 2);
  const slotsAt = mem.take(chunks * 3);
  const at: number[] = [];
  for (let k = 0; k < operands.length; k++) at.push(operands[k] === null ? 0 : mem.take(chunks * chunk));
  const heap = heapOf(t.instance, mem.end);
  if (heap === null) return false;
  if (constantsView?.buffer !== heap.buffer) {
    constantsView = new Float64Array(heap.buffer);
    slotsView = new Int32Array(heap.buffer);
  }
  // The first chunk lays out the calling thread's regions, as large as any later chunk needs: once it ran, none fails.
  if (!own(0, Math.min(size, chunk))) return false;
  constantsView.set(hyper, constantsAt >> 3);
  const slots = slotsView!;
  const slot0 = slotsAt >> 2;
  // Every job's range empty and untaken until it is handed out.
  slots.fill(0, slot0, slot0 + chunks * 3);
  // Job j is chunk chunks - 1 - j: the workers take the parameter from its end.
  const jobs: number[][] = [];
  for (let j = 0; j < chunks; j++) jobs.push([ADAM_STEP, constantsAt, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, slotsAt + j * 12, 0, 0, 0, 0, 0, 0]);
  const open = threads.launch(jobs);
  const queued = QUEUED_PER_WORKER * (threads.threads - 1);
  let front = 1;
  let back = chunks;
  let handedOut = 0;
  let taken = 0;
  try {
    while (front < back) {
      while (taken < handedOut && Atomics.load(slots, slot0 + taken * 3 + 2) !== 0) taken++;
      // The calling thread keeps at least one chunk of the two ends for itself.
      if (handedOut - taken < queued && back - front >= 2) {
        back--;
        const i0 = back * chunk;
        const i1 = Math.min(size, i0 + chunk);
        for (let k = 0; k < operands.length; k++) {
          const a = operands[k];
          if (a !== null && a !== undefined) heap.set(a.subarray(i0, i1), (at[k]! >> 2) + i0);
        }
        slots[slot0 + handedOut * 3] = i0;
        slots[slot0 + handedOut * 3 + 1] = Math.ceil(i1 / 4) * 4;
        open.ready(++handedOut);
      } else {
        own(front * chunk, Math.min(size, (front + 1) * chunk));
        front++;
      }
    }
  } finally {
    // Every job must be ready (a worker may be waiting for it) before the table closes: those not handed out are empty.
    open.ready(chunks);
    const e = t.exports;
    open.finish(
      (j) => {
        const a = jobs[j]!;
        e.elementwiseJob(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, 0, 0, 0, 0, 0, 0);
      },
      (j) => {
        if (j >= handedOut) return;
        const i0 = (chunks - 1 - j) * chunk;
        const i1 = Math.min(size, i0 + chunk);
        // The results are p, m, v and vmax: every operand but the gradient (the last).
        for (let k = 0; k < operands.length - 1; k++) {
          const r = operands[k];
          if (r !== null && r !== undefined) r.set(heap.subarray((at[k]! >> 2) + i0, (at[k]! >> 2) + i1), i0);
        }
      },
    );
  }
  return true;
}
