// The convolution's one home: geometry, the TypeScript and WebAssembly kernels, the conv2d family.
export { conv2dForward, conv2dBackward, conv2dKernels, conv2dGemmKernel, conv2dWasmKernel } from "./conv2d.js";
export type { Conv2dBackwardOptions, Conv2dForwardOptions, Conv2dGrads, Conv2dKernel, Conv2dRun, Conv2dSaved, Flat } from "./conv2d.js";
export {
  conv2dForward as conv2dGemmForward,
  conv2dBackward as conv2dGemmBackward,
  conv2dBackwardBias as conv2dGemmBackwardBias,
  imagesPerChunk,
  keptColumnsSize,
} from "./conv2d-gemm.js";
export { conv2dForwardWasm, conv2dBackwardWasm, conv2dWasmPath, conv2dWasmResident, CONV2D_WASM_PATHS } from "./conv2d-wasm.js";
export type { Conv2dWasmPath, Conv2dWasmGeometry, Conv2dWasmOptions, Conv2dWasmForwardOptions, Conv2dWasmBackwardOptions, Conv2dWasmGrads, Float32Slice } from "./conv2d-wasm.js";
export { conv2dReference, conv2dBackwardReference, conv2dOutputShapeReference } from "./conv2d-reference.js";
export type { Conv2dReferenceArgs, Conv2dReferenceGrads } from "./conv2d-reference.js";
export { CONV2D_GEOMETRY_FIELDS, isPointwise, outputSize, validEnd, validStart } from "./geometry.js";
export type { Conv2dGeometry } from "./geometry.js";
export { col2im, im2col } from "./im2col.js";
export { PreparedWeights, keepPrepared } from "./prepared-weights.js";
