import { kernels, type FloatArray } from "@pico/core";
import type { Conv2dGeometry } from "./conv-geometry.js";

/** A packed tensor inside a flat typed array, from `offset` on. */
interface FlatArray {
  data: FloatArray;
  offset: number;
}

const float32 = (a: FlatArray): kernels.Float32Slice | null => (a.data instanceof Float32Array ? { data: a.data, offset: a.offset } : null);

/**
 * The whole of conv2dForward in @pico/core's WebAssembly convolution: out (packed, from offset 0) =
 * w ⊛ x (+ bias), then max(·, 0) when `relu`; im2col and GEMM run in the module's memory, so no
 * column matrix is built in JavaScript and none is kept for backward (wasmConv2dBackward recomputes
 * it). Returns false, having written nothing, for float64 or where the WebAssembly kernels are off
 * (`useKernels("js" | "reference")`) or missing: the caller then runs its TypeScript path.
 */
export function wasmConv2dForward(x: FlatArray, w: FlatArray, bias: FlatArray | null, g: Conv2dGeometry, out: FloatArray, relu = false): boolean {
  const x32 = float32(x);
  const w32 = float32(w);
  const b32 = bias === null ? null : float32(bias);
  if (x32 === null || w32 === null || (bias !== null && b32 === null) || !(out instanceof Float32Array)) return false;
  return kernels.conv2dForwardWasm(g, x32, w32, b32, { data: out, offset: 0 }, { relu });
}

/**
 * conv2dBackward and conv2dBackwardBias in WebAssembly: writes (overwrites, packed from offset 0)
 * gx = col2im(Wᵀ · G), gw = Σ G · colsᵀ and gb = Σ G, each only when given; `x` is needed only for gw.
 * `gy` is the gradient of the convolution's own output (before any fused ReLU). Returns false, having
 * written nothing, for float64 or where the WebAssembly kernels are off or missing.
 */
export function wasmConv2dBackward(
  gy: FlatArray,
  w: FlatArray,
  x: FlatArray | null,
  g: Conv2dGeometry,
  gx: FloatArray | null,
  gw: FloatArray | null,
  gb: FloatArray | null,
): boolean {
  const gy32 = float32(gy);
  const w32 = float32(w);
  const x32 = x === null ? null : float32(x);
  if (gy32 === null || w32 === null || (gw !== null && x32 === null)) return false;
  const grads: kernels.Conv2dWasmGrads = { input: null, weight: null, bias: null };
  for (const [key, array] of [["input", gx], ["weight", gw], ["bias", gb]] as const) {
    if (array === null) continue;
    if (!(array instanceof Float32Array)) return false;
    grads[key] = { data: array, offset: 0 };
  }
  return kernels.conv2dBackwardWasm(g, gy32, x32, w32, grads);
}
