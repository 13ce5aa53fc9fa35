// Browser entry (`@pico/core/threads-web`): the twin of `@pico/core/threads` for Web Workers. It runs the
// WebAssembly convolution, GEMM and elementwise kernels on several cores with one set of Web Workers over
// one shared WebAssembly.Memory and module, the same pool the Node entry starts with worker_threads.
// It needs what the pool needs: SharedArrayBuffer (a cross-origin-isolated page: served with
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`) and a calling
// thread that may block on Atomics.wait, which a page's main thread may not: call it from the dedicated
// Worker that runs the model.
import { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive } from "./kernels/wasm/conv-wasm-threads.js";
import { installWasmGemmThreads, stopWasmGemmThreads, wasmThreadsActive } from "./kernels/wasm/gemm-wasm-threads.js";
import { type PoolWorker, setWorkerLauncher } from "./kernels/wasm/thread-pool.js";

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

/**
 * Why threads cannot run here, or null when they can be tried: no Web Workers, not cross-origin
 * isolated (no SharedArrayBuffer), or the page's main thread (Atomics.wait would throw there).
 */
export function webThreadsUnavailable(): string | null {
  if (scope.Worker === undefined || scope.Blob === undefined || scope.URL === undefined) return "this runtime has no Web Workers";
  if (typeof SharedArrayBuffer === "undefined" || scope.crossOriginIsolated !== true) {
    return (
      "the page is not cross-origin isolated, so SharedArrayBuffer is unavailable (serve it with " +
      "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
    );
  }
  if (scope.document !== undefined) {
    return "the page's main thread cannot block on Atomics.wait: enable threads in the dedicated Worker that runs the model";
  }
  return null;
}

// The pool's worker source reads `parentPort` and `workerData` from require("node:worker_threads"); in a
// Web Worker both come from the first message, and the source runs (and blocks) inside its handler.
const PRELUDE = `self.onmessage = (event) => {
  self.onmessage = null;
  const require = () => ({ parentPort: { postMessage: (m) => self.postMessage(m) }, workerData: event.data });
  {
`;
const EPILOGUE = `
  }
};`;

async function launchWebWorker(source: string, workerData: Record<string, unknown>): Promise<PoolWorker> {
  const url = scope.URL!.createObjectURL(new scope.Blob!([PRELUDE, source, EPILOGUE], { type: "text/javascript" }));
  const worker = new scope.Worker!(url, { name: "pico-kernels" });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.addEventListener("message", () => resolve(), { once: true });
      worker.addEventListener("error", (event) => reject(new Error(`a kernel worker failed to start: ${event.message ?? "unknown error"}`)), { once: true });
      worker.postMessage(workerData);
    });
  } catch (error) {
    worker.terminate();
    throw error;
  } finally {
    scope.URL!.revokeObjectURL(url);
  }
  return {
    terminate: async () => worker.terminate(),
  };
}

/**
 * Splits convolutions (by image), large GEMMs (by block) and elementwise work across `threads` threads,
 * the calling one included (default 2): `threads - 1` Web Workers that all share. Resolves to whether
 * they run; where they cannot (webThreadsUnavailable says why), nothing changes and the kernels stay
 * on the calling thread.
 */
export async function enableThreads(threads = 2): Promise<boolean> {
  if (webThreadsUnavailable() !== null) return false;
  setWorkerLauncher(launchWebWorker);
  const conv = await installWasmConvThreads({ threads });
  const gemm = await installWasmGemmThreads({ threads });
  return conv && gemm;
}

/** Stops the Web Workers; the kernels run on the calling thread again. */
export async function disableThreads(): Promise<void> {
  await stopWasmConvThreads();
  await stopWasmGemmThreads();
}
