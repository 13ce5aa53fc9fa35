// The entry of the one WebAssembly module @pico/core loads (scripts/build-wasm.mjs): every kernel file's
// exports, one line each. The same sources build with and without relaxed SIMD (see simd.ts).
export * from "./gemm";
export * from "./conv";
export { winograd3x3ScratchBytes, winograd3x3Tiles, winograd3x3WeightGradScratchBytes, winograd3x3WeightsBackward } from "./winograd3x3";
export * from "./elementwise";
export * from "./pool";
export { adamStep, sgdStep } from "./optimizer";
