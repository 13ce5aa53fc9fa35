import type { FloatArray } from "@pico/core";
import type { Flat } from "./conv2d.js";
import type { Pool2dGeometry } from "./pool-geometry.js";

/** The divisor of a window: kH·kW when padding counts, otherwise the number of its pixels inside the image. */
function divisor(g: Pool2dGeometry, h0: number, h1: number, w0: number, w1: number, countIncludePad: boolean): number {
  return countIncludePad ? g.kernelHeight * g.kernelWidth : (h1 - h0) * (w1 - w0);
}

/** Mean over each window into out[N, C, oH, oW]. */
export function avgPool2dForward(x: Flat, g: Pool2dGeometry, countIncludePad: boolean, out: FloatArray): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, outHeight: oH, outWidth: oW } = g;
  const src = x.data;
  const planes = g.batch * g.channels;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = x.offset + p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const hs = oh * sH - pH;
      const h0 = hs < 0 ? 0 : hs;
      const h1 = hs + kH > H ? H : hs + kH;
      for (let ow = 0; ow < oW; ow++, o++) {
        const ws = ow * sW - pW;
        const w0 = ws < 0 ? 0 : ws;
        const w1 = ws + kW > W ? W : ws + kW;
        let sum = 0;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw++) sum += src[row + iw]!;
        }
        out[o] = sum / divisor(g, h0, h1, w0, w1, countIncludePad);
      }
    }
  }
}

/** Spreads each output gradient evenly over its window, adding where windows overlap; `gx` must come zero-filled. */
export function avgPool2dBackward(gy: Flat, g: Pool2dGeometry, countIncludePad: boolean, gx: FloatArray): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, outHeight: oH, outWidth: oW } = g;
  const src = gy.data;
  const planes = g.batch * g.channels;
  let o = gy.offset;
  for (let p = 0; p < planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const hs = oh * sH - pH;
      const h0 = hs < 0 ? 0 : hs;
      const h1 = hs + kH > H ? H : hs + kH;
      for (let ow = 0; ow < oW; ow++, o++) {
        const ws = ow * sW - pW;
        const w0 = ws < 0 ? 0 : ws;
        const w1 = ws + kW > W ? W : ws + kW;
        const share = src[o]! / divisor(g, h0, h1, w0, w1, countIncludePad);
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw++) gx[row + iw] = gx[row + iw]! + share;
        }
      }
    }
  }
}
