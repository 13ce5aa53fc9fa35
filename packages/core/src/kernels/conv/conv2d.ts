import type { FloatArray } from "../../dtype.js";
import { allocate } from "../../dtype.js";
import { kernelFamily, type ResolvedKernel } from "../registry.js";
import { wasmAvailable } from "../wasm/engine.js";
import { conv2dBackward as gemmBackward, conv2dBackwardBias, conv2dForward as gemmForward, imagesPerChunk, keptColumnsSize } from "./conv2d-gemm.js";
import { conv2dBackwardWasm, conv2dForwardWasm, convThreads } from "./conv2d-wasm.js";
import { isPointwise, type Conv2dGeometry } from "./geometry.js";
import type { PreparedWeights } from "./prepared-weights.js";

// The conv2d kernel family and the one wrapper operators call: conv2dForward runs the resolved kernel
// (falling back to TypeScript where it declines, e.g. float64) and returns the run, which the operator
// keeps on its ctx; conv2dBackward takes that run, so a backward always matches its forward.

/** A packed tensor inside a flat typed array, from `offset` on. */
export interface Flat {
  data: FloatArray;
  offset: number;
}

/** What a forward leaves for its backward besides x and the weight (which the operator saves). */
export interface Conv2dSaved {
  /** Images per GEMM (TypeScript kernels). */
  chunk: number;
  /** The im2col columns the TypeScript kernels keep for the weight gradient, or null. */
  cols: FloatArray | null;
}

/** Where backward writes each gradient (packed from offset 0, overwritten); null for one not wanted. */
export interface Conv2dGrads {
  input: FloatArray | null;
  weight: FloatArray | null;
  bias: FloatArray | null;
}

export interface Conv2dForwardOptions {
  /** Apply relu (`v < 0 ? 0 : v`, NaN kept) to the output (a forward with relu is used at inference only: its backward would be the convolution's). */
  relu?: boolean;
  /** Keep what the weight gradient needs (false under noGrad or when the weight needs no gradient). */
  keepForBackward?: boolean;
  /** TypeScript kernels: output columns (images × oH·oW) per GEMM (default one image). */
  chunkColumns?: number;
  /** WebAssembly kernel: weights prepared by an earlier forward of this convolution, reused while current and kept for the next (see PreparedWeights). */
  prepared?: PreparedWeights;
}

export interface Conv2dBackwardOptions {
  /**
   * The input gradient goes to the backward of the one Function that made x, and to nothing else (only a
   * caller that knows sets it: nn's fusion patterns): the WebAssembly kernel leaves it in its module for
   * that backward to read (see kernels.handOff). Default false.
   */
  handOffGradInput?: boolean;
}

/** One implementation of the family. */
export interface Conv2dKernel {
  /**
   * out (packed, from 0, every element written) = w ⊛ x (+ bias), then max(·, 0) with `relu`.
   * Returns what backward needs, or null, having written nothing, where this kernel cannot run it.
   */
  forward(g: Conv2dGeometry, x: Flat, w: Flat, bias: Flat | null, out: FloatArray, options: Conv2dForwardOptions): Conv2dSaved | null;
  /** The gradients of Σ out · gy (of the convolution before any ReLU); `x` is needed only for the weight gradient. */
  backward(g: Conv2dGeometry, saved: Conv2dSaved, gy: Flat, w: Flat, x: Flat | null, grads: Conv2dGrads, options?: Conv2dBackwardOptions): void;
}

const float32 = (a: Flat | null): { data: Float32Array; offset: number } | null => (a !== null && a.data instanceof Float32Array ? { data: a.data, offset: a.offset } : null);

