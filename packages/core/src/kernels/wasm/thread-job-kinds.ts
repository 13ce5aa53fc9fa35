// What each job of the threads' job table (shared-wasm-threads.ts) runs: its first slot, then the
// export's arguments. Here, apart from the Node-only threads module, so that the kernels' loaders
// (optimizer-wasm.ts) can build jobs too.

/** assembly/conv.ts's conv2dForward (15 arguments): a ConvCall's first entry (conv2d-wasm.ts). */
export const CONV_FORWARD = 0;
/** assembly/conv.ts's conv2dBackward (16 arguments). */
export const CONV_BACKWARD = 1;
/** assembly/gemm.ts's gemmRows: its first 13 arguments; the thread adds its own work area. */
export const GEMM_ROWS = 2;
/** assembly/elementwise.ts's elementwiseJob: its own kind and 14 arguments. */
export const ELEMENTWISE_JOB = 3;
/** assembly/conv.ts's winograd3x3WeightsBackward (9 arguments). */
export const WEIGHTS_BACKWARD = 4;
/** assembly/conv.ts's prepareWinograd3x3 (7 arguments). */
export const PREPARE_WINOGRAD = 5;
/** assembly/optimizer.ts's adamStep (8 arguments), over its range of elements. */
export const ADAM_STEP = 6;
/** assembly/optimizer.ts's sgdStep (6 arguments), over its range of elements. */
export const SGD_STEP = 7;
