import { alignUp, wasmBinary } from "./engine.js";
import { memoryTouched } from "./handoff.js";
import { attachResidentStorage, detachResidentStorage } from "./resident-storage.js";
import { wasmApi } from "./wasm-api.js";
import type { KernelExports, WasmMemory, WasmModule } from "./wasm-api.js";
import { CONTROL_HEADER, MAX_JOBS, closeTable, openJobs, startWorkers, stopWorkers, workerSource } from "./thread-pool.js";
import { ADAM_STEP, CONV_BACKWARD, CONV_FORWARD, ELEMENTWISE_JOB, GEMM_ROWS, PREPARE_WINOGRAD, SGD_STEP, WEIGHTS_BACKWARD } from "./thread-job-kinds.js";
import type { WorkerPool } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread); see thread-pool.ts.
// One set of worker threads, one shared memory and one instance per thread of the kernel module serve both the convolution (conv-wasm-threads.ts) and the GEMM
// (gemm-wasm-threads.ts): every worker is a V8 isolate of several MB, so a pool each would cost twice
// that. Their calls are synchronous on the calling thread and never overlap, so both lay out their
// operands from heapBase in the same memory.

// After the pool's header: each worker's GEMM work area, the scratch stride of convolution calls, then
// the jobs, JOB_INTS slots each: the kind (thread-job-kinds.ts), then the arguments (conv2dForward's 15,
// conv2dBackward's 16, winograd3x3WeightsBackward's 9 or prepareWinograd3x3's 7, gemmRows' first 13,
// elementwiseJob's 15, adamStep's 8, sgdStep's 6).
const WORK = CONTROL_HEADER;
/** Most threads in all, the calling one included: the one limit every entry point checks. */
export const MAX_THREADS = 16;
const MAX_WORKERS = MAX_THREADS - 1;
/**
 * Bytes between one thread's scratch regions and the next's for the open convolution calls: thread i
 * (0 the calling one, worker w is w + 1) adds i times this to every scratch address of the call it
 * claims, so that calls can be claimed by any thread while each thread works in its own regions.
 */
const SCRATCH_STRIDE = WORK + MAX_WORKERS;
const JOBS = SCRATCH_STRIDE + 1;
const JOB_INTS = 17;
export { MAX_JOBS };
const CONTROL_INTS = JOBS + MAX_JOBS * JOB_INTS;
/** Positions in a ConvCall (kind first) of the scratch addresses a thread offsets by its own region. */
const CONV_FORWARD_SCRATCH = [10, 11, 12, 14];
const CONV_BACKWARD_SCRATCH = [10, 11, 12, 13];
const WEIGHTS_BACKWARD_SCRATCH = [9];
const PREPARE_WINOGRAD_SCRATCH = [7];

const WORKER_SOURCE = workerSource(
  `const e = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
const own = (v, stride) => (v === 0 ? 0 : v + (workerData.index + 1) * stride);`,
  `const at = ${JOBS} + job * ${JOB_INTS};
      const kind = ctl[at];
      const stride = ctl[${SCRATCH_STRIDE}];
      if (kind === ${GEMM_ROWS}) e.gemmRows(${args(13)}, ctl[${WORK} + workerData.index]);
      else if (kind === ${ELEMENTWISE_JOB}) e.elementwiseJob(${args(15)});
      else if (kind === ${ADAM_STEP}) e.adamStep(${args(8)});
      else if (kind === ${SGD_STEP}) e.sgdStep(${args(6)});
      else if (kind === ${CONV_FORWARD}) e.conv2dForward(${args(15, CONV_FORWARD_SCRATCH)});
      else if (kind === ${CONV_BACKWARD}) e.conv2dBackward(${args(16, CONV_BACKWARD_SCRATCH)});
      else if (kind === ${WEIGHTS_BACKWARD}) e.winograd3x3WeightsBackward(${args(9, WEIGHTS_BACKWARD_SCRATCH)});
      else if (kind === ${PREPARE_WINOGRAD}) e.prepareWinograd3x3(${args(7, PREPARE_WINOGRAD_SCRATCH)});
      else throw new Error("unknown job kind " + kind);`,
);

/** The job's `count` arguments from the table, those at `scratch` (positions, kind first) in the thread's own scratch region. */
function args(count: number, scratch: readonly number[] = []): string {
  return Array.from({ length: count }, (_, i) => (scratch.includes(i + 1) ? `own(ctl[at + ${i + 1}], stride)` : `ctl[at + ${i + 1}]`)).join(", ");
}

/** The running threads: `threads` in all (the calling one included), `threads - 1` of them workers. */
export interface WasmThreads {
  readonly threads: number;
  /** The calling thread's instance. */
  readonly exports: KernelExports;
  readonly memory: WasmMemory;
  readonly pool: WorkerPool;
}

export type WasmThreadsUser = "conv" | "gemm" | "elementwise";

/** Told the threads a user should route its work to from now on, or null for the calling thread alone. */
export type WasmThreadsRoute = (threads: WasmThreads | null) => void;

interface Running {
  threads: WasmThreads;
  users: Map<WasmThreadsUser, WasmThreadsRoute>;
}

