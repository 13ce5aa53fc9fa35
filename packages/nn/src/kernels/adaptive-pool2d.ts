import type { FloatArray } from "@pico/core";
import type { Flat } from "./flat.js";

/** Planes of [H, W] pooled to [outHeight, outWidth] by PyTorch's adaptive windows. */
export interface AdaptivePool2dGeometry {
  planes: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
}

/** Window i of `outSize` over `size`: [floor(i·size / outSize), ceil((i + 1)·size / outSize)), as PyTorch. */
function bounds(i: number, size: number, outSize: number): [number, number] {
  return [Math.floor((i * size) / outSize), Math.ceil(((i + 1) * size) / outSize)];
}

/** Mean over each adaptive window into out[planes, oH, oW]. */
export function adaptiveAvgPool2dForward(x: Flat, g: AdaptivePool2dGeometry, out: FloatArray): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  if (oH === 1 && oW === 1 && x.data instanceof Float32Array && out instanceof Float32Array) {
    globalMeanFloat32(x.data, x.offset, g.planes, H * W, out);
    return;
  }
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = x.offset + p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        let sum = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) sum += x.data[base + h * W + w]!;
        out[o] = sum / ((h1 - h0) * (w1 - w0));
      }
    }
  }
}

/** Spreads each output gradient evenly over its window; `gx` must come zero-filled unless `globalMean(g)`. */
export function adaptiveAvgPool2dBackward(gy: Flat, g: AdaptivePool2dGeometry, gx: FloatArray): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  if (oH === 1 && oW === 1 && gy.data instanceof Float32Array && gx instanceof Float32Array) {
    globalMeanBackwardFloat32(gy.data, gy.offset, g.planes, H * W, gx);
    return;
  }
  let o = gy.offset;
  for (let p = 0; p < g.planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        const share = gy.data[o]! / ((h1 - h0) * (w1 - w0));
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) gx[base + h * W + w] = gx[base + h * W + w]! + share;
      }
    }
  }
}

/** Whether every output is the mean of its whole plane (output size 1×1): then the backward writes every element of gx. */
export function globalMean(g: AdaptivePool2dGeometry): boolean {
  return g.outHeight === 1 && g.outWidth === 1;
}

// The global mean (a CIFAR or ResNet head) on float32, in flat loops over one array type each, with the
// general loops' summation order and rounding: sums in float64 in scan order, the gradient as 0 + share.
function globalMeanFloat32(x: Float32Array, offset: number, planes: number, size: number, out: Float32Array): void {
  for (let p = 0, i = offset; p < planes; p++) {
    let sum = 0;
    for (const end = i + size; i < end; i++) sum += x[i]!;
    out[p] = sum / size;
  }
}

function globalMeanBackwardFloat32(gy: Float32Array, offset: number, planes: number, size: number, gx: Float32Array): void {
  for (let p = 0; p < planes; p++) gx.fill(0 + gy[offset + p]! / size, p * size, (p + 1) * size);
}

/**
 * Max over each adaptive window into out; argmax (when given) gets the flat input index of the
 * window's first maximum in scan order, or its last NaN, as PyTorch.
 */
export function adaptiveMaxPool2dForward(x: Flat, g: AdaptivePool2dGeometry, out: FloatArray, argmax: Int32Array | null): void {
  const { inHeight: H, inWidth: W, outHeight: oH, outWidth: oW } = g;
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1] = bounds(oh, H, oH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1] = bounds(ow, W, oW);
        let bestIndex = base + h0 * W + w0;
        let best = x.data[x.offset + bestIndex]!;
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const i = base + h * W + w;
            const v = x.data[x.offset + i]!;
            if (v > best || v !== v) {
              best = v;
              bestIndex = i;
            }
          }
        }
        out[o] = best;
        if (argmax !== null) argmax[o] = bestIndex;
      }
    }
  }
}
