import { runBlockwise } from "./blockwise.js";
import { alignUp, heapOf, localInstance } from "./engine.js";
import type { WasmInstance } from "./engine.js";
import { addressOf } from "./resident-storage.js";
import { ADAM_STEP, SGD_STEP } from "./thread-job-kinds.js";
import type { KernelExports, WasmMemory } from "./wasm-api.js";

// The loader of assembly/optimizer.ts: an optimizer's update of one float32 parameter on the calling
// thread's instance, block by block through regions small enough that a block stays in the cache from its
// copy in to its copy out (the parameter, its gradient and its state each go through main memory once).
// A parameter whose arrays are resident storage splits across the threads (below); copies do not pay for
// a split: a version that copied a parameter's operands into the shared
// memory job by job (staged) while the workers computed measured slower than this on 2 threads (Adam over
// 30,720 floats 0.105 -> 0.132 ms, 180,000 floats 0.64 -> 0.67 ms; SGD with momentum 0.057 -> 0.075 ms):
// the calling thread's copies, serial, are most of the work, and whole-array copies leave the cache.
// Two later versions (0fa4e47: fixed ranges staged as the elementwise kernels; 6edfa3d: 2,048-float chunks
// handed out from the parameter's end only as the worker came for them, the calling thread computing from
// the front in its own memory) were as fast alone when the worker came (30,720 floats 102 -> 72-79 us) and
// slower when other processes held its core (113-121 us), but gained nothing in the reference network's
// 2-thread training step, where the operands arrive cold and the copies into the shared memory cost
// 0.3-1 ns a float: in-process alternation, 3 processes of 10 blocks of 60 steps, optimizer.step
// 136.8 / 215.0 / 202.9 us on the calling thread against 137.4 / 214.1 / 198.5 us shared, the step the
// same to 0.5%, with the worker taking 9 of 10 chunks handed out.
// On one thread the kernel itself, not the copies, is most of a step: Adam over the reference network's
// 3,200 + 30,720 + 1,200 floats takes ~119 us, of which its f64 divides and square roots (needed for the
// TypeScript loop's bits) ~97 us, the seven copies ~19 us and the JavaScript around them ~1 us.

// While the threads run, a parameter whose arrays (the parameter and its optimizer state) are resident
// storage (resident-storage.ts) is updated where it lies instead, split into contiguous ranges of elements
// that the threads claim (JOBS_PER_THREAD); a gradient that is not resident is copied in first (a leaf's
// .grad lives in ordinary memory). The update of each element depends on that element alone, so the split
// gives the same bits.
// Adam over 30,720 floats (the reference network's first linear layer; parameter and state resident, the
// gradient copied in), 2 threads, own autogroup at nice -20 on a shared machine: 103 us on the calling
// thread (copied blockwise) -> 58.5 us in place split in two.

/** Floats of each operand per block: Adam with amsgrad copies five operands, 160 KB in all; whole vectors of 4. */
const BLOCKS = { floats: 1 << 13, align: 4 };

/**
 * Fewest elements of a parameter updated in place on the threads: resident arrays start at 16,384 floats
 * (MIN_RESIDENT_BYTES), and smaller parameters would not repay the workers' round trip.
 */
const THREADED_MIN_FLOATS = 1 << 14;
/**
 * Jobs per thread a threaded update is cut into, each of at least MIN_JOB_FLOATS (but one job per thread at
 * least): the threads claim them from the two ends, so a thread whose part runs slower hands the middle to
 * the other. One contiguous range per thread left the calling thread the straggler: on the reference
 * network's first linear layer (Adam, 30,720 floats, 2 threads) its half took 86-92 us against the worker's
 * 52 in processes whose two cores sat far apart (as slow when it ran both halves alone, so not from running
 * at once), and the worker idled for the difference. 8 jobs of 3,840 floats: that table 87-95 -> 76-80 us
 * by medians (in-process alternation, 3 processes), unchanged where the cores sat near (49-52 us).
 */
const JOBS_PER_THREAD = 4;
const MIN_JOB_FLOATS = 1 << 11;

/** How `@pico/core/threads` runs optimizer jobs: the calling thread's instance over the shared memory, and a runner of jobs on all threads. */
export interface OptimizerThreadsRoute {
  exports: KernelExports;
  memory: WasmMemory;
  threads: number;
  /** Runs jobs (ADAM_STEP or SGD_STEP, then the export's arguments) on the threads and the calling thread; returns when all are done. */
  run: (jobs: number[][]) => void;
}

let threaded: OptimizerThreadsRoute | null = null;
/** The route's memory as heapOf keeps it: its float view is made again only when the buffer changes. */
let threadedTarget: WasmInstance<KernelExports> | null = null;

/** @internal The threads entry routes the optimizers' updates of resident parameters through `route`, or back to the calling thread (null). */
export function routeOptimizerThreads(route: OptimizerThreadsRoute | null): void {
  threaded = route;
  threadedTarget = route === null ? null : { exports: route.exports, memory: route.memory, heap: null };
}

