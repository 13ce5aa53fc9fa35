// Low-level building blocks for packages that write their own Functions (e.g. @pico/nn's convolution).
export { kernelFamily, kernelInfo, useKernels, KernelFamily, KERNEL_BACKENDS } from "./registry.js";
export type { KernelBackend, KernelChoice, KernelFamilyInfo, KernelInfo, KernelOptions, ResolvedKernel } from "./registry.js";
export { gemm, gemmReference, gemmKernels, setGemm, defaultGemm, activeGemmKernel } from "./gemm.js";
export { gemmPacked } from "./gemm-packed.js";
export { gemmWasm } from "./wasm/gemm-wasm.js";
export { wasmAvailable, relaxedSimdAvailable } from "./wasm/engine.js";
export * from "./conv/index.js";
export type { Gemm, MatrixView } from "./gemm.js";
export { scratch } from "./scratch.js";
export { binary, unary, affine } from "./elementwise.js";
export type { BinaryOp, UnaryOp } from "./elementwise.js";
export { sumAxes, maxAxes, sumToShape } from "./reduce.js";
export { create, empty, filled, copy, packed, isContiguous, isPacked, reshapeView, scalarArray } from "../ndarray-utils.js";
export { allocate, allocateUninitialized, dtypeOf, promote } from "../dtype.js";
export { recycle } from "../buffer-pool.js";
export { broadcastShapes, contiguousStrides, normalizeAxis, normalizeAxes, sizeOf, sameShape } from "../shape.js";
