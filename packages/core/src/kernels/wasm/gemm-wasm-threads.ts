import { gemmReference, setGemm } from "../gemm.js";
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

// Control block per worker (Int32 slots): 0 job sequence (-1 asks it to exit), 1 last finished
// sequence, 2 error flag of that job, 3..16 the gemmRows arguments.
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const ARGS = 3;
const CONTROL_INTS = 32;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
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
  let failed = 0;
  try {
    gemmRows(${Array.from({ length: 14 }, (_, i) => `ctl[${ARGS + i}]`).join(", ")});
  } catch {
    failed = 1;
  }
  Atomics.store(ctl, ${FAILED}, failed);
  Atomics.store(ctl, ${DONE}, seq);
  Atomics.notify(ctl, ${DONE});
}
`;

interface Pool {
  target: GemmTarget;
  workers: NodeWorker[];
  controls: Int32Array[];
  sequence: number;
  minFlops: number;
  fallback: Gemm;
}

let pool: Pool | null = null;

export interface WasmThreadsOptions {
  /** Threads in all, the calling one included (default 2). */
  threads?: number;
  /** Products below this many floating-point operations (2·m·n·k) stay on the calling thread (default 2^21). */
  minFlops?: number;
  /** The kernel for Float64 operands (default `gemmReference`). */
  float64Kernel?: Gemm;
}

function runParallel(p: Pool, jobs: RowsJob[]): void {
  const helpers = jobs.length - 1;
  const sequence = ++p.sequence;
  for (let w = 0; w < helpers; w++) {
    const ctl = p.controls[w]!;
    const job = jobs[w + 1]!;
    for (let i = 0; i < job.length; i++) ctl[ARGS + i] = job[i]!;
    Atomics.store(ctl, SEQ, sequence);
    Atomics.notify(ctl, SEQ);
  }
  try {
    runJobs(p.target.exports, jobs.slice(0, 1));
  } finally {
    for (let w = 0; w < helpers; w++) {
      const ctl = p.controls[w]!;
      for (let done = Atomics.load(ctl, DONE); done !== sequence; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done);
    }
  }
  for (let w = 0; w < helpers; w++) {
    if (p.controls[w]![FAILED] !== 0) throw new Error(`gemmWasmThreaded: worker ${w + 1} trapped while computing rows ${jobs[w + 1]![0]}..${jobs[w + 1]![1]}`);
  }
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
  const parts = 2 * m * n * k >= p.minFlops ? p.workers.length + 1 : 1;
  const done = runGemm(p.target, m, n, k, a, b, c as FloatMatrix32, accumulate, parts, (jobs) => {
    if (jobs.length === 1) runJobs(p.target.exports, jobs);
    else runParallel(p, jobs);
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
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`installWasmGemmThreads: threads must be a positive integer, but got ${threads}`);
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
  const controls: Int32Array[] = [];
  try {
    for (let t = 1; t < threads; t++) {
      const control = new SharedArrayBuffer(CONTROL_INTS * 4);
      const worker = new workerThreads.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
      workers.push(worker);
      controls.push(new Int32Array(control));
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
    controls,
    sequence: 0,
    minFlops: options.minFlops ?? 2 ** 21,
    fallback: options.float64Kernel ?? gemmReference,
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
  for (const ctl of p.controls) {
    Atomics.store(ctl, SEQ, -1);
    Atomics.notify(ctl, SEQ);
  }
  await Promise.all(p.workers.map((w) => w.terminate()));
}
