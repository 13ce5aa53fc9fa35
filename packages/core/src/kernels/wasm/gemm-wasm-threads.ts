import { gemmPacked } from "../gemm-packed.js";
import type { Gemm } from "../gemm.js";
import { kernelsChanged } from "../registry.js";
import type { WasmInstance } from "./engine.js";
import { gemmWasmLocal, isFloat32, routeGemmThreads } from "./gemm-wasm.js";
import { addressOf } from "./resident-storage.js";
import { runGemm, runJob, runJobs, runProducts, splitAxis } from "./run-gemm.js";
import type { FloatMatrix32, Product, RowsJobs, StagedJobs } from "./run-gemm.js";
import { MAX_JOBS, checkThreads, joinWasmThreads, leaveWasmThreads, publishThreadJobs } from "./shared-wasm-threads.js";
import { GEMM_ROWS } from "./thread-job-kinds.js";
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
  target: WasmInstance;
  minFlops: number;
  fallback: Gemm;
  /** runGemm's runners of jobs on these threads, made once per route (none per product). */
  execute: (jobs: RowsJobs) => void;
  staged: StagedJobs;
}

let current: Route | null = null;

export interface WasmThreadsOptions {
  /** Threads in all, the calling one included (default 2, at most MAX_THREADS = 16). */
  threads?: number;
  /**
   * Products below this many floating-point operations (2·m·n·k) stay on the calling thread (default 2^22);
   * those whose A and B are both resident storage (read in place, nothing copied in) from half of it on split.
   */
  minFlops?: number;
  /** The kernel for Float64 operands (default `gemmPacked`). */
  float64Kernel?: Gemm;
}

/**
 * Runs gemmRows jobs (at most 64, over t's memory) on t's workers and the calling thread, each
 * claiming the next unclaimed job; worker w works in works[w + 1], the calling thread in works[0].
 * Throws an Error naming the product (jobs.describe()) if one traps. It makes its runners for the one
 * call (for tests): gemmWasmThreaded uses those its route made once.
 */
export function runRowsJobsThreaded(t: WasmThreads, jobs: RowsJobs): void {
  runners(t).execute(jobs);
}

/**
 * runGemm's runners of jobs on `t`: `execute` runs a lone job on the calling thread, more on all threads,
 * each claiming the next unclaimed job; `staged` opens them to the threads before their input is in.
 * installWasmGemmThreads' route makes them once, with the functions the pool calls, so that a product
 * allocates none.
 */
function runners(t: WasmThreads): Pick<Route, "execute" | "staged"> {
  /** The jobs open on the threads now. */
  let open: RowsJobs | null = null;
  const runOne = (j: number): void => runJob(t.exports, open!, j, open!.works[0]!);
  const failure = (who: string): string => `gemmWasmThreaded: ${who} trapped while computing its part of a ${open!.describe()} product`;
  // The calling thread claims the jobs still unclaimed, then waits for the workers' (throwing if one trapped).
  const finish = (): void => {
    const jobs = open;
    if (jobs === null) return;
    try {
      awaitJobs(t.pool, jobs.count, failure, claimJobs(t.pool, jobs.count, runOne));
    } finally {
      open = null;
    }
  };
  return {
    execute: (jobs) => {
      if (jobs.count === 1) {
        runJobs(t.exports, jobs);
        return;
      }
      open = jobs;
      publishThreadJobs(t, GEMM_ROWS, jobs.jobs, jobs.count, jobs.count, 0, jobs.works);
      finish();
    },
    staged: {
      start: (jobs) => {
        open = jobs;
        publishThreadJobs(t, GEMM_ROWS, jobs.jobs, jobs.count, 0, 0, jobs.works);
      },
      ready: (count) => markReady(t.pool, count),
      finish,
    },
  };
}

/**
 * C = op(A)·op(B) (+ C) like `gemmWasmLocal`, with large float32 products split by rows (or, for short C,
 * by columns) across the worker threads started by `installWasmGemmThreads`: while they run, it is what
 * the "wasm" GEMM (`gemmWasm`) calls. Without them it is `gemmWasmLocal`; Float64 operands, or operands
 * too large for the shared memory (1 GiB), go to the fallback kernel.
 */
