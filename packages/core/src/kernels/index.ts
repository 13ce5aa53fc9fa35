// Low-level building blocks for packages that write their own Functions (e.g. @pico/nn's convolution).
export { gemm, gemmReference, setGemm, defaultGemm, activeGemmKernel } from "./gemm.js";
export { gemmPacked } from "./gemm-packed.js";
export { gemmWasm, wasmAvailable, installWasmGemm } from "./wasm/gemm-wasm.js";
export { conv2dForwardWasm, conv2dBackwardWasm, conv2dWasmAvailable, im2colWasm, col2imWasm } from "./wasm/conv-wasm.js";
export type { Conv2dWasmGeometry, Conv2dWasmGrads, Conv2dWasmOptions, Conv2dWasmForwardOptions, Conv2dWasmBackwardOptions, Float32Slice } from "./wasm/conv-wasm.js";
export { useKernels } from "./select.js";
export type { KernelChoice } from "./select.js";
export type { Gemm, MatrixView } from "./gemm.js";
export { binary, unary, affine } from "./elementwise.js";
export type { BinaryOp, UnaryOp } from "./elementwise.js";
export { sumAxes, maxAxes, sumToShape } from "./reduce.js";
export { create, empty, filled, copy, packed, isContiguous, isPacked, reshapeView, scalarArray } from "../ndarray-utils.js";
export { allocate, allocateUninitialized, dtypeOf, promote } from "../dtype.js";
export { recycle } from "../buffer-pool.js";
export { broadcastShapes, contiguousStrides, normalizeAxis, normalizeAxes, sizeOf, sameShape } from "../shape.js";
