import { kernels, type FloatArray } from "@pico/core";
import type { Flat } from "./flat.js";
import type { Pool2dGeometry } from "./pool-geometry.js";

/**
 * Max over each window into out[N, C, oH, oW]; argmax (when given) receives the flat input index
 * of each window's maximum: the first in row-major scan order, or the last NaN (as PyTorch, whose
 * NaN always takes over). Padding and the part of a ceilMode window past the input act as −Infinity.
 * Returns the 2×2 float32 kernel that ran (its backward is the one to use), or null.
 */
export function maxPool2dForward(x: Flat, g: Pool2dGeometry, out: FloatArray, argmax: Int32Array | null): MaxPool2x2Kernel | null {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, dilationHeight: dH, dilationWidth: dW, outHeight: oH, outWidth: oW } = g;
  const inside = (oH - 1) * sH + 2 <= H && (oW - 1) * sW + 2 <= W;
  if (kH === 2 && kW === 2 && pH === 0 && pW === 0 && dH === 1 && dW === 1 && inside) {
    if (x.data instanceof Float32Array && out instanceof Float32Array) {
      const planes = x.data.subarray(x.offset, x.offset + g.batch * g.channels * H * W);
      const kernel = maxPool2x2Kernels.resolve().kernel;
      if (kernel.forward(planes, g, out, argmax)) return kernel;
      maxPool2x2Float32(planes, 0, g, out, argmax);
      return maxPool2x2Js;
    }
    maxPool2x2(x, g, out, argmax);
    return null;
  }
  const src = x.data;
  const planes = g.batch * g.channels;
  const plane = H * W;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = taps(oh * sH - pH, kH, dH, H);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = taps(ow * sW - pW, kW, dW, W);
        let bestIndex = base + h0 * W + w0;
        let best = src[x.offset + bestIndex]!;
        for (let ih = h0; ih < h1; ih += dH) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw += dW) {
            const v = src[x.offset + row + iw]!;
            if (v > best || v !== v) {
              best = v;
              bestIndex = row + iw;
            }
          }
        }
        out[o] = best;
        if (argmax !== null) argmax[o] = bestIndex;
      }
    }
  }
  return null;
}

/** The first tap of a window starting at `start` (taps `dilation` apart) inside [0, size), and one past the last. */
function taps(start: number, kernel: number, dilation: number, size: number): [number, number] {
  let first = start;
  while (first < 0) first += dilation;
  const end = Math.min(start + (kernel - 1) * dilation + 1, size);
  return [first, end];
}

/** The common 2×2 window without padding: four loads per window and no bounds arithmetic, same tie and NaN rules. */
function maxPool2x2(x: Flat, g: Pool2dGeometry, out: FloatArray, argmax: Int32Array | null): void {
  const { inHeight: H, inWidth: W, strideHeight: sH, strideWidth: sW, outHeight: oH, outWidth: oW } = g;
  const src = x.data;
  const xo = x.offset;
  const planes = g.batch * g.channels;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < oH; oh++) {
      const row0 = p * H * W + oh * sH * W;
      const row1 = row0 + W;
      for (let ow = 0; ow < oW; ow++, o++) {
        const i0 = row0 + ow * sW;
        const i2 = row1 + ow * sW;
        let best = src[xo + i0]!;
        let bestIndex = i0;
        let v = src[xo + i0 + 1]!;
        if (v > best || v !== v) {
          best = v;
          bestIndex = i0 + 1;
        }
        v = src[xo + i2]!;
        if (v > best || v !== v) {
          best = v;
          bestIndex = i2;
        }
        v = src[xo + i2 + 1]!;
        if (v > best || v !== v) {
          best = v;
          bestIndex = i2 + 1;
        }
        out[o] = best;
        if (argmax !== null) argmax[o] = bestIndex;
      }
    }
  }
}

/**
 * maxPool2x2 for float32 without branches on the data, which mispredict (measured on a ReLU'd
 * convolution output at batch 1000: 1.6× faster with the arg-max, 2× without): a float32 bit pattern b maps to the int32 key ±(b & 0x7fffffff) by its sign bit,
 * which orders as the float does (−0 and +0 tie, as they compare equal), so the running maximum's
 * key, bits and index are selected with masks. A window holding a NaN goes through maxPool2x2's
 * float comparisons, which propagate the last NaN.
 */
