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
import type { GiveWay } from "./kernels/wasm/give-way.js";
import { DEFAULT_POLLS, type PoolWorker, setGiveWay, setPollBudget, setWorkerLauncher } from "./kernels/wasm/thread-pool.js";

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
 * How the page's threads wait for each other: they poll Node's budget (300,000 polls, about 4-10 ms,
 * DEFAULT_POLLS) while they keep their cores, and give way (200 polls, then Atomics.wait) while more than 30% of
 * their polling time goes to other threads on their core (GiveWay). A fixed budget could not serve both cases.
 * With 200 polls the kernel Worker slept between the step's tables and had to be woken at each (4-5 sleeps a
 * step, and the calling Worker 3.5-4.5: 1.29-1.47x one thread on a quiet machine, where a spin of 300,000 polls
 * made 1.60-1.68x in the same runs); beside one busy process a spin fell to 0.50x (the scheduler keeps the
 * page's two threads on one core beside it: it balances the processes' weights, not their threads) where
 * 200 polls kept 0.97-1.26x (apps/mnist-web/README.md#two-threads).
 *
 * A single pause does not make a thread give way: on a quiet machine Chromium's own threads (V8's helpers,
 * the renderer, the compositor) took a polling Worker's core 10-40 times a second for 0.25-8 ms, where beside
 * a busy process it loses about half of its polling time. Giving way at the first pause of over 0.5 ms (the
 * eleventh session's spin) left the kernel Worker asleep in most waits on a quiet machine. Giving way lasts
 * 100 ms, twice as long each time it must give way again up to 3.2 s (so that a loaded machine costs a
 * window of polling every few seconds), and back to 100 ms after half a second of polling without. The calling
 * Worker sleeps after 1 ms of one wait whatever it sees: it waits for jobs under way, which take longer only
 * when the kernel Worker is off its core, possibly waiting for this one's.
 */
const WEB_GIVE_WAY: GiveWay = { pauseMs: 0.25, windowMs: 100, lostShare: 0.3, giveWayMs: 100, maxGiveWayMs: 3200, resetMs: 500, politePolls: 200, callerPollMs: 1 };

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
  setPollBudget(DEFAULT_POLLS);
  setGiveWay(WEB_GIVE_WAY);
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