/** im2col + the gemm family's GEMM in TypeScript, any dtype. */
export const conv2dGemmKernel: Conv2dKernel = {
  forward(g, x, w, bias, out, options) {
    const chunk = imagesPerChunk(g, options.chunkColumns);
    const keep = options.keepForBackward === true && !isPointwise(g);
    // The weight gradient needs the im2col columns again: keeping them costs memory for one step but saves a pass.
    const cols = keep ? allocate(out instanceof Float64Array ? "float64" : "float32", keptColumnsSize(g)) : null;
    gemmForward(x, w, bias, g, chunk, out, cols);
    if (options.relu === true) {
      for (let i = 0; i < out.length; i++) if (out[i]! < 0) out[i] = 0;
    }
    return { chunk, cols };
  },
  backward(g, saved, gy, w, x, grads) {
    if (grads.weight !== null && saved.cols === null && !isPointwise(g) && x !== null) {
      // A forward that kept nothing (or ran in WebAssembly): unfold x now.
      saved.cols = allocate(grads.weight instanceof Float64Array ? "float64" : "float32", keptColumnsSize(g));
      gemmForward(x, w, null, g, saved.chunk, allocate(grads.weight instanceof Float64Array ? "float64" : "float32", g.batch * g.outChannels * g.outHeight * g.outWidth), saved.cols);
    }
    if (grads.input !== null || grads.weight !== null) {
      grads.input?.fill(0);
      const input = grads.weight !== null && isPointwise(g) ? x : null;
      gemmBackward(gy, w, input, g, saved.chunk, saved.cols, grads.input, grads.weight);
    }
    if (grads.bias !== null) {
      grads.bias.fill(0);
      conv2dBackwardBias(gy, g, grads.bias);
    }
  },
};

/**
 * The WebAssembly convolution (float32 only): im2col and GEMM inside the module, nothing kept for
 * backward (which unfolds x again in the module). Where the module's memory cannot grow, backward
 * runs the TypeScript kernel instead.
 */
export const conv2dWasmKernel: Conv2dKernel = {
  forward(g, x, w, bias, out, options) {
    const [x32, w32, b32] = [float32(x), float32(w), float32(bias)];
    if (x32 === null || w32 === null || (bias !== null && b32 === null) || !(out instanceof Float32Array)) return null;
    return conv2dForwardWasm(g, x32, w32, b32, { data: out, offset: 0 }, { relu: options.relu === true, prepared: options.prepared }) ? { chunk: 1, cols: null } : null;
  },
  backward(g, saved, gy, w, x, grads, options = {}) {
    const [gy32, w32, x32] = [float32(gy), float32(w), float32(x)];
    const slice = (a: FloatArray | null): { data: Float32Array; offset: number } | null => (a instanceof Float32Array ? { data: a, offset: 0 } : null);
    const all32 = [grads.input, grads.weight, grads.bias].every((a) => a === null || a instanceof Float32Array);
    if (gy32 !== null && w32 !== null && all32 && (grads.weight === null || x32 !== null)) {
      const handOffGradInput = options.handOffGradInput === true;
      if (conv2dBackwardWasm(g, gy32, x32, w32, { input: slice(grads.input), weight: slice(grads.weight), bias: slice(grads.bias) }, { handOffGradInput })) return;
    }
    conv2dGemmKernel.backward(g, saved, gy, w, x, grads);
  },
};

/**
 * The conv2d family: "wasm" (conv2dWasmKernel, split by images across the threads of `@pico/core/threads`
 * when they run), "js" and "reference" (conv2dGemmKernel, whose GEMM is the gemm family's).
 */
export const conv2dKernels = kernelFamily<Conv2dKernel>("conv2d")
  .register("reference", conv2dGemmKernel)
  .register("js", conv2dGemmKernel)
  .register("wasm", conv2dWasmKernel, { available: wasmAvailable, threads: convThreads });

/** A forward that ran: the kernel and what it saved. Keep it on ctx and hand it to conv2dBackward. */
export interface Conv2dRun {
  kernel: ResolvedKernel<Conv2dKernel>;
  saved: Conv2dSaved;
}

const typescriptFallback: ResolvedKernel<Conv2dKernel> = { family: "conv2d", backend: "js", kernel: conv2dGemmKernel };

/** out = w ⊛ x (+ bias) by the conv2d family's kernel now, or by TypeScript where it declines (float64). */
export function conv2dForward(g: Conv2dGeometry, x: Flat, w: Flat, bias: Flat | null, out: FloatArray, options: Conv2dForwardOptions = {}): Conv2dRun {
  const kernel = conv2dKernels.resolve();
  const saved = kernel.kernel.forward(g, x, w, bias, out, options);
  if (saved !== null) return { kernel, saved };
  return { kernel: typescriptFallback, saved: conv2dGemmKernel.forward(g, x, w, bias, out, options)! };
}

/** The gradients of a forward `run` by the same kernel, whatever the family resolves to now. */
export function conv2dBackward(run: Conv2dRun, g: Conv2dGeometry, gy: Flat, w: Flat, x: Flat | null, grads: Conv2dGrads, options: Conv2dBackwardOptions = {}): void {
  run.kernel.kernel.backward(g, run.saved, gy, w, x, grads, options);
}