export const gemmWasmThreaded: Gemm = (m, n, k, a, b, c, accumulate, prepared) => {
  const r = current;
  if (r === null) {
    gemmWasmLocal(m, n, k, a, b, c, accumulate, prepared);
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
  const threads = r.threads.threads;
  // With A and B resident storage nothing is copied in, and a split in two pays from smaller products on
  // (64×120×256 in place, 3.9 MFLOP: 87 us on the calling thread's own instance, 51-55 us split in two, 60
  // in three). Only by rows or columns there: a depth split would sum in another order than the calling
  // thread, and resident or not, a product gives the same bits.
  const inPlace =
    flops >= r.minFlops / 2 && addressOf(r.threads.memory, a.data) >= 0 && addressOf(r.threads.memory, b.data) >= 0 &&
    (flops >= r.minFlops || splitAxis(m, n, k, threads) !== "depth");
  if ((flops < r.minFlops && !inPlace) || threads === 1) {
    // The calling thread's own instance: its memory is not shared, which makes small products ~10-25% faster.
    gemmWasmLocal(m, n, k, a, b, c, accumulate, prepared);
    return;
  }
  const chunks = flops < r.minFlops ? threads : Math.max(threads, Math.min(threads * CHUNKS_PER_THREAD, Math.floor(flops / MIN_JOB_FLOPS), MAX_JOBS));
  const done = runGemm(r.target, m, n, k, a, b, c as FloatMatrix32, accumulate, threads, chunks, r.execute, r.staged);
  if (!done) r.fallback(m, n, k, a, b, c, accumulate);
};

/** Least floating-point operations (2·m·n·k) of every product gemmProductsThreaded runs as a job of its own. */
const MIN_PRODUCT_FLOPS = 2 ** 20;

/**
 * Independent float32 products (a linear layer's input and weight gradients) at once, one job each, on
 * the threads started by `installWasmGemmThreads`; each product computes what the calling thread's GEMM
 * would, bit for bit. False, nothing done, unless the threads run and every product is float32 with at
 * least MIN_PRODUCT_FLOPS (the caller then runs them one after the other).
 */
export function gemmProductsThreaded(products: Product[]): boolean {
  const r = current;
  if (r === null || r.threads.threads === 1 || products.length < 2 || products.length > MAX_JOBS) return false;
  // Indexed: a for-of over the array allocated an iterator per call once the loop left early.
  for (let p = 0; p < products.length; p++) {
    const { m, n, k, a, b, c } = products[p]!;
    if (!isFloat32(a.data) || !isFloat32(b.data) || !isFloat32(c.data) || m <= 0 || n <= 0 || k <= 0 || 2 * m * n * k < MIN_PRODUCT_FLOPS) return false;
  }
  return runProducts(r.target, products, r.threads.threads, r.staged);
}

/** Worker threads are running for `gemmWasmThreaded`. */
export function wasmThreadsActive(): boolean {
  return current !== null;
}

/**
 * Has the "wasm" GEMM (`gemmWasm`, the default GEMM where WebAssembly SIMD runs, and what
 * `useKernels("wasm")` selects) split large products across `threads` threads, the calling one
 * included, that share one WebAssembly memory: the worker threads the convolution uses too
 * (installWasmConvThreads), started here if they are not running, restarted (for both) if they run
 * with another count. It does not change which GEMM backend is selected. Node only (worker_threads,
 * Atomics.wait on the calling thread). Resolves false, with no worker threads left running, where
 * WebAssembly SIMD, shared memory or workers are missing.
 */
export async function installWasmGemmThreads(options: WasmThreadsOptions = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  checkThreads("installWasmGemmThreads", threads);
  const minFlops = options.minFlops ?? 2 ** 22;
  const fallback = options.float64Kernel ?? gemmPacked;
  return joinWasmThreads("gemm", threads, (t) => {
    current = t === null ? null : { threads: t, target: { exports: t.exports, memory: t.memory, heap: null }, minFlops, fallback, ...runners(t) };
    routeGemmThreads(t === null ? null : { gemm: gemmWasmThreaded, products: gemmProductsThreaded, threads: t.threads });
    kernelsChanged();
  });
}

/** The "wasm" GEMM runs on the calling thread again; the workers stop unless the convolution still uses them. */
export async function stopWasmGemmThreads(): Promise<void> {
  await leaveWasmThreads("gemm");
}
