import type { FloatArray } from "../../dtype.js";
import { validEnd, validStart, type Conv2dGeometry } from "./geometry.js";

/**
 * Unfolds `channels` planes of one image (starting at `srcOffset`, each inHeight×inWidth) into
 * the column matrix cols[channels·kH·kW, outH·outW] at `colsOffset`, rows `ld` apart (so several
 * images can sit side by side): row (c, ki, kj) holds the input pixel each output position sees
 * through kernel tap (ki, kj), or 0 where it falls in the padding.
 */
export function im2col(src: FloatArray, srcOffset: number, channels: number, g: Conv2dGeometry, cols: FloatArray, colsOffset = 0, ld = g.outHeight * g.outWidth): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, dilationHeight: dH, dilationWidth: dW, outHeight: oH, outWidth: oW } = g;
  const plane = H * W;
  const outPlane = oH * oW;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const base = srcOffset + c * plane;
    for (let ki = 0; ki < kH; ki++) {
      const hShift = ki * dH - pH;
      const ohStart = validStart(oH, sH, hShift);
      const ohEnd = validEnd(oH, H, sH, hShift, ohStart);
      for (let kj = 0; kj < kW; kj++, row++) {
        const wShift = kj * dW - pW;
        const owStart = validStart(oW, sW, wShift);
        const owEnd = validEnd(oW, W, sW, wShift, owStart);
        const dst = colsOffset + row * ld;
        if (ohStart > 0) cols.fill(0, dst, dst + ohStart * oW);
        if (ohEnd < oH) cols.fill(0, dst + ohEnd * oW, dst + outPlane);
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const d = dst + oh * oW;
          const s = base + (oh * sH + hShift) * W + wShift;
          if (owStart > 0) cols.fill(0, d, d + owStart);
          if (sW === 1) {
            for (let ow = owStart; ow < owEnd; ow++) cols[d + ow] = src[s + ow]!;
          } else {
            for (let ow = owStart; ow < owEnd; ow++) cols[d + ow] = src[s + ow * sW]!;
          }
          if (owEnd < oW) cols.fill(0, d + owEnd, d + oW);
        }
      }
    }
  }
}

/** The adjoint of im2col (same layout arguments): adds every entry of the columns back onto the input pixel it came from. */
export function col2im(cols: FloatArray, colsOffset: number, ld: number, channels: number, g: Conv2dGeometry, dst: FloatArray, dstOffset: number): void {
  const { inHeight: H, inWidth: W, kernelHeight: kH, kernelWidth: kW, strideHeight: sH, strideWidth: sW } = g;
  const { padHeight: pH, padWidth: pW, dilationHeight: dH, dilationWidth: dW, outHeight: oH, outWidth: oW } = g;
  const plane = H * W;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const base = dstOffset + c * plane;
    for (let ki = 0; ki < kH; ki++) {
      const hShift = ki * dH - pH;
      const ohStart = validStart(oH, sH, hShift);
      const ohEnd = validEnd(oH, H, sH, hShift, ohStart);
      for (let kj = 0; kj < kW; kj++, row++) {
        const wShift = kj * dW - pW;
        const owStart = validStart(oW, sW, wShift);
        const owEnd = validEnd(oW, W, sW, wShift, owStart);
        const src = colsOffset + row * ld;
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const s = src + oh * oW;
          const d = base + (oh * sH + hShift) * W + wShift;
          if (sW === 1) {
            for (let ow = owStart; ow < owEnd; ow++) dst[d + ow] = dst[d + ow]! + cols[s + ow]!;
          } else {
            for (let ow = owStart; ow < owEnd; ow++) dst[d + ow * sW] = dst[d + ow * sW]! + cols[s + ow]!;
          }
        }
      }
    }
  }
}
