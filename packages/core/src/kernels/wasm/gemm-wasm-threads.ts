import { setGemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { Gemm } from "../gemm.js";
import { gemmWasm, isFloat32 } from "./gemm-wasm.js";
import { gemmWasmThreadsBase64 } from "./gemm-wasm-threads-binary.js";
import { runGemm, runJobs } from "./run-gemm.js";
import type { FloatMatrix32, GemmTarget, RowsJob } from "./run-gemm.js";
import { decodeBase64, wasmApi } from "./wasm-api.js";
import type { GemmExports, WasmMemory, WasmModule } from "./wasm-api.js";
import { CONTROL_HEADER, awaitJobs, claimJobs, publishJobs, startWorkers, stopWorkers, workerSource } from "./thread-pool.js";
import type { WorkerPool } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread); nothing in @pico/core's main entry
// imports it. See thread-pool.ts.

// After the pool's header: each worker's work area, then the jobs, JOB_INTS arguments of gemmRows each.
const WORK = CONTROL_HEADER;
const MAX_WORKERS = 16;
const JOBS = WORK + MAX_WORKERS;
const JOB_INTS = 13;
const MAX_JOBS = 64;
const CONTROL_INTS = JOBS + MAX_JOBS * JOB_INTS;
/** Jobs per thread: enough for a late or slower thread to be balanced by the others. */
const CHUNKS_PER_THREAD = 4;
/** A job should carry at least this many floating-point operations to repay its share of packing. */
const MIN_JOB_FLOPS = 2 ** 20;

const WORKER_SOURCE = workerSource(
  "const gemmRows = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports.gemmRows;",
  `const at = ${JOBS} + job * ${JOB_INTS};
      gemmRows(${Array.from({ length: JOB_INTS }, (_, i) => `ctl[at + ${i}]`).join(", ")}, ctl[${WORK} + workerData.index]);`,
);

interface Pool {
  target: GemmTarget;
  workers: WorkerPool;
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
  const count = jobs.length;
  publishJobs(p.workers, count, (ctl) => {
    for (let j = 0; j < count; j++) {
      const job = jobs[j]!;
      for (let i = 0; i < JOB_INTS; i++) ctl[JOBS + j * JOB_INTS + i] = job[i]!;
    }
    for (let w = 0; w < p.workers.workers.length; w++) ctl[WORK + w] = works[w + 1]!;
  });
  const exports = p.target.exports;
  const error = claimJobs(p.workers, count, (j) => runJobs(exports, [jobs[j]!], works[0]!));
  awaitJobs(p.workers, count, () => `gemmWasmThreaded: a worker trapped while computing its part of a ${jobs[0]![1]}-row product`, error);
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
  const threads = flops >= p.minFlops ? p.workers.workers.length + 1 : 1;
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
  let module: WasmModule;
  let memory: WasmMemory;
  let exports: GemmExports;
  try {
    module = new api.Module(decodeBase64(gemmWasmThreadsBase64));
    memory = new api.Memory({ initial: 1, maximum: 16384, shared: true });
    exports = new api.Instance(module, { env: { memory } }).exports as GemmExports;
  } catch {
    return false;
  }
  const workers = await startWorkers(threads - 1, WORKER_SOURCE, CONTROL_INTS, (index) => ({ module, memory, index }));
  if (workers === null) return false;
  pool = {
    target: { exports, memory, heap: null },
    workers,
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
  await stopWorkers(p.workers);
}