let running: Running | null = null;
let module: WasmModule | null = null;
// Joins and leaves run one at a time: each awaits workers starting or stopping.
let queue: Promise<unknown> = Promise.resolve();

function serially<T>(task: () => Promise<T>): Promise<T> {
  const next = queue.then(task);
  queue = next.catch(() => undefined);
  return next;
}

async function start(threads: number): Promise<WasmThreads | null> {
  const api = wasmApi();
  if (api === undefined || typeof SharedArrayBuffer === "undefined") return null;
  let memory: WasmMemory;
  let exports: KernelExports;
  let compiled: WasmModule;
  try {
    compiled = module ??= new api.Module(wasmBinary(true));
    memory = new api.Memory({ initial: 1, maximum: 16384, shared: true });
    const raw = new api.Instance(compiled, { env: { memory } }).exports as KernelExports;
    // With a second thread, tensor storage lives in the memory from the module's data on (resident-storage.ts), the kernels' scratch after it.
    const start = alignUp(raw.heapBase());
    const resident = threads > 1 ? attachResidentStorage(memory, start) : () => 0;
    // Asking for heapBase before a layout voids a handed-off output (handoff.ts).
    exports = {
      ...raw,
      heapBase: () => {
        memoryTouched();
        return start + resident();
      },
    };
  } catch {
    // No SIMD, threads or shared memory in this WebAssembly.
    return null;
  }
  const pool = await startWorkers(threads - 1, WORKER_SOURCE, CONTROL_INTS, (index) => ({ module: compiled, memory, index }));
  if (pool === null) detachResidentStorage(memory);
  return pool === null ? null : { threads, exports, memory, pool };
}

/** Throws a RangeError naming `operation` unless `threads` is an integer from 1 to MAX_THREADS. */
export function checkThreads(operation: string, threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`${operation}: threads must be an integer from 1 to ${MAX_THREADS}, but got ${threads}`);
  }
}

/**
 * Has `user` run its work on the shared threads, `threads` in all: starts them when none run, or
 * restarts them when they run with another count, moving the other user to the new ones. `route` is
 * called with the threads now, at every later restart, and with null when they stop under `user` (a
 * failed restart, leaveWasmThreads). Resolves false, every user routed to null and nothing running,
 * where WebAssembly SIMD, shared memory or workers are missing.
 */
export function joinWasmThreads(user: WasmThreadsUser, threads: number, route: WasmThreadsRoute): Promise<boolean> {
  return serially(async () => {
    const current = running;
    if (current !== null && current.threads.threads === threads) {
      current.users.set(user, route);
      route(current.threads);
      return true;
    }
    const users = new Map(current?.users);
    users.set(user, route);
    if (current !== null) {
      // Until the new workers are ready, the work runs on the calling thread: no call may wait on a stopped worker.
      running = null;
      for (const r of current.users.values()) r(null);
      detachResidentStorage(current.threads.memory);
      await stopWorkers(current.threads.pool);
    }
    const started = await start(threads);
    if (started === null) {
      for (const r of users.values()) r(null);
      return false;
    }
    running = { threads: started, users };
    for (const r of users.values()) r(started);
    return true;
  });
}

/** `user` runs its work on the calling thread again; the workers stop when no user is left. */
export function leaveWasmThreads(user: WasmThreadsUser): Promise<void> {
  return serially(async () => {
    const current = running;
    const route = current?.users.get(user);
    if (current === null || route === undefined) return;
    current.users.delete(user);
    route(null);
    if (current.users.size > 0) return;
    running = null;
    detachResidentStorage(current.threads.memory);
    await stopWorkers(current.threads.pool);
  });
}

/** The threads running now, or null. */
export function runningWasmThreads(): WasmThreads | null {
  return running?.threads ?? null;
}

/** A publishThreadJobs `kind` for jobs whose first entry is their kind (a ConvCall, an optimizer job). */
export const OWN_KIND = -1;

/**
 * Opens jobs[0, count) to the workers, the first `ready` at once, the others after markReady: job j is `kind`
 * (thread-job-kinds.ts) followed by jobs[j], or jobs[j] alone, its kind first, with OWN_KIND. Thread i (0 the
 * calling one, worker w is w + 1) moves the scratch addresses of the convolution calls it claims by i times
 * `scratchStride`, and runs gemmRows in the work area works[i].
 */
export function publishThreadJobs(
  t: WasmThreads, kind: number, jobs: readonly ArrayLike<number>[], count = jobs.length, ready = count,
  scratchStride = 0, works: readonly number[] | null = null,
): void {
  const ctl = closeTable(t.pool, count);
  ctl[SCRATCH_STRIDE] = scratchStride;
  if (works !== null) for (let w = 0; w < t.pool.workers.length; w++) ctl[WORK + w] = works[w + 1]!;
  for (let j = 0; j < count; j++) {
    const at = JOBS + j * JOB_INTS;
    if (kind === OWN_KIND) {
      ctl.set(jobs[j]!, at);
    } else {
      ctl[at] = kind;
      ctl.set(jobs[j]!, at + 1);
    }
  }
  openJobs(t.pool, count, ready);
}
