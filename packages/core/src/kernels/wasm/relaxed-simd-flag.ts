import { wasmApi } from "./wasm-api.js";

// Node only. Node 20 and 21 have WebAssembly relaxed SIMD (fused multiply-add) behind a V8 flag, on by
// default from Node 22. Setting the flag works if it happens before the kernel module is first compiled
// (it is compiled lazily, on the first kernel call), and it applies to worker threads started later.

/** The probe engine.ts validates: f32x4.relaxed_madd. */
const PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);

interface V8 {
  setFlagsFromString(flags: string): void;
}

/**
 * Turns on `--experimental-wasm-relaxed-simd` where this Node has relaxed SIMD behind that flag;
 * resolves whether relaxed SIMD validates afterwards. Harmless where it is on already or missing.
 */
export async function enableRelaxedSimdFlag(): Promise<boolean> {
  const api = wasmApi();
  if (api?.validate === undefined) return false;
  if (api.validate(PROBE)) return true;
  try {
    // Loaded only here (the library is typed without Node's modules), and only by the Node-only threads entry.
    const specifier: string = "node:v8";
    const v8 = ((await import(specifier)) as { default: V8 }).default;
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
  } catch {
    return false;
  }
  return api.validate(PROBE);
}