/** Threads an update of a large resident parameter splits across now. */
export function optimizerThreads(): number {
  return threaded?.threads ?? 1;
}

/** The threads' memory as f64s, for the hyperparameters: made again only when the memory's buffer changes. */
let hyperView: Float64Array | null = null;

/** Job tables reused by every threaded update: byKind[kind][count - 1] holds `count` jobs of that kind (kind, then the export's arguments). */
const jobTables: number[][][][] = [];

function jobTable(kind: number, count: number): number[][] {
  const byCount = (jobTables[kind] ??= []);
  return (byCount[count - 1] ??= Array.from({ length: count }, () => new Array<number>(kind === ADAM_STEP ? 9 : 7).fill(0)));
}

/**
 * Runs `kind`'s update over [0, length) in place on the threads when every array of the update (the
 * parameter p and its state s1..s3; null for one the call lacks) is resident in their memory and the length
 * is a multiple of 4 (the kernel works in whole vectors and must not write past the arrays): g is read in
 * place or copied in, the f64 `hyper` written before it, and the threads claim contiguous ranges. False,
 * nothing done, otherwise. Allocates nothing once its job table for the thread count exists.
 */
function runThreaded(
  kind: number, p: Float32Array, s1: Float32Array | null, s2: Float32Array | null, s3: Float32Array | null, g: Float32Array, hyper: readonly number[],
): boolean {
  const r = threaded;
  const target = threadedTarget;
  const n = g.length;
  if (r === null || target === null || n < THREADED_MIN_FLOATS || n % 4 !== 0) return false;
  const memory = r.memory;
  const pAt = addressOf(memory, p);
  const at1 = s1 === null ? 0 : addressOf(memory, s1);
  const at2 = s2 === null ? 0 : addressOf(memory, s2);
  const at3 = s3 === null ? 0 : addressOf(memory, s3);
  if (pAt < 0 || at1 < 0 || at2 < 0 || at3 < 0) return false;
  const gOwn = addressOf(memory, g);
  const hyperAt = alignUp(r.exports.heapBase());
  const hyperEnd = alignUp(hyperAt + hyper.length * 8);
  const gAt = gOwn >= 0 ? gOwn : hyperEnd;
  const heap = heapOf(target, gOwn >= 0 ? hyperEnd : alignUp(hyperEnd + n * 4));
  if (heap === null) return false;
  if (hyperView?.buffer !== heap.buffer) hyperView = new Float64Array(heap.buffer);
  for (let k = 0, f = hyperAt >> 3; k < hyper.length; k++, f++) hyperView[f] = hyper[k]!;
  if (gOwn < 0) heap.set(g, gAt >> 2);
  const parts = Math.max(r.threads, Math.min(r.threads * JOBS_PER_THREAD, Math.floor(n / MIN_JOB_FLOATS)));
  const step = Math.ceil(n / parts / 4) * 4;
  const jobs = jobTable(kind, Math.ceil(n / step));
  for (let j = 0, i0 = 0; j < jobs.length; j++, i0 += step) {
    const i1 = Math.min(n, i0 + step);
    const job = jobs[j]!;
    if (kind === ADAM_STEP) {
      job[0] = ADAM_STEP; job[1] = hyperAt; job[2] = pAt; job[3] = gAt; job[4] = at1; job[5] = at2; job[6] = at3; job[7] = i0; job[8] = i1;
    } else {
      job[0] = SGD_STEP; job[1] = hyperAt; job[2] = pAt; job[3] = gAt; job[4] = at1; job[5] = i0; job[6] = i1;
    }
  }
  r.run(jobs);
  return true;
}

const WITH_DECAY = 1;
const FIRST = 2;
const NESTEROV = 4;

/** Each update's f64 constants, rewritten by every call (the kernels read them before it returns). */
const sgdConstants = new Array<number>(6).fill(0);
const adamConstants = new Array<number>(10).fill(0);

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
  const constants = sgdConstants;
  constants[0] = lr; constants[1] = momentum; constants[2] = keep; constants[3] = decay; constants[4] = sign; constants[5] = flags;
  if (runThreaded(SGD_STEP, p, buf, null, null, g, constants)) return true;
  return runBlockwise([p, buf, g], [p, buf], BLOCKS, constants, (at, count, hyper) =>
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
  const e = localInstance()?.exports;
  if (e === undefined) return false;
  const hyper = adamConstants;
  hyper[0] = shrink; hyper[1] = l2; hyper[2] = sign; hyper[3] = keep1; hyper[4] = beta2;
  hyper[5] = keep2; hyper[6] = stepSize; hyper[7] = inverseCorrection2; hyper[8] = eps; hyper[9] = l2 !== 0 ? WITH_DECAY : 0;
  if (runThreaded(ADAM_STEP, p, m, v, vmax, g, hyper)) return true;
  return runBlockwise([p, m, v, vmax, g], [p, m, v, vmax], BLOCKS, hyper, (at, count, h) =>
    e.adamStep(h, at[0]!, at[4]!, at[1]!, at[2]!, at[3]!, 0, count),
  );
}
