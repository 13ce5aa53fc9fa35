import type { FloatArray } from "@pico/core";
import type { Flat } from "./flat.js";
import type { Pool2dGeometry } from "./pool-geometry.js";

/** How a window's sum is divided: PyTorch's avg_pool2d options. */
export interface AvgPoolDivisor {
  /** Count the padding (not the part of a ceilMode window past the padding) in the divisor. */
  countIncludePad: boolean;
  /** Divide every window by this instead; null for none. */
  divisorOverride: number | null;
}

/**
 * The rows (or columns) [first, end) of the input a window starting at `start` covers, and its
 * extent clipped to the padded input (what countIncludePad divides by), as PyTorch.
 */
function span(start: number, kernel: number, size: number, pad: number): [number, number, number] {
  const padded = Math.min(start + kernel, size + pad);
  return [start < 0 ? 0 : start, padded > size ? size : padded, padded - start];
}

function divisorOf(d: AvgPoolDivisor, paddedArea: number, insideArea: number): number {
  if (d.divisorOverride !== null) return d.divisorOverride;
  return d.countIncludePad ? paddedArea : insideArea;
}

/** Mean over each window into out[N, C, oH, oW]; a window with nothing inside the input gives 0. */
export function avgPool2dForward(x: Flat, g: Pool2dGeometry, d: AvgPoolDivisor, out: FloatArray): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, outHeight: oH, outWidth: oW } = g;
  const src = x.data;
  const planes = g.batch * g.channels;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = x.offset + p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1, ph] = span(oh * sH - pH, kH, H, pH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1, pw] = span(ow * sW - pW, kW, W, pW);
        if (h0 >= h1 || w0 >= w1) {
          out[o] = 0;
          continue;
        }
        let sum = 0;
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw++) sum += src[row + iw]!;
        }
        out[o] = sum / divisorOf(d, ph * pw, (h1 - h0) * (w1 - w0));
      }
    }
  }
}

/** Spreads each output gradient evenly over its window, adding where windows overlap; `gx` must come zero-filled. */
export function avgPool2dBackward(gy: Flat, g: Pool2dGeometry, d: AvgPoolDivisor, gx: FloatArray): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, outHeight: oH, outWidth: oW } = g;
  const src = gy.data;
  const planes = g.batch * g.channels;
  let o = gy.offset;
  for (let p = 0; p < planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const [h0, h1, ph] = span(oh * sH - pH, kH, H, pH);
      for (let ow = 0; ow < oW; ow++, o++) {
        const [w0, w1, pw] = span(ow * sW - pW, kW, W, pW);
        if (h0 >= h1 || w0 >= w1) continue;
        const share = src[o]! / divisorOf(d, ph * pw, (h1 - h0) * (w1 - w0));
        for (let ih = h0; ih < h1; ih++) {
          const row = base + ih * W;
          for (let iw = w0; iw < w1; iw++) gx[row + iw] = gx[row + iw]! + share;
        }
      }
    }
  }
}
