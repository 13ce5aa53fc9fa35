import { setGemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { Gemm } from "../gemm.js";
import { gemmWasm, isFloat32 } from "./gemm-wasm.js";
import { gemmWasmThreadsBase64 } from "./gemm-wasm-threads-binary.js";
import { runGemm, runJobs } from "./run-gemm.js";
import type { FloatMatrix32, GemmTarget, RowsJob } from "./run-gemm.js";
import { decodeBase64, wasmApi } from "./wasm-api.js";
import type { GemmExports, WasmMemory, WasmModule } from "./wasm-api.js";

// Node-only: this module starts worker_threads and blocks the calling thread in Atomics.wait. Nothing
// in @pico/core imports it; `node:worker_threads` is loaded only when `installWasmGemmThreads` runs.

interface NodeWorker {
  once(event: "message" | "error" | "exit", listener: (value: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreads {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
}

// One control block (Int32 slots) shared by the pool: the job sequence (-1 asks workers to exit), the
// next unclaimed job, the job count, how many jobs finished, a failure flag, each worker's work
// area, then the jobs, JOB_INTS arguments each. Threads claim jobs with Atomics.add until none are
// left, so a worker that the OS schedules late simply gets fewer of them.
const SEQ = 0;
const NEXT = 1;
const COUNT = 2;
const FINISHED = 3;
const FAILED = 4;
const WORK = 8;
const MAX_WORKERS = 16;
const JOBS = WORK + MAX_WORKERS;
const JOB_INTS = 13;
const MAX_JOBS = 64;
const CONTROL_INTS = JOBS + MAX_JOBS * JOB_INTS;
/** Stored in NEXT between products, so that a late worker claims nothing while the job table is rewritten. */
const CLOSED = 1 << 30;
/** Jobs per thread: enough for a late or slower thread to be balanced by the others. */
const CHUNKS_PER_THREAD = 4;
/** A job should carry at least this many floating-point operations to repay its share of packing. */
const MIN_JOB_FLOPS = 2 ** 20;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control, index } = workerData;
const gemmRows = new WebAssembly.Instance(module, { env: { memory } }).exports.gemmRows;
const ctl = new Int32Array(control);
parentPort.postMessage("ready");
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  const seq = Atomics.load(ctl, ${SEQ});
  if (seq === seen) continue;
  if (seq < 0) break;
  seen = seq;
  for (;;) {
    const job = Atomics.add(ctl, ${NEXT}, 1);
    const count = Atomics.load(ctl, ${COUNT});
    if (job >= count) break;
    const at = ${JOBS} + job * ${JOB_INTS};
    try {
      gemmRows(${Array.from({ length: JOB_INTS }, (_, i) => `ctl[at + ${i}]`).join(", ")}, ctl[${WORK} + index]);
    } catch {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.add(ctl, ${FINISHED}, 1) + 1 === count) Atomics.notify(ctl, ${FINISHED});
  }
}
`;

interface Pool {
  target: GemmTarget;
  workers: NodeWorker[];
  control: Int32Array;
  sequence: number;
  minFlops: number;
  fallback: Gemm;
}

let pool: Pool | null = null;

export interface WasmThreadsOptions {
  /** Threads in all, the calling one included (default 2, at most 17). */
  threads?: number;
  /** Products below this many floating-point operations (2·m·n·k) stay on the calling thread (default 2^22). */
  minFlops?: number;
  /** The kernel for Float64 operands (default `gemmPacked`). */
  float64Kernel?: Gemm;
}

function runParallel(p: Pool, jobs: RowsJob[], works: number[]): void {
  const ctl = p.control;
  const count = jobs.length;
  Atomics.store(ctl, NEXT, CLOSED);
  for (let j = 0; j < count; j++) {
    const job = jobs[j]!;
    for (let i = 0; i < JOB_INTS; i++) ctl[JOBS + j * JOB_INTS + i] = job[i]!;
  }
  for (let w = 0; w < p.workers.length; w++) ctl[WORK + w] = works[w + 1]!;
  Atomics.store(ctl, COUNT, count);
  Atomics.store(ctl, FINISHED, 0);
  Atomics.store(ctl, FAILED, 0);
  Atomics.store(ctl, NEXT, 0);
  Atomics.store(ctl, SEQ, ++p.sequence);
  Atomics.notify(ctl, SEQ);
  const exports = p.target.exports;
  let error: unknown = null;
  for (let j = Atomics.add(ctl, NEXT, 1); j < count; j = Atomics.add(ctl, NEXT, 1)) {
    const a = JOBS + j * JOB_INTS;
    try {
      exports.gemmRows(ctl[a]!, ctl[a + 1]!, ctl[a + 2]!, ctl[a + 3]!, ctl[a + 4]!, ctl[a + 5]!, ctl[a + 6]!, ctl[a + 7]!, ctl[a + 8]!, ctl[a + 9]!, ctl[a + 10]!, ctl[a + 11]!, ctl[a + 12]!, works[0]!);
    } catch (e) {
      error = e;
    }
    Atomics.add(ctl, FINISHED, 1);
  }
  for (let f = Atomics.load(ctl, FINISHED); f !== count; f = Atomics.load(ctl, FINISHED)) Atomics.wait(ctl, FINISHED, f);
  Atomics.store(ctl, NEXT, CLOSED);
  if (error !== null) throw error;
  if (ctl[FAILED] !== 0) throw new Error(`gemmWasmThreaded: a worker trapped while computing its part of a ${jobs[0]![1]}-row product`);
}

/**
 * C = op(A)·op(B) (+ C) like `gemmWasm`, with large float32 products split by rows (or, for short C,
 * by columns) across the worker threads started by `installWasmGemmThreads`. Without them it is
 * `gemmWasm` on the calling thread; Float64 operands, or operands too large for the shared memory
 * (1 GiB), go to the fallback kernel.
 */
export const gemmWasmThreaded: Gemm = (m, n, k, a, b, c, accumulate) => {
  const p = pool;
  if (p === null) {
    gemmWasm(m, n, k, a, b, c, accumulate);
    return;
  }
  if (!isFloat32(a.data) || !isFloat32(b.data) || !isFloat32(c.data)) {
    p.fallback(m, n, k, a, b, c, accumulate);
    return;
  }
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
    return;
  }
  const flops = 2 * m * n * k;
  const threads = flops >= p.minFlops ? p.workers.length + 1 : 1;
  const chunks = Math.max(threads, Math.min(threads * CHUNKS_PER_THREAD, Math.floor(flops / MIN_JOB_FLOPS), MAX_JOBS));
  const done = runGemm(p.target, m, n, k, a, b, c as FloatMatrix32, accumulate, threads, threads === 1 ? 1 : chunks, (jobs, works) => {
    if (jobs.length === 1) runJobs(p.target.exports, jobs, works[0]!);
    else runParallel(p, jobs, works);
  });
  if (!done) p.fallback(m, n, k, a, b, c, accumulate);
};

/** Worker threads are running for `gemmWasmThreaded`. */
export function wasmThreadsActive(): boolean {
  return pool !== null;
}

/**
 * Starts `threads - 1` worker threads sharing one WebAssembly memory and makes `gemmWasmThreaded`
 * the GEMM every operator uses. Node only (worker_threads, Atomics.wait on the calling thread).
 * Resolves false, changing nothing, where WebAssembly SIMD, shared memory or workers are missing.
 */
export async function installWasmGemmThreads(options: WasmThreadsOptions = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`installWasmGemmThreads: threads must be an integer from 1 to ${MAX_WORKERS + 1}, but got ${threads}`);
  }
  await stopWasmGemmThreads();
  const api = wasmApi();
  if (api === undefined || typeof SharedArrayBuffer === "undefined") return false;
  let workerThreads: WorkerThreads;
  let module: WasmModule;
  let memory: WasmMemory;
  let exports: GemmExports;
  try {
    const specifier: string = "node:worker_threads";
    workerThreads = (await import(specifier)) as WorkerThreads;
    module = new api.Module(decodeBase64(gemmWasmThreadsBase64));
    memory = new api.Memory({ initial: 1, maximum: 16384, shared: true });
    exports = new api.Instance(module, { env: { memory } }).exports as GemmExports;
  } catch {
    return false;
  }
  const workers: NodeWorker[] = [];
  const control = new SharedArrayBuffer(CONTROL_INTS * 4);
  try {
    for (let index = 0; index < threads - 1; index++) {
      const worker = new workerThreads.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, index } });
      workers.push(worker);
      await new Promise<void>((resolve, reject) => {
        worker.once("message", () => resolve());
        worker.once("error", reject);
      });
      worker.unref();
    }
  } catch {
    await Promise.all(workers.map((w) => w.terminate()));
    return false;
  }
  pool = {
    target: { exports, memory, heap: null },
    workers,
    control: new Int32Array(control),
    sequence: 0,
    minFlops: options.minFlops ?? 2 ** 22,
    fallback: options.float64Kernel ?? gemmPacked,
  };
  setGemm(gemmWasmThreaded);
  return true;
}

/**
 * Stops the worker threads. The core GEMM is left as it is: if it was `gemmWasmThreaded`, it now
 * runs on the calling thread only (install another with `setGemm` or `installWasmGemm`).
 */
export async function stopWasmGemmThreads(): Promise<void> {
  const p = pool;
  if (p === null) return;
  pool = null;
  Atomics.store(p.control, SEQ, -1);
  Atomics.notify(p.control, SEQ);
  await Promise.all(p.workers.map((w) => w.terminate()));
}
