import { kernels, type FloatArray } from "@pico/core";
import type { Conv2dGeometry } from "./conv-geometry.js";
import type { Pool2dGeometry } from "./pool-geometry.js";

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
 * `gy` is the gradient of the convolution's own output (before any fused ReLU; with `argmax`, see
 * wasmConv2dReluMaxPool2dBackward). Returns false, having
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
  argmax: Int32Array | null = null,
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
  return kernels.conv2dBackwardWasm(g, gy32, x32, w32, grads, { argmax });
}

/** The pooling the module fuses: 2×2 windows, stride 2, no padding, over the whole convolution output. */
function isPool2x2(g: Conv2dGeometry, pool: Pool2dGeometry): boolean {
  return pool.kernelHeight === 2 && pool.kernelWidth === 2 && pool.strideHeight === 2 && pool.strideWidth === 2 &&
    pool.padHeight === 0 && pool.padWidth === 0 && pool.inHeight === g.outHeight && pool.inWidth === g.outWidth &&
    pool.outHeight === g.outHeight >> 1 && pool.outWidth === g.outWidth >> 1;
}

/**
 * conv2dReluMaxPool2dForward in WebAssembly: out [N, outC, pH, pW] = maxPool2x2(relu(w ⊛ x + bias))
 * with the same `argmax` convention (index into the image's convolution output [outC, oH, oW] of the
 * window's first maximum when it is > 0, else −1); nothing is kept for backward but x and argmax.
 * Returns false, having written nothing, unless the pool is 2×2 with stride 2 and no padding, all
 * arrays are float32 and the WebAssembly kernels are on.
 */
export function wasmConv2dReluMaxPool2dForward(
  x: FlatArray, w: FlatArray, bias: FlatArray | null, g: Conv2dGeometry, pool: Pool2dGeometry, out: FloatArray, argmax: Int32Array | null,
): boolean {
  const x32 = float32(x);
  const w32 = float32(w);
  const b32 = bias === null ? null : float32(bias);
  if (!isPool2x2(g, pool) || x32 === null || w32 === null || (bias !== null && b32 === null) || !(out instanceof Float32Array)) return false;
  return kernels.conv2dForwardWasm(g, x32, w32, b32, { data: out, offset: 0 }, { reluMaxPool2x2: true, argmax });
}

/**
 * conv2dReluMaxPool2dBackward in WebAssembly: `gy` is the pooled output's gradient and `argmax` what
 * wasmConv2dReluMaxPool2dForward recorded (an index outside the image's convolution output, −1 or
 * past its end, passes no gradient); writes (overwrites) gx, gw, gb as wasmConv2dBackward.
 */
export function wasmConv2dReluMaxPool2dBackward(
  gy: FlatArray, argmax: Int32Array, w: FlatArray, x: FlatArray | null, g: Conv2dGeometry, pool: Pool2dGeometry,
  gx: FloatArray | null, gw: FloatArray | null, gb: FloatArray | null,
): boolean {
  if (!isPool2x2(g, pool)) return false;
  return wasmConv2dBackward(gy, w, x, g, gx, gw, gb, argmax);
}
