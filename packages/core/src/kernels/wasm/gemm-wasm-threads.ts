import { setGemm } from "../gemm.js";
import { gemmPacked } from "../gemm-packed.js";
import type { Gemm } from "../gemm.js";
import { gemmWasm, isFloat32 } from "./gemm-wasm.js";
import { runGemm, runJobs } from "./run-gemm.js";
import type { FloatMatrix32, GemmTarget, RowsJob, StagedJobs } from "./run-gemm.js";
import { MAX_JOBS, MAX_WORKERS, joinWasmThreads, leaveWasmThreads, publishGemmJobs } from "./shared-wasm-threads.js";
import type { WasmThreads } from "./shared-wasm-threads.js";
import { awaitJobs, claimJobs, markReady } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread); nothing in @pico/core's main entry
// imports it. The GEMM's side of the threads it shares with the convolution (shared-wasm-threads.ts).

/** Jobs per thread: enough for a late or slower thread to be balanced by the others. */
const CHUNKS_PER_THREAD = 4;
/** A job should carry at least this many floating-point operations to repay its share of packing. */
const MIN_JOB_FLOPS = 2 ** 20;

interface Route {
  threads: WasmThreads;
  target: GemmTarget;
  minFlops: number;
  fallback: Gemm;
}

let current: Route | null = null;

export interface WasmThreadsOptions {
  /** Threads in all, the calling one included (default 2, at most 17). */
  threads?: number;
  /** Products below this many floating-point operations (2·m·n·k) stay on the calling thread (default 2^22). */
  minFlops?: number;
  /** The kernel for Float64 operands (default `gemmPacked`). */
  float64Kernel?: Gemm;
}

/**
 * Runs gemmRows jobs (at most 64, over t's memory) on t's workers and the calling thread, each
 * claiming the next unclaimed job; worker w works in works[w + 1], the calling thread in works[0].
 * Throws an Error naming `product` if one traps.
 */
export function runRowsJobsThreaded(t: WasmThreads, jobs: RowsJob[], works: number[], product: string): void {
  publishGemmJobs(t, jobs, works);
  finishJobs(t, jobs, works, product);
}

/** The calling thread claims the jobs still unclaimed, then waits for the workers' (throwing if one trapped). */
function finishJobs(t: WasmThreads, jobs: RowsJob[], works: number[], product: string): void {
  const error = claimJobs(t.pool, jobs.length, (j) => runJobs(t.exports, [jobs[j]!], works[0]!));
  awaitJobs(t.pool, jobs.length, (who) => `gemmWasmThreaded: ${who} trapped while computing its part of a ${product} product`, error);
}

/** Jobs the workers start on while the calling thread is still copying their rows of A in. */
function stagedJobs(t: WasmThreads, product: string): StagedJobs {
  let open: { jobs: RowsJob[]; works: number[] } | null = null;
  return {
    start: (jobs, works) => {
      open = { jobs, works };
      publishGemmJobs(t, jobs, works, 0);
    },
    ready: (count) => markReady(t.pool, count),
    finish: () => {
      if (open !== null) finishJobs(t, open.jobs, open.works, product);
    },
  };
}

/**
 * C = op(A)·op(B) (+ C) like `gemmWasm`, with large float32 products split by rows (or, for short C,
 * by columns) across the worker threads started by `installWasmGemmThreads`. Without them it is
 * `gemmWasm` on the calling thread; Float64 operands, or operands too large for the shared memory
 * (1 GiB), go to the fallback kernel.
 */
export const gemmWasmThreaded: Gemm = (m, n, k, a, b, c, accumulate) => {
  const r = current;
  if (r === null) {
    gemmWasm(m, n, k, a, b, c, accumulate);
    return;
  }
  if (!isFloat32(a.data) || !isFloat32(b.data) || !isFloat32(c.data)) {
    r.fallback(m, n, k, a, b, c, accumulate);
    return;
  }
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = 0; i < m; i++) c.data.fill(0, c.offset + i * c.ld, c.offset + i * c.ld + n);
    return;
  }
  const flops = 2 * m * n * k;
  if (flops < r.minFlops || r.threads.threads === 1) {
    // The calling thread's own instance: its memory is not shared, which makes small products ~10-25% faster.
    gemmWasm(m, n, k, a, b, c, accumulate);
    return;
  }
  const threads = r.threads.threads;
  const chunks = Math.max(threads, Math.min(threads * CHUNKS_PER_THREAD, Math.floor(flops / MIN_JOB_FLOPS), MAX_JOBS));
  const product = `${m}×${n}×${k}`;
  const execute = (jobs: RowsJob[], works: number[]): void => {
    if (jobs.length === 1) runJobs(r.target.exports, jobs, works[0]!);
    else runRowsJobsThreaded(r.threads, jobs, works, product);
  };
  const done = runGemm(r.target, m, n, k, a, b, c as FloatMatrix32, accumulate, threads, chunks, execute, stagedJobs(r.threads, product));
  if (!done) r.fallback(m, n, k, a, b, c, accumulate);
};

/** Worker threads are running for `gemmWasmThreaded`. */
export function wasmThreadsActive(): boolean {
  return current !== null;
}

/**
 * Makes `gemmWasmThreaded` the GEMM every operator uses, on `threads` threads, the calling one
 * included, that share one WebAssembly memory: the worker threads the convolution uses too
 * (installWasmConvThreads), started here if they are not running, restarted (for both) if they run
 * with another count. Node only (worker_threads, Atomics.wait on the calling thread). Resolves false,
 * changing no GEMM and with no worker threads left running, where WebAssembly SIMD, shared memory or
 * workers are missing.
 */
export async function installWasmGemmThreads(options: WasmThreadsOptions = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1) {
    throw new RangeError(`installWasmGemmThreads: threads must be an integer from 1 to ${MAX_WORKERS + 1}, but got ${threads}`);
  }
  const minFlops = options.minFlops ?? 2 ** 22;
  const fallback = options.float64Kernel ?? gemmPacked;
  const joined = await joinWasmThreads("gemm", threads, (t) => {
    current = t === null ? null : { threads: t, target: { exports: t.exports, memory: t.memory, heap: null }, minFlops, fallback };
  });
  if (joined) setGemm(gemmWasmThreaded);
  return joined;
}

/**
 * `gemmWasmThreaded` runs on the calling thread again; the workers stop unless the convolution still
 * uses them. The core GEMM is left as it is (install another with `setGemm` or `installWasmGemm`).
 */
export async function stopWasmGemmThreads(): Promise<void> {
  await leaveWasmThreads("gemm");
}