function maxPool2x2Float32(src: Float32Array, xo: number, g: Pool2dGeometry, out: Float32Array, argmax: Int32Array | null): void {
  const { inHeight: H, inWidth: W, strideHeight: sH, strideWidth: sW, outHeight: oH, outWidth: oW } = g;
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  const outBits = new Int32Array(out.buffer, out.byteOffset, out.length);
  const planes = g.batch * g.channels;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    for (let oh = 0; oh < oH; oh++) {
      const row0 = p * H * W + oh * sH * W;
      for (let ow = 0; ow < oW; ow++, o++) {
        const i0 = row0 + ow * sW;
        const a = bits[xo + i0]!;
        const b = bits[xo + i0 + 1]!;
        const d = bits[xo + i0 + W]!;
        const e = bits[xo + i0 + W + 1]!;
        if ((+((a & ABS) > INFINITY) | +((b & ABS) > INFINITY) | +((d & ABS) > INFINITY) | +((e & ABS) > INFINITY)) !== 0) {
          maxPoolWindow2x2(src, xo, W, i0, out, o, argmax);
          continue;
        }
        let best = ((a & ABS) ^ (a >> 31)) - (a >> 31);
        let value = a;
        let index = i0;
        let key = ((b & ABS) ^ (b >> 31)) - (b >> 31);
        let mask = -+(key > best);
        best = (key & mask) | (best & ~mask);
        value = (b & mask) | (value & ~mask);
        index = ((i0 + 1) & mask) | (index & ~mask);
        key = ((d & ABS) ^ (d >> 31)) - (d >> 31);
        mask = -+(key > best);
        best = (key & mask) | (best & ~mask);
        value = (d & mask) | (value & ~mask);
        index = ((i0 + W) & mask) | (index & ~mask);
        key = ((e & ABS) ^ (e >> 31)) - (e >> 31);
        mask = -+(key > best);
        value = (e & mask) | (value & ~mask);
        index = ((i0 + W + 1) & mask) | (index & ~mask);
        outBits[o] = value;
        if (argmax !== null) argmax[o] = index;
      }
    }
  }
}

const ABS = 0x7fffffff;
const INFINITY = 0x7f800000;

/** One 2×2 window at `i0` (rows `W` apart) with maxPool2x2's comparisons. */
function maxPoolWindow2x2(src: Float32Array, xo: number, W: number, i0: number, out: Float32Array, o: number, argmax: Int32Array | null): void {
  let best = src[xo + i0]!;
  let bestIndex = i0;
  for (const i of [i0 + 1, i0 + W, i0 + W + 1]) {
    const v = src[xo + i]!;
    if (v > best || v !== v) {
      best = v;
      bestIndex = i;
    }
  }
  out[o] = best;
  if (argmax !== null) argmax[o] = bestIndex;
}

/**
 * A 2×2 max pooling (no padding or dilation, windows inside the input) of packed float32 planes: forward
 * with maxPool2dForward's values and arg-max indices, bit for bit, and its backward, which writes every
 * element of gx (uninitialized on entry) with maxPool2dBackward's values on a zero-filled gx, bit for bit.
 * Each returns false, having written nothing, if it does not take this geometry.
 */
export interface MaxPool2x2Kernel {
  forward(x: Float32Array, g: Pool2dGeometry, out: Float32Array, argmax: Int32Array | null): boolean;
  /** With `handOffGradInput` (see MaxPool2dFunction), a kernel may leave gx in the WebAssembly module for the backward that reads it next. */
  backward(gy: Float32Array, argmax: Int32Array, gx: Float32Array, g: Pool2dGeometry, handOffGradInput?: boolean): boolean;
}

/** The scatter into a zero-filled gradient, for any stride (overlapping windows add up). */
function scatterBackward(gy: Float32Array, argmax: Int32Array, gx: Float32Array): boolean {
  gx.fill(0);
  maxPool2dBackward({ data: gy, offset: 0 }, argmax, gx);
  return true;
}

const maxPool2x2Js: MaxPool2x2Kernel = {
  forward(x, g, out, argmax) {
    maxPool2x2Float32(x, 0, g, out, argmax);
    return true;
  },
  backward: scatterBackward,
};

/**
 * The "maxPool2x2" kernel family: float comparisons, branch-free TypeScript, WebAssembly SIMD (stride 2;
 * the forward split across the threads by planes, the backward written once in cache-sized blocks on the
 * calling thread, without a zero-fill).
 */
export const maxPool2x2Kernels = kernels
  .kernelFamily<MaxPool2x2Kernel>("maxPool2x2")
  .register("reference", {
    forward(x, g, out, argmax) {
      maxPool2x2({ data: x, offset: 0 }, g, out, argmax);
      return true;
    },
    backward: scatterBackward,
  })
  .register("js", maxPool2x2Js)
  .register(
    "wasm",
    {
      forward: (x, g, out, argmax) =>
        stride2(g) && kernels.maxPool2x2Wasm(x, out, argmax, g.batch * g.channels, g.inHeight, g.inWidth, g.outHeight, g.outWidth),
      backward: (gy, argmax, gx, g, handOffGradInput) =>
        stride2(g) && kernels.maxPool2x2BackwardWasm(gy, argmax, gx, g.batch * g.channels, g.inHeight, g.inWidth, g.outHeight, g.outWidth, handOffGradInput === true),
    },
    { available: kernels.wasmAvailable, threads: kernels.elementwiseWasmThreads },
  );

const stride2 = (g: Pool2dGeometry): boolean => g.strideHeight === 2 && g.strideWidth === 2;

/** Routes each output gradient to its window's arg-max, adding where overlapping windows share one; `gx` must come zero-filled. */
export function maxPool2dBackward(gy: Flat, argmax: Int32Array, gx: FloatArray): void {
  const src = gy.data;
  const offset = gy.offset;
  for (let o = 0; o < argmax.length; o++) {
    const i = argmax[o]!;
    gx[i] = gx[i]! + src[offset + o]!;
  }
}
