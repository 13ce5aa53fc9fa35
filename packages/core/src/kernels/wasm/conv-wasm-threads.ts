import { convWasmThreadsBase64 } from "./conv-wasm-threads-binary.js";
import { runConvCalls, setConvEngine } from "./conv-wasm.js";
import type { ConvCall, ConvEngine, ConvExports } from "./conv-wasm.js";
import { decodeBase64, wasmApi } from "./wasm-api.js";
import type { WasmMemory, WasmModule } from "./wasm-api.js";
import { CONTROL_HEADER, awaitJobs, claimJobs, publishJobs, startWorkers, stopWorkers, workerSource } from "./thread-pool.js";
import type { WorkerPool } from "./thread-pool.js";

// Node only (worker_threads, Atomics.wait on the calling thread); see thread-pool.ts.

// After the pool's header: the calls, CALL_INTS slots each (kind, then the arguments of
// conv2dForward or conv2dBackward).
const CALLS = CONTROL_HEADER;
const CALL_INTS = 15;
const MAX_THREADS = 16;
const CONTROL_INTS = CALLS + MAX_THREADS * CALL_INTS;

const WORKER_SOURCE = workerSource(
  "const e = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;",
  `const a = ${CALLS} + job * ${CALL_INTS};
      const f = ctl[a] === 0 ? e.conv2dForward : e.conv2dBackward;
      f(${Array.from({ length: CALL_INTS - 1 }, (_, i) => `ctl[a + ${i + 1}]`).join(", ")});`,
);

interface Pool {
  engine: ConvEngine;
  workers: WorkerPool;
}

let pool: Pool | null = null;

function publishCalls(workers: WorkerPool, calls: ConvCall[]): void {
  publishJobs(workers, calls.length, (ctl) =>
    calls.forEach((call, j) => {
      for (let i = 0; i < CALL_INTS; i++) ctl[CALLS + j * CALL_INTS + i] = call[i]!;
    }),
  );
}

/** Runs the calls on the workers and the calling thread, each claiming the next unclaimed call. */
function runParallel(workers: WorkerPool, exports: ConvExports, calls: ConvCall[]): void {
  if (calls.length === 1) {
    runConvCalls(exports, calls);
    return;
  }
  publishCalls(workers, calls);
  const error = claimJobs(workers, calls.length, (j) => runConvCalls(exports, [calls[j]!]));
  awaitJobs(workers, calls.length, () => "conv2dForwardWasm/conv2dBackwardWasm: a worker trapped while computing its share of the images", error);
}

/** Starts the calls on the workers alone (the calling thread claims none); returns the wait for them. */
function launchOnWorkers(workers: WorkerPool, calls: ConvCall[]): () => void {
  publishCalls(workers, calls);
  return () => awaitJobs(workers, calls.length, () => "conv2dForwardWasm: a worker trapped while computing its share of the images");
}

/** Worker threads are running for the WebAssembly convolution. */
export function wasmConvThreadsActive(): boolean {
  return pool !== null;
}

/**
 * Starts `threads - 1` worker threads sharing one WebAssembly memory with the calling thread; from
 * then on conv2dForwardWasm and conv2dBackwardWasm split each batch's images among all of them.
 * Node only (worker_threads, Atomics.wait on the calling thread). Resolves false, changing nothing,
 * where WebAssembly SIMD, shared memory or workers are missing.
 */
export async function installWasmConvThreads(options: { threads?: number } = {}): Promise<boolean> {
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`installWasmConvThreads: threads must be an integer from 1 to ${MAX_THREADS}, but got ${threads}`);
  }
  await stopWasmConvThreads();
  const api = wasmApi();
  if (api === undefined || typeof SharedArrayBuffer === "undefined") return false;
  let module: WasmModule;
  let memory: WasmMemory;
  let exports: ConvExports;
  try {
    module = new api.Module(decodeBase64(convWasmThreadsBase64));
    memory = new api.Memory({ initial: 1, maximum: 16384, shared: true });
    exports = new api.Instance(module, { env: { memory } }).exports as ConvExports;
  } catch {
    return false;
  }
  const workers = await startWorkers(threads - 1, WORKER_SOURCE, CONTROL_INTS, () => ({ module, memory }));
  if (workers === null) return false;
  const p: Pool = {
    engine: {
      exports, memory, heap: null, threads,
      run: (calls) => runParallel(workers, exports, calls),
      launch: threads > 1 ? (calls) => launchOnWorkers(workers, calls) : undefined,
    },
    workers,
  };
  pool = p;
  setConvEngine(p.engine);
  return true;
}

/** Stops the worker threads; the convolution runs on the calling thread again. */
export async function stopWasmConvThreads(): Promise<void> {
  const p = pool;
  if (p === null) return;
  pool = null;
  setConvEngine(null);
  await stopWorkers(p.workers);
}
