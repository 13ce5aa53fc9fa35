// Browser entry (`@pico/core/threads-web`): the twin of `@pico/core/threads` for Web Workers. It runs the
// WebAssembly convolution, GEMM and elementwise kernels on several cores with one set of Web Workers over
// one shared WebAssembly.Memory and module, the same pool the Node entry starts with worker_threads.
// It needs what the pool needs: SharedArrayBuffer (a cross-origin-isolated page: served with
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`) and a calling
// thread that may block on Atomics.wait, which a page's main thread may not: call it from the dedicated
// Worker that runs the model.
import { warnNoRelaxedSimd, warnNoThreads } from "./kernels/fast-path-warnings.js";
import { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive } from "./kernels/wasm/conv-wasm-threads.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./kernels/wasm/elementwise-wasm-threads.js";
import { relaxedSimdAvailable, wasmAvailable } from "./kernels/wasm/engine.js";
import { installWasmGemmThreads, stopWasmGemmThreads, wasmThreadsActive } from "./kernels/wasm/gemm-wasm-threads.js";
import { type PoolWorker, setPollBudget, setWorkerLauncher } from "./kernels/wasm/thread-pool.js";

export { wasmConvThreadsActive, wasmThreadsActive };

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "message" | "error", listener: (event: { data?: unknown; message?: string }) => void, options?: { once: boolean }): void;
}
interface WebScope {
  Worker?: new (url: string, options?: { name?: string }) => WebWorker;
  crossOriginIsolated?: boolean;
  document?: unknown;
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL?: { createObjectURL(blob: object): string; revokeObjectURL(url: string): void };
}

const scope = globalThis as unknown as WebScope;

/** What stands in the way of threads here, and what removes it. */
interface Blocker {
  reason: string;
  remedy: string;
}

function blocker(): Blocker | null {
  if (scope.Worker === undefined || scope.Blob === undefined || scope.URL === undefined) {
    return { reason: "this runtime has no Web Workers", remedy: "in Node, import @pico/core/threads instead" };
  }
  if (typeof SharedArrayBuffer === "undefined" || scope.crossOriginIsolated !== true) {
    return {
      reason: "the page is not cross-origin isolated, so SharedArrayBuffer is unavailable",
      remedy: "serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp",
    };
  }
  if (scope.document !== undefined) {
    return {
      reason: "the page's main thread cannot block on Atomics.wait",
      remedy: "enable threads in the dedicated Worker that runs the model",
    };
  }
  return null;
}

/**
 * Why threads cannot run here, or null when they can be tried: no Web Workers, not cross-origin
 * isolated (no SharedArrayBuffer), or the page's main thread (Atomics.wait would throw there).
 */
export function webThreadsUnavailable(): string | null {
  const b = blocker();
  return b === null ? null : `${b.reason} (${b.remedy})`;
}

// The pool's worker source expects `parentPort` and `workerData` in scope; in a Web Worker both come from
// the first message, and the source runs (and blocks) inside its handler.
const PRELUDE = `self.onmessage = (event) => {
  self.onmessage = null;
  const parentPort = { postMessage: (m) => self.postMessage(m) };
  const workerData = event.data;
  {
`;
const EPILOGUE = `
  }
};`;

/**
 * Polls before a thread sleeps in Atomics.wait (Node's pool makes 300,000, about 4-10 ms, DEFAULT_POLLS). In
 * Chromium, when another process holds one of two cores, a polling kernel Worker takes its turns on the
 * calling Worker's core: the page's 2-thread training fell to 0.60-0.65x one thread in such rounds with 20,000
 * polls and to 0.51x with 300,000, 0.8-1.0x with 0 or 200; on a quiet machine 200, 2,000 and 20,000, and the
 * calling thread's own budget raised to 20,000 or 100,000, all measured within the spread of repeated runs of
 * one setting (1.25-1.5x; apps/mnist-web/scripts/measure-threads.mjs, 3-5 alternating rounds each). A spin
 * that gives way (tried in the eleventh session: each wait polling up to 0.5 ms, sleeping at once after a
 * pause of over 1 ms between two looks at the clock, then 200 polls for 100 ms) made the kernel threads slower
 * beside other processes taking 1.2-1.4 cores, one a busy loop at the same niceness (5,216 and 5,427 against
 * 6,637 and 7,160 img/s, runs of the two builds alternated in one Chromium), and so did one polling up to
 * 300,000 times (4,359 and 5,850 against 7,784 and 9,103 beside 1.0-1.5 cores): a spinning thread sees no
 * pause until its own turn ends, and by then it has taken the turn the thread it waits for needed. On a quiet
 * machine the second was ahead in the few rounds measured (apps/mnist-web/README.md#two-threads).
 */
const WEB_POLLS = 200;

/** Why the last kernel worker failed to start (startWorkers itself only resolves null). */
let launchFailure: string | null = null;

async function launchWebWorker(source: string, workerData: Record<string, unknown>): Promise<PoolWorker> {
  const url = scope.URL!.createObjectURL(new scope.Blob!([PRELUDE, source, EPILOGUE], { type: "text/javascript" }));
  let worker: WebWorker | undefined;
  try {
    worker = new scope.Worker!(url, { name: "pico-kernels" });
    const started = worker;
    await new Promise<void>((resolve, reject) => {
      started.addEventListener("message", () => resolve(), { once: true });
      started.addEventListener("error", (event) => reject(new Error(event.message ?? "unknown error")), { once: true });
      started.postMessage(workerData);
    });
  } catch (error) {
    worker?.terminate();
    launchFailure = error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    scope.URL!.revokeObjectURL(url);
  }
  const running = worker;
  return { terminate: async () => running.terminate() };
}

/**
 * Splits convolutions (by image), large GEMMs (by block) and batch norm, ReLU and 2×2 max pooling (by
 * channel, element or plane range) across `threads` threads, the calling one included (default 2):
 * `threads - 1` Web Workers that all share. Resolves to whether they run; where they cannot
 * (webThreadsUnavailable says why), nothing changes, the kernels stay on the calling thread, and a
 * warning (once per reason, see onFastPathWarning) says what is lost and how to get it.
 */
export async function enableThreads(threads = 2): Promise<boolean> {
  const b = blocker();
  if (threads > 1 && scope.Worker !== undefined && wasmAvailable() && !relaxedSimdAvailable()) {
    warnNoRelaxedSimd("this browser has no WebAssembly relaxed SIMD", "Chrome and Edge have it from version 114.");
  }
  if (b !== null) {
    if (threads > 1) warnNoThreads(threads, b.reason, `${b.remedy[0]!.toUpperCase()}${b.remedy.slice(1)}.`);
    return false;
  }
  setWorkerLauncher(launchWebWorker);
  setPollBudget(WEB_POLLS);
  launchFailure = null;
  const conv = await installWasmConvThreads({ threads });
  const gemm = await installWasmGemmThreads({ threads });
  const elementwise = await installWasmElementwiseThreads({ threads });
  const started = conv && gemm && elementwise;
  // Without the WebAssembly kernels there is nothing to split, and that has its own warning.
  if (!started && threads > 1 && wasmAvailable()) {
    if (launchFailure !== null) {
      warnNoThreads(threads, `a kernel Web Worker failed to start: ${launchFailure}`, "A Content-Security-Policy must allow workers from blob: URLs (worker-src blob:).");
    } else {
      warnNoThreads(threads, "the kernels' shared WebAssembly.Memory could not be created", "Close other tabs of the page or reload it: the browser refused the memory.");
    }
  }
  return started;
}

/** Stops the Web Workers; the kernels run on the calling thread again. */
export async function disableThreads(): Promise<void> {
  await stopWasmConvThreads();
  await stopWasmGemmThreads();
  await stopWasmElementwiseThreads();
}
