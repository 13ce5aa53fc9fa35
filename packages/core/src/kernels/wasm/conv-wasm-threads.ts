import { convWasmThreadsBase64 } from "./conv-wasm-threads-binary.js";
import { runConvCalls, setConvEngine } from "./conv-wasm.js";
import type { ConvCall, ConvEngine, ConvExports } from "./conv-wasm.js";
import { decodeBase64, wasmApi } from "./wasm-api.js";
import type { WasmMemory, WasmModule } from "./wasm-api.js";

// Starts worker_threads and blocks the calling thread in Atomics.wait: Node only. `node:worker_threads`
// is loaded only when `installWasmConvThreads` runs, so importing this module is harmless elsewhere.

interface NodeWorker {
  once(event: "message" | "error" | "exit", listener: (value: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreads {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
}

// The control block (Int32 slots) shared with the workers: the call sequence (-1 asks them to exit),
// the next unclaimed call, the call count, how many calls finished, a failure flag, then the calls,
// CALL_INTS each (kind, then the arguments of conv2dForward or conv2dBackward).
const SEQ = 0;
const NEXT = 1;
const COUNT = 2;
const FINISHED = 3;
const FAILED = 4;
const CALLS = 8;
const CALL_INTS = 15;
const MAX_THREADS = 16;
const CONTROL_INTS = CALLS + MAX_THREADS * CALL_INTS;
/** Stored in NEXT between batches of calls, so that a late worker claims nothing while the table is rewritten. */
const CLOSED = 1 << 30;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
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
    const call = Atomics.add(ctl, ${NEXT}, 1);
    const count = Atomics.load(ctl, ${COUNT});
    if (call >= count) break;
    const a = ${CALLS} + call * ${CALL_INTS};
    try {
      const f = ctl[a] === 0 ? e.conv2dForward : e.conv2dBackward;
      f(${Array.from({ length: CALL_INTS - 1 }, (_, i) => `ctl[a + ${i + 1}]`).join(", ")});
    } catch {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.add(ctl, ${FINISHED}, 1) + 1 === count) Atomics.notify(ctl, ${FINISHED});
  }
}
`;

interface Pool {
  engine: ConvEngine;
  workers: NodeWorker[];
  control: Int32Array;
  sequence: number;
}

let pool: Pool | null = null;

/** Runs the calls on the workers and the calling thread, each claiming the next unclaimed call. */
function runParallel(p: Pool, exports: ConvExports, calls: ConvCall[]): void {
  if (calls.length === 1) {
    runConvCalls(exports, calls);
    return;
  }
  const ctl = p.control;
  const count = calls.length;
  Atomics.store(ctl, NEXT, CLOSED);
  calls.forEach((call, j) => {
    for (let i = 0; i < CALL_INTS; i++) ctl[CALLS + j * CALL_INTS + i] = call[i]!;
  });
  Atomics.store(ctl, COUNT, count);
  Atomics.store(ctl, FINISHED, 0);
  Atomics.store(ctl, FAILED, 0);
  Atomics.store(ctl, NEXT, 0);
  Atomics.store(ctl, SEQ, ++p.sequence);
  Atomics.notify(ctl, SEQ);
  let error: unknown = null;
  for (let j = Atomics.add(ctl, NEXT, 1); j < count; j = Atomics.add(ctl, NEXT, 1)) {
    try {
      runConvCalls(exports, [calls[j]!]);
    } catch (e) {
      error = e;
    }
    Atomics.add(ctl, FINISHED, 1);
  }
  for (let f = Atomics.load(ctl, FINISHED); f !== count; f = Atomics.load(ctl, FINISHED)) Atomics.wait(ctl, FINISHED, f);
  Atomics.store(ctl, NEXT, CLOSED);
  if (error !== null) throw error;
  if (ctl[FAILED] !== 0) throw new Error("conv2dForwardWasm/conv2dBackwardWasm: a worker trapped while computing its share of the images");
}

/** Starts the calls on the workers alone (the calling thread claims none); returns the wait for them. */
function launchOnWorkers(p: Pool, calls: ConvCall[]): () => void {
  const ctl = p.control;
  const count = calls.length;
  Atomics.store(ctl, NEXT, CLOSED);
  calls.forEach((call, j) => {
    for (let i = 0; i < CALL_INTS; i++) ctl[CALLS + j * CALL_INTS + i] = call[i]!;
  });
  Atomics.store(ctl, COUNT, count);
  Atomics.store(ctl, FINISHED, 0);
  Atomics.store(ctl, FAILED, 0);
  Atomics.store(ctl, NEXT, 0);
  Atomics.store(ctl, SEQ, ++p.sequence);
  Atomics.notify(ctl, SEQ);
  return () => {
    for (let f = Atomics.load(ctl, FINISHED); f !== count; f = Atomics.load(ctl, FINISHED)) Atomics.wait(ctl, FINISHED, f);
    Atomics.store(ctl, NEXT, CLOSED);
    if (ctl[FAILED] !== 0) throw new Error("conv2dForwardWasm: a worker trapped while computing its share of the images");
  };
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
  let workerThreads: WorkerThreads;
  let module: WasmModule;
  let memory: WasmMemory;
  let exports: ConvExports;
  try {
    const specifier: string = "node:worker_threads";
    workerThreads = (await import(specifier)) as WorkerThreads;
    module = new api.Module(decodeBase64(convWasmThreadsBase64));
    memory = new api.Memory({ initial: 1, maximum: 16384, shared: true });
    exports = new api.Instance(module, { env: { memory } }).exports as ConvExports;
  } catch {
    return false;
  }
  const workers: NodeWorker[] = [];
  const control = new SharedArrayBuffer(CONTROL_INTS * 4);
  try {
    for (let index = 0; index < threads - 1; index++) {
      const worker = new workerThreads.Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
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
  const p: Pool = {
    engine: {
      exports, memory, heap: null, threads,
      run: (calls) => runParallel(p, exports, calls),
      launch: threads > 1 ? (calls) => launchOnWorkers(p, calls) : undefined,
    },
    workers,
    control: new Int32Array(control),
    sequence: 0,
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
  Atomics.store(p.control, SEQ, -1);
  Atomics.notify(p.control, SEQ);
  await Promise.all(p.workers.map((w) => w.terminate()));
}
