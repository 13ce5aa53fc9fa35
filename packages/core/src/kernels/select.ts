import { ArgumentError } from "../errors.js";
import { gemmReference, setGemm } from "./gemm.js";
import { gemmPacked } from "./gemm-packed.js";
import { installWasmGemm } from "./wasm/gemm-wasm.js";

/**
 * Which GEMM runs behind every matmul, linear layer and convolution:
 * - "wasm": WebAssembly SIMD for float32 (float64 goes to "js"); the default where WebAssembly SIMD runs;
 * - "js": the packed, register-blocked TypeScript kernel; the default elsewhere;
 * - "reference": the plain blocked loops every fast kernel is tested against.
 */
export type KernelChoice = "wasm" | "js" | "reference";

/** Selects the kernels; returns the choice in effect ("wasm" falls back to "js" where WebAssembly SIMD is unavailable). */
export function useKernels(choice: KernelChoice): KernelChoice {
  switch (choice) {
    case "wasm":
      if (installWasmGemm(gemmPacked)) return "wasm";
      setGemm(gemmPacked);
      return "js";
    case "js":
      setGemm(gemmPacked);
      return "js";
    case "reference":
      setGemm(gemmReference);
      return "reference";
    default:
      throw new ArgumentError(`useKernels: choice must be "wasm", "js" or "reference", but got ${JSON.stringify(choice)}`);
  }
}
