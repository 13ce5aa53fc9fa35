import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerWasmConv2DBackpropFilter } from "./wasm-conv2d-backprop-filter.js";

export type TfjsBackendName = "wasm" | "cpu";

let wasmPathsSet = false;

/** Selects a TensorFlow.js backend; for wasm, points it at its own .wasm files and adds the missing kernel. */
export async function useTfjsBackend(name: TfjsBackendName): Promise<void> {
  // tfjs-core's own switch for its console messages (the cpu backend's "install tfjs-node" banner);
  // in 4.22 the PROD flag gates logging only, so no check and no kernel changes.
  tf.enableProdMode();
  if (name === "wasm") {
    if (!wasmPathsSet) {
      const require = createRequire(import.meta.url);
      setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`);
      wasmPathsSet = true;
    }
    registerWasmConv2DBackpropFilter();
  } else {
    // Loaded only when asked for, so that a wasm-only process does not carry it in its RSS.
    await import("@tensorflow/tfjs-backend-cpu");
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TensorFlow.js: backend "${name}" failed to initialise`);
  await tf.ready();
}

export function tfjsBackendInfo(): { backend: string; simd: boolean; threads: number } {
  const backend = tf.getBackend();
  return {
    backend,
    simd: backend === "wasm" ? tf.env().getBool("WASM_HAS_SIMD_SUPPORT") : false,
    threads: backend === "wasm" ? getThreadsCount() : 1,
  };
}
