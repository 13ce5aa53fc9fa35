// Node-only entry (`@pico/core/threads`): runs the WebAssembly convolution and GEMM on several cores
// with one set of worker_threads over one shared memory. The main entry never imports this file, so
// the library stays portable; where workers or shared memory are missing, enabling resolves false and
// changes nothing.
import { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive } from "./kernels/wasm/conv-wasm-threads.js";
import { installWasmElementwiseThreads, stopWasmElementwiseThreads } from "./kernels/wasm/elementwise-wasm-threads.js";
import { installWasmGemmThreads, stopWasmGemmThreads, wasmThreadsActive } from "./kernels/wasm/gemm-wasm-threads.js";
import { warnNoRelaxedSimd, warnNoThreads } from "./kernels/fast-path-warnings.js";
import { relaxedSimdAvailable, wasmAvailable } from "./kernels/wasm/engine.js";
import { enableRelaxedSimdFlag } from "./kernels/wasm/relaxed-simd-flag.js";
import { useNodeWorkers } from "./node-worker-launcher.js";

// Node 20 keeps relaxed SIMD (fused multiply-add) behind a flag: importing this entry turns it on, so
// that the kernels, compiled on their first call, use it. Import it before running any kernel.
const relaxedFlag = await enableRelaxedSimdFlag();
if (!relaxedSimdAvailable()) {
  if (relaxedFlag) {
    warnNoRelaxedSimd(
      "the WebAssembly kernels were compiled before @pico/core/threads turned on Node's relaxed-SIMD flag",
      "Import @pico/core/threads before the first tensor operation, or start node with --experimental-wasm-relaxed-simd.",
    );
  } else {
    warnNoRelaxedSimd("this Node has no WebAssembly relaxed SIMD, not even behind --experimental-wasm-relaxed-simd", "Node >= 22 has it on by default.");
  }
}
// The kernels' pools start worker_threads (the browser entry, threads-web, starts Web Workers).
useNodeWorkers();

export { installWasmConvThreads, stopWasmConvThreads, wasmConvThreadsActive, installWasmGemmThreads, stopWasmGemmThreads, wasmThreadsActive, enableRelaxedSimdFlag };
export { installWasmElementwiseThreads, stopWasmElementwiseThreads };
export type { WasmThreadsOptions } from "./kernels/wasm/gemm-wasm-threads.js";

/**
 * Splits convolutions (by image), large GEMMs (by block) and batch norm, ReLU and 2×2 max pooling (by
 * channel, element or plane range) across `threads` threads, the calling one included (default: 2):
 * `threads - 1` worker threads that all share. Resolves to whether all could be started.
 */
export async function enableThreads(threads = 2): Promise<boolean> {
  const conv = await installWasmConvThreads({ threads });
  const gemm = await installWasmGemmThreads({ threads });
  const elementwise = await installWasmElementwiseThreads({ threads });
  const started = conv && gemm && elementwise;
  // Without the WebAssembly kernels there is nothing to split, and that has its own warning.
  if (!started && threads > 1 && wasmAvailable()) {
    warnNoThreads(threads, "the worker threads or their shared WebAssembly.Memory could not be started", "Check that this process may start worker_threads and allocate shared memory.");
  }
  return started;
}

/** Stops the worker threads; the kernels run on the calling thread again. */
export async function disableThreads(): Promise<void> {
  await stopWasmConvThreads();
  await stopWasmGemmThreads();
  await stopWasmElementwiseThreads();
}
