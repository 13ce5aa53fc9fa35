import { runConvCall, runConvCalls, setConvEngine } from "../conv/conv2d-wasm.js";
import type { ConvCall, ConvEngine, ConvLaunch } from "../conv/conv2d-wasm.js";
import { kernelsChanged } from "../registry.js";
import { OWN_KIND, checkThreads, joinWasmThreads, leaveWasmThreads, publishThreadJobs } from "./shared-wasm-threads.js";
import type { WasmThreads } from "./shared-wasm-threads.js";
import { awaitJob, awaitJobs, claimJob, claimJobs, jobFinished, markReady } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread): the convolution's side of the
// threads it shares with the GEMM (shared-wasm-threads.ts).

let engine: ConvEngine | null = null;

/** Whether a call serves conv2dForwardWasm: its convolution, or its weights' transform (kind 5 with backward 0). */
const isForward = (call: ConvCall): boolean => call[0] === 0 || (call[0] === 5 && call[4] === 0);

const forwardFailure = (who: string): string => `conv2dForwardWasm: ${who} trapped while computing its share of the images`;
const backwardFailure = (who: string): string => `conv2dBackwardWasm: ${who} trapped while computing its share of the images`;

/** Waits until no worker runs any of `calls`; throws an Error naming the operation if one trapped (or `error`, the calling thread's). */
function awaitCalls(t: WasmThreads, calls: ConvCall[], error: unknown): void {
  awaitJobs(t.pool, calls.length, isForward(calls[0]!) ? forwardFailure : backwardFailure, error);
}

/** Runs the calls on the workers and the calling thread, each claiming the next unclaimed call. */
function runParallel(t: WasmThreads, launch: TableLaunch, calls: ConvCall[]): void {
  if (calls.length === 1) runConvCalls(t.exports, calls);
  else launch.open(calls, 0, false).finish(finishNothing);
}

const finishNothing = (): void => undefined;

/**
 * The calls open to the workers (ConvEngine.launch): the means to let the others follow and, once the
 * calling thread is free, to take the calls still unclaimed and then each result in order (an Error naming
 * the operation if one trapped). One per engine, opened again for every table (one table is open at a
 * time), so that a call makes no closures.
 */
class TableLaunch implements ConvLaunch {
  private calls: ConvCall[] = [];
  private done: (call: number) => void = finishNothing;
  private next = 0;
  /** Claimed by the calling thread: first hands on the results already in, in order, then runs call j. */
  private readonly runClaimed = (j: number): void => {
    const calls = this.calls;
    for (; this.next < calls.length && jobFinished(this.t.pool, this.next); this.next++) this.done(this.next);
    runConvCall(this.t.exports, calls[j]!);
  };

  constructor(private readonly t: WasmThreads) {}

  /** Opens `calls` to the workers and returns at once (ConvEngine.launch). */
  open(calls: ConvCall[], scratchStride: number, copied: boolean): this {
    this.calls = calls;
    // All ready at once where nothing is copied in, so that each thread starts from its own end of the table (thread-pool.ts).
    publishThreadJobs(this.t, OWN_KIND, calls, calls.length, copied ? 0 : calls.length, scratchStride);
    return this;
  }

  ready(count: number): void {
    markReady(this.t.pool, count);
  }

  finish(done: (call: number) => void): void {
    const t = this.t;
    const calls = this.calls;
    // Every call must run (a thread may be waiting for it) before the table closes.
    markReady(t.pool, calls.length);
    // Results leave in call order as soon as they are in, between the calling thread's own calls, so that
    // its copies out overlap the workers' computing instead of following it.
    this.done = done;
    this.next = 0;
    let error: unknown = null;
    try {
      error = claimJobs(t.pool, calls.length, this.runClaimed);
      for (; this.next < calls.length; this.next++) {
        awaitJob(t.pool, this.next);
        done(this.next);
      }
    } finally {
      this.done = finishNothing;
      this.calls = [];
      awaitCalls(t, calls, error);
    }
  }
}

/**
 * Calls whose input the calling thread keeps in place ahead of the last call it claimed: enough that a
 * worker finishing a call while the calling thread computes one finds the next ready, few enough that
 * the inputs are still in cache when they are read.
 */
const STAGE_AHEAD = 4;

/**
 * Runs `calls` on the workers and the calling thread, the calling thread bringing each call's input
 * in (`copyIn`, in call order) only STAGE_AHEAD calls ahead of the ones it claims, and taking each
 * result out (`copyOut`, in call order) as soon as it is done, between its own calls.
 */
function stageOnWorkers(t: WasmThreads, calls: ConvCall[], scratchStride: number, copyIn: (call: number) => void, copyOut: (call: number) => void): void {
  const n = calls.length;
  publishThreadJobs(t, OWN_KIND, calls, n, 0, scratchStride);
  let copied = 0;
  let next = 0;
  let error: unknown = null;
  const bring = (upTo: number): void => {
    if (copied >= upTo) return;
    while (copied < Math.min(n, upTo)) copyIn(copied++);
    markReady(t.pool, copied);
  };
  const flush = (): void => {
    for (; next < n && jobFinished(t.pool, next); next++) copyOut(next);
  };
  try {
    bring(STAGE_AHEAD);
    const run = (j: number): void => {
      bring(j + 1 + STAGE_AHEAD);
      flush();
      runConvCall(t.exports, calls[j]!);
    };
    while (claimJob(t.pool, n, run, (e) => (error ??= e))) flush();
    // The workers claimed the rest: they wait for the inputs still missing.
    bring(n);
    for (; next < n; next++) {
      awaitJob(t.pool, next);
      copyOut(next);
    }
  } finally {
    // Every call must run (a thread may be waiting for it) before the table closes.
    if (copied < n) markReady(t.pool, n);
    awaitCalls(t, calls, error);
  }
}

function route(t: WasmThreads | null): void {
  const launch = t === null ? null : new TableLaunch(t);
  engine = t === null || launch === null ? null : {
    exports: t.exports, memory: t.memory, heap: null, threads: t.threads,
    run: (calls) => runParallel(t, launch, calls),
    launch: t.threads > 1 ? (calls, scratchStride, copied) => launch.open(calls, scratchStride, copied) : undefined,
    stage: t.threads > 1 ? (calls, scratchStride, copyIn, copyOut) => stageOnWorkers(t, calls, scratchStride, copyIn, copyOut) : undefined,
  };
  setConvEngine(engine);
  kernelsChanged();
}

/** Worker threads are running for the WebAssembly convolution. */
export function wasmConvThreadsActive(): boolean {
  return engine !== null;
}

/** The engine conv2dForwardWasm and conv2dBackwardWasm run on while the threads are active, else null. */
export function wasmConvThreadsEngine(): ConvEngine | null {
  return engine;
}

/**
 * Has conv2dForwardWasm and conv2dBackwardWasm split each batch's images among `threads` threads,
 * the calling one included, that share one WebAssembly memory: the worker threads the GEMM uses too
 * (installWasmGemmThreads), started here if they are not running, restarted (for both) if they run
 * with another count. Node only (worker_threads, Atomics.wait on the calling thread). Resolves false,
 * with no worker threads left running, where WebAssembly SIMD, shared memory or workers are missing.
 */
export async function installWasmConvThreads(options: { threads?: number } = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  checkThreads("installWasmConvThreads", threads);
  return joinWasmThreads("conv", threads, route);
}

/** The convolution runs on the calling thread again; the workers stop unless the GEMM still uses them. */
export async function stopWasmConvThreads(): Promise<void> {
  await leaveWasmThreads("conv");
}
