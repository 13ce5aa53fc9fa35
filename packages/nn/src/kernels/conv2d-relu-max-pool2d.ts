import { kernels, type FloatArray } from "@pico/core";
import type { Pool2dGeometry } from "./pool-geometry.js";

type Conv2dGeometry = kernels.Conv2dGeometry;
type Flat = kernels.Flat;
const { conv2dGemmForward: conv2dForward, conv2dGemmBackward: conv2dBackward, conv2dGemmBackwardBias: conv2dBackwardBias, isPointwise, im2col, scratch } = kernels;

/** Elements of one image's im2col columns (all groups), the per-image stride of the kept columns. */
export function imageColumnsSize(g: Conv2dGeometry): number {
  return g.inChannels * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth;
}

/**
 * out[N, outC, pH, pW] = maxPool(relu(conv2d(x))) image by image: each image's convolution lands in a
 * scratch buffer that stays in cache, and is pooled from there; the batch's convolution output is
 * never materialised. `pool` describes one image's pooling (its batch is ignored). argmax (when given)
 * receives, per pooled output, the index into its image's convolution output [outC, oH, oW] of the
 * window's first maximum when that maximum is > 0 (or of its last NaN, which wins as in PyTorch's
 * max_pool2d), else outC·oH·oW, one past the end (the output is 0 and no gradient flows: backward adds
 * it to a spare slot instead of testing every index).
 * With `keptCols` (N · imageColumnsSize elements) each image's columns stay there for the backward pass.
 */
export function conv2dReluMaxPool2dForward(
  x: Flat,
  w: Flat,
  bias: Flat | null,
  g: Conv2dGeometry,
  pool: Pool2dGeometry,
  out: FloatArray,
  argmax: Int32Array | null,
  keptCols: FloatArray | null,
): void {
  const image: Conv2dGeometry = { ...g, batch: 1 };
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const convImage = g.outChannels * g.outHeight * g.outWidth;
  const pooledImage = g.outChannels * pool.outHeight * pool.outWidth;
  const colsImage = imageColumnsSize(g);
  const conv = scratch("conv2dReluMaxPool2d.conv", kernels.dtypeOf(out), convImage);
  const twoByTwo = pool.kernelHeight === 2 && pool.kernelWidth === 2 && pool.padHeight === 0 && pool.padWidth === 0;
  const bits = twoByTwo && conv instanceof Float32Array && out instanceof Float32Array ? { conv: intView(conv), out: intView(out) } : null;
  for (let n = 0; n < g.batch; n++) {
    const cols = keptCols === null ? null : keptCols.subarray(n * colsImage, (n + 1) * colsImage);
    conv2dForward({ data: x.data, offset: x.offset + n * inImage }, w, bias, image, 1, conv, cols);
    if (bits !== null) {
      reluMaxPool2x2Float32(conv as Float32Array, bits.conv, g.outChannels, pool, out as Float32Array, bits.out, n * pooledImage, argmax);
    } else {
      reluMaxPool(conv, g.outChannels, pool, out, n * pooledImage, argmax);
    }
  }
}

/**
 * Max over each window of relu(v), into `out` from `outOffset`: starting from 0 and taking only
 * strictly greater values (or a NaN, which relu keeps and max-pooling propagates, the last one
 * winning) picks the same output and the same arg-max as PyTorch's max-pooling of relu(v) wherever
 * the gradient is not 0; a window with nothing > 0 and no NaN gets index channels·H·W.
 */
