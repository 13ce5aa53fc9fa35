import { kernelFamily } from "./registry.js";
import { addReluWasm, reluBackwardWasm, reluWasm } from "./wasm/elementwise-wasm.js";
import { wasmAvailable } from "./wasm/engine.js";

// ReLU on packed float32 arrays of equal length as PyTorch computes it: forward as `v < 0 ? 0 : v`
// (NaN stays NaN, −0 stays −0), backward as threshold_backward on the output (`y <= 0 ? 0 : g`, so a
// NaN output passes the gradient), and the residual
// block's add + ReLU in one pass. Three implementations, equal bit for bit: the plain loops
// ("reference"), branch-free TypeScript on the bit patterns ("js": a layer's signs are random, and the
// mispredicted branch cost 6-7x the loop), WebAssembly SIMD ("wasm": copied in and out in cache-sized
// blocks on the calling thread, or split across `@pico/core/threads` by element ranges for large arrays).

export interface ReluKernel {
  /** y = relu(x); y may be x. False if it cannot run here (nothing written). */
  forward(x: Float32Array, y: Float32Array): boolean;
  /** dx = y <= 0 ? 0 : g; dx may be g. */
  backward(g: Float32Array, y: Float32Array, dx: Float32Array): boolean;
  /** y = relu(a + b); y may be a or b. */
  addForward(a: Float32Array, b: Float32Array, y: Float32Array): boolean;
}

export const reluReference: ReluKernel = {
  forward(x, y) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      y[i] = v < 0 ? 0 : v;
    }
    return true;
  },
  backward(g, y, dx) {
    for (let i = 0; i < g.length; i++) dx[i] = y[i]! <= 0 ? 0 : g[i]!;
    return true;
  },
  addForward(a, b, y) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]! + b[i]!;
      y[i] = v < 0 ? 0 : v;
    }
    return true;
  },
};

const bits = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);

/** All ones where the float32 bit pattern b is a float > 0 (0 < b <= infinity's pattern as an int32), else 0. */
const positiveMask = (b: number): number => ~(b >> 31) & (-b >> 31) & ~((0x7f800000 - b) >> 31);

/** All ones where the float32 bit pattern b is a NaN (its magnitude's bits exceed infinity's), else 0. */
const nanMask = (b: number): number => (0x7f800000 - (b & 0x7fffffff)) >> 31;

/** All ones where the float32 bit pattern b is a float < 0 (−0 and NaN are not), else 0: relu's `v < 0`. */
export const negativeMask = (b: number): number => (b >> 31) & positiveMask(b & 0x7fffffff);

/** All ones where the float32 bit pattern b is not <= 0 (above 0, or NaN): where relu's backward passes g. */
const passMask = (b: number): number => positiveMask(b) | nanMask(b);

export const reluBits: ReluKernel = {
  forward(x, y) {
    const xb = bits(x);
    const yb = bits(y);
    for (let i = 0; i < xb.length; i++) {
      const b = xb[i]!;
      yb[i] = b & ~negativeMask(b);
    }
    return true;
  },
  backward(g, y, dx) {
    const gb = bits(g);
    const yb = bits(y);
    const ob = bits(dx);
    for (let i = 0; i < gb.length; i++) ob[i] = gb[i]! & passMask(yb[i]!);
    return true;
  },
  addForward(a, b, y) {
    for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
    return reluBits.forward(y, y);
  },
};

export const reluWasmKernel: ReluKernel = { forward: reluWasm, backward: reluBackwardWasm, addForward: addReluWasm };

/** The "relu" kernel family (useKernels, kernelInfo). */
export const reluKernels = kernelFamily<ReluKernel>("relu")
  .register("reference", reluReference)
  .register("js", reluBits)
  .register("wasm", reluWasmKernel, { available: wasmAvailable });