function reluMaxPool(src: FloatArray, channels: number, g: Pool2dGeometry, out: FloatArray, outOffset: number, argmax: Int32Array | null): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const none = channels * H * W;
  const { padHeight: pH, padWidth: pW, outHeight: oH, outWidth: oW } = g;
  let o = outOffset;
  for (let c = 0; c < channels; c++) {
    const base = c * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const hs = oh * sH - pH;
      const h0 = hs < 0 ? 0 : hs;
      const h1 = hs + kH > H ? H : hs + kH;
      for (let ow = 0; ow < oW; ow++, o++) {
        const ws = ow * sW - pW;
        const w0 = ws < 0 ? 0 : ws;
        const w1 = ws + kW > W ? W : ws + kW;
        let best = 0;
        let bestIndex = none;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw++) {
            const v = src[row + iw]!;
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
}

/**
 * reluMaxPool for float32 and the common 2×2 window without padding, without branches on the data
 * (random signs made the compare-and-branch version mispredict, 3-4× slower): non-negative float32
 * values order as their bit patterns do as int32, so relu is clearing words whose sign bit is set,
 * and max and first arg-max are integer arithmetic. A window holding a NaN (magnitude bits above
 * +Infinity's, either sign) goes through reluMaxPoolWindow, which compares as floats.
 */
function reluMaxPool2x2Float32(
  src: Float32Array,
  bits: Int32Array,
  channels: number,
  g: Pool2dGeometry,
  out: Float32Array,
  outBits: Int32Array,
  outOffset: number,
  argmax: Int32Array | null,
): void {
  const { inHeight: H, inWidth: W, strideHeight: sH, strideWidth: sW, outHeight: oH, outWidth: oW } = g;
  const lastRow = W - 1;
  const none = channels * H * W;
  let o = outOffset;
  for (let c = 0; c < channels; c++) {
    for (let oh = 0; oh < oH; oh++) {
      const row0 = c * H * W + oh * sH * W;
      for (let ow = 0; ow < oW; ow++, o++) {
        const i0 = row0 + ow * sW;
        let a = bits[i0]!;
        let b = bits[i0 + 1]!;
        let d = bits[i0 + W]!;
        let e = bits[i0 + W + 1]!;
        if (((INFINITY_BITS - (a & MAGNITUDE)) | (INFINITY_BITS - (b & MAGNITUDE)) | (INFINITY_BITS - (d & MAGNITUDE)) | (INFINITY_BITS - (e & MAGNITUDE))) < 0) {
          reluMaxPoolWindow(src, W, i0, none, out, o, argmax);
          continue;
        }
        a &= ~(a >> 31);
        b &= ~(b >> 31);
        d &= ~(d >> 31);
        e &= ~(e >> 31);
        let t = a - b;
        const top = a - (t & (t >> 31));
        t = d - e;
        const bottom = d - (t & (t >> 31));
        t = top - bottom;
        const m = top - (t & (t >> 31));
        outBits[o] = m;
        if (argmax !== null) {
          // Offset of the first of a, b, d, e equal to m (0, 1, W, W + 1); `none` when m is 0 (nothing > 0).
          const index = i0 + +(a !== m) * (1 + +(b !== m) * (lastRow + +(d !== m)));
          argmax[o] = index + +(m === 0) * (none - index);
        }
      }
    }
  }
}

const INFINITY_BITS = 0x7f800000;
const MAGNITUDE = 0x7fffffff;

/** The same memory as int32 words. */
function intView(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/** One 2×2 window at `i0` (rows `W` apart) as reluMaxPool scans it. */
function reluMaxPoolWindow(src: Float32Array, W: number, i0: number, none: number, out: Float32Array, o: number, argmax: Int32Array | null): void {
  let best = 0;
  let bestIndex = none;
  for (const i of [i0, i0 + 1, i0 + W, i0 + W + 1]) {
    const v = src[i]!;
    if (v > best || v !== v) {
      best = v;
      bestIndex = i;
    }
  }
  out[o] = best;
  if (argmax !== null) argmax[o] = bestIndex;
}

/**
 * The gradients of conv2dReluMaxPool2dForward, image by image: the pooled output gradient goes to
 * each window's recorded arg-max (or the spare slot past the end) in a per-image scratch of the convolution output's
 * gradient, from which the convolution's input gradient (into `gx`, zero-filled, packed like the
 * input), weight gradient (`gw`, accumulated over images) and bias gradient (`gb`, zero-filled)
 * follow, each only when given. Without `keptCols` the weight gradient unfolds each image of `x`
 * again, into scratch (a pointwise kernel reads `x` as its columns).
 */
export function conv2dReluMaxPool2dBackward(
  gy: Flat,
  argmax: Int32Array,
  w: Flat,
  x: Flat | null,
  g: Conv2dGeometry,
  pool: Pool2dGeometry,
  keptCols: FloatArray | null,
  gx: FloatArray | null,
  gw: FloatArray | null,
  gb: FloatArray | null,
): void {
  const image: Conv2dGeometry = { ...g, batch: 1 };
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const convImage = g.outChannels * g.outHeight * g.outWidth;
  const pooledImage = g.outChannels * pool.outHeight * pool.outWidth;
  const colsImage = imageColumnsSize(g);
  const pointwise = isPointwise(g);
  const grad = scratch("conv2dReluMaxPool2d.gradConv", kernels.dtypeOf(gx ?? gw ?? gb ?? gy.data), convImage + 1);
  const gradFlat: Flat = { data: grad, offset: 0 };
  for (let n = 0; n < g.batch; n++) {
    grad.fill(0, 0, convImage + 1);
    const start = n * pooledImage;
    for (let o = start; o < start + pooledImage; o++) {
      const i = argmax[o]!;
      grad[i] = grad[i]! + gy.data[gy.offset + o]!;
    }
    if (gx !== null || gw !== null) {
      let cols = keptCols === null ? null : keptCols.subarray(n * colsImage, (n + 1) * colsImage);
      if (cols === null && gw !== null && !pointwise && x !== null) {
        cols = scratch("conv2dReluMaxPool2d.cols", kernels.dtypeOf(gw), colsImage);
        const groupChannels = g.inChannels / g.groups;
        const groupColumns = colsImage / g.groups;
        for (let grp = 0; grp < g.groups; grp++) {
          im2col(x.data, x.offset + n * inImage + grp * groupChannels * g.inHeight * g.inWidth, groupChannels, g, cols, grp * groupColumns);
        }
      }
      const input = pointwise && x !== null ? { data: x.data, offset: x.offset + n * inImage } : null;
      const gxImage = gx === null ? null : gx.subarray(n * inImage, (n + 1) * inImage);
      conv2dBackward(gradFlat, w, input, image, 1, cols, gxImage, gw, n > 0);
    }
    if (gb !== null) conv2dBackwardBias(gradFlat, image, gb);
  }
}
