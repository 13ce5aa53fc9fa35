// f32 2-D convolution (NCHW, PyTorch's cross-correlation) for @pico/core in WebAssembly SIMD: im2col
// into this module's memory and the GEMM of gemm.ts reading those columns in place, so the column
// matrix never leaves the module. The loader copies images, weights and gradients in and results out.
// Pointers are byte addresses; the geometry is a block of 16 i32 at `geo` (see Geometry).
import { gemmRows } from "./gemm";

export { heapBase, workBytes, gemmRows } from "./gemm";

/** The geometry block the loader writes, field by field in this order (the nn Conv2dGeometry). */
@unmanaged
class Geometry {
  batch: i32;
  inChannels: i32;
  inHeight: i32;
  inWidth: i32;
  outChannels: i32;
  groups: i32;
  kernelHeight: i32;
  kernelWidth: i32;
  strideHeight: i32;
  strideWidth: i32;
  padHeight: i32;
  padWidth: i32;
  dilationHeight: i32;
  dilationWidth: i32;
  outHeight: i32;
  outWidth: i32;
}

/** The first output index o (at most outSize) whose input index o·stride + shift is >= 0. */
// @ts-ignore: decorator
@inline
function validStart(outSize: i32, stride: i32, shift: i32): i32 {
  if (shift >= 0) return 0;
  return min(outSize, stride == 1 ? -shift : (stride - 1 - shift) / stride);
}

/** One past the last output index o whose input index o·stride + shift is < size, never below `start`. */
// @ts-ignore: decorator
@inline
function validEnd(outSize: i32, size: i32, stride: i32, shift: i32, start: i32): i32 {
  const last = size - 1 - shift;
  const end = last < 0 ? 0 : min(outSize, stride == 1 ? last + 1 : last / stride + 1);
  return end < start ? start : end;
}

/** dst[0..count) = src[0..count), floats; short runs (one output row) are too short for memory.copy to pay. */
// @ts-ignore: decorator
@inline
function copyRun(dst: usize, src: usize, count: i32): void {
  let q = 0;
  for (; q + 4 <= count; q += 4) v128.store(dst + (<usize>q << 2), v128.load(src + (<usize>q << 2)));
  for (; q < count; q++) store<f32>(dst + (<usize>q << 2), load<f32>(src + (<usize>q << 2)));
}

/** dst[0..count) += src[0..count), floats. */
// @ts-ignore: decorator
@inline
function addRun(dst: usize, src: usize, count: i32): void {
  let q = 0;
  for (; q + 4 <= count; q += 4) {
    const at = <usize>q << 2;
    v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
  }
  for (; q < count; q++) store<f32>(dst + (<usize>q << 2), load<f32>(dst + (<usize>q << 2)) + load<f32>(src + (<usize>q << 2)));
}

/**
 * Unfolds `channels` planes of one image at `src` into cols[channels·kH·kW, oH·oW] at `cols`, rows
 * `ld` floats apart (images of a chunk sit side by side): row (c, ki, kj) holds the pixel each output
 * position sees through tap (ki, kj), 0 in the padding.
 */
export function im2col(geo: usize, src: usize, channels: i32, cols: usize, ld: i32): void {
  const g = changetype<Geometry>(geo);
  const H = g.inHeight, W = g.inWidth, kH = g.kernelHeight, kW = g.kernelWidth;
  const sH = g.strideHeight, sW = g.strideWidth, pH = g.padHeight, pW = g.padWidth;
  const dH = g.dilationHeight, dW = g.dilationWidth, oH = g.outHeight, oW = g.outWidth;
  const planeBytes = <usize>(H * W) << 2;
  const rowBytes = <usize>ld << 2;
  const oWBytes = <usize>oW << 2;
  let dst = cols;
  for (let c = 0; c < channels; c++) {
    const base = src + <usize>c * planeBytes;
    for (let ki = 0; ki < kH; ki++) {
      const hShift = ki * dH - pH;
      const ohStart = validStart(oH, sH, hShift);
      const ohEnd = validEnd(oH, H, sH, hShift, ohStart);
      for (let kj = 0; kj < kW; kj++) {
        const wShift = kj * dW - pW;
        const owStart = validStart(oW, sW, wShift);
        const owEnd = validEnd(oW, W, sW, wShift, owStart);
        if (ohStart > 0) memory.fill(dst, 0, <usize>ohStart * oWBytes);
        if (ohEnd < oH) memory.fill(dst + <usize>ohEnd * oWBytes, 0, <usize>(oH - ohEnd) * oWBytes);
        let d = dst + <usize>ohStart * oWBytes;
        if (sW == 1 && owStart == 0 && owEnd == oW && (oW & 3) == 0) {
          // Whole rows of a multiple of 4 floats (the unpadded, unit-stride case): plain vector copies.
          let s = base + (<usize>((ohStart * sH + hShift) * W + wShift) << 2);
          const sStep = <usize>(sH * W) << 2;
          if ((oW & 7) == 0) {
            for (let oh = ohStart; oh < ohEnd; oh++) {
              for (let q: usize = 0; q < oWBytes; q += 32) {
                const lo = v128.load(s + q);
                const hi = v128.load(s + q, 16);
                v128.store(d + q, lo);
                v128.store(d + q, hi, 16);
              }
              s += sStep;
              d += oWBytes;
            }
          } else {
            for (let oh = ohStart; oh < ohEnd; oh++) {
              for (let q: usize = 0; q < oWBytes; q += 16) v128.store(d + q, v128.load(s + q));
              s += sStep;
              d += oWBytes;
            }
          }
          dst += rowBytes;
          continue;
        }
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const s = base + (<usize>((oh * sH + hShift) * W + wShift) << 2);
          for (let ow = 0; ow < owStart; ow++) store<f32>(d + (<usize>ow << 2), 0);
          if (sW == 1) {
            copyRun(d + (<usize>owStart << 2), s + (<usize>owStart << 2), owEnd - owStart);
          } else {
            for (let ow = owStart; ow < owEnd; ow++) store<f32>(d + (<usize>ow << 2), load<f32>(s + (<usize>(ow * sW) << 2)));
          }
          for (let ow = owEnd; ow < oW; ow++) store<f32>(d + (<usize>ow << 2), 0);
          d += oWBytes;
        }
        dst += rowBytes;
      }
    }
  }
}

/** The adjoint of im2col (same layout arguments): adds every entry of the columns onto the pixel it came from. */
export function col2im(geo: usize, cols: usize, ld: i32, channels: i32, dst: usize): void {
  const g = changetype<Geometry>(geo);
  const H = g.inHeight, W = g.inWidth, kH = g.kernelHeight, kW = g.kernelWidth;
  const sH = g.strideHeight, sW = g.strideWidth, pH = g.padHeight, pW = g.padWidth;
  const dH = g.dilationHeight, dW = g.dilationWidth, oH = g.outHeight, oW = g.outWidth;
  const planeBytes = <usize>(H * W) << 2;
  const rowBytes = <usize>ld << 2;
  const oWBytes = <usize>oW << 2;
  let src = cols;
  for (let c = 0; c < channels; c++) {
    const base = dst + <usize>c * planeBytes;
    for (let ki = 0; ki < kH; ki++) {
      const hShift = ki * dH - pH;
      const ohStart = validStart(oH, sH, hShift);
      const ohEnd = validEnd(oH, H, sH, hShift, ohStart);
      for (let kj = 0; kj < kW; kj++) {
        const wShift = kj * dW - pW;
        const owStart = validStart(oW, sW, wShift);
        const owEnd = validEnd(oW, W, sW, wShift, owStart);
        let s = src + <usize>ohStart * oWBytes;
        if (sW == 1 && owStart == 0 && owEnd == oW && (oW & 3) == 0) {
          let d = base + (<usize>((ohStart * sH + hShift) * W + wShift) << 2);
          const dStep = <usize>(sH * W) << 2;
          if ((oW & 7) == 0) {
            for (let oh = ohStart; oh < ohEnd; oh++) {
              for (let q: usize = 0; q < oWBytes; q += 32) {
                const lo = f32x4.add(v128.load(d + q), v128.load(s + q));
                const hi = f32x4.add(v128.load(d + q, 16), v128.load(s + q, 16));
                v128.store(d + q, lo);
                v128.store(d + q, hi, 16);
              }
              s += oWBytes;
              d += dStep;
            }
          } else {
            for (let oh = ohStart; oh < ohEnd; oh++) {
              for (let q: usize = 0; q < oWBytes; q += 16) v128.store(d + q, f32x4.add(v128.load(d + q), v128.load(s + q)));
              s += oWBytes;
              d += dStep;
            }
          }
          src += rowBytes;
          continue;
        }
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const d = base + (<usize>((oh * sH + hShift) * W + wShift) << 2);
          if (sW == 1) {
            addRun(d + (<usize>owStart << 2), s + (<usize>owStart << 2), owEnd - owStart);
          } else {
            for (let ow = owStart; ow < owEnd; ow++) {
              const at = d + (<usize>(ow * sW) << 2);
              store<f32>(at, load<f32>(at) + load<f32>(s + (<usize>ow << 2)));
            }
          }
          s += oWBytes;
        }
        src += rowBytes;
      }
    }
  }
}

/** x[0..count) = max(x, 0). */
function reluInPlace(x: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let q = 0;
  for (; q + 4 <= count; q += 4) v128.store(x + (<usize>q << 2), f32x4.max(v128.load(x + (<usize>q << 2)), zero));
  for (; q < count; q++) store<f32>(x + (<usize>q << 2), max(load<f32>(x + (<usize>q << 2)), 0));
}

/**
 * out[count, outC, oH, oW] = W ⊛ x (+ bias) (then max(·, 0) when `relu`) for `count` images at `x`.
 * Images go `chunk` at a time: per chunk and group, im2col puts them side by side in `cols`
 * [C/g·kH·kW, chunk·oH·oW] and one GEMM reads it in place. A chunk of one image is written straight
 * into `out`; a wider one goes through `y` [outC/g, chunk·oH·oW]. `bias` 0 means none. `work` is the
 * GEMM's scratch, at least workBytes(outC/g, chunk·oH·oW, C/g·kH·kW) bytes; `cols` must be followed
 * by 32 readable bytes (the GEMM may read a row's tail past its end). With `pool`, each chunk's
 * convolution goes to `conv` [chunk, outC, oH, oW] instead, and `out` receives maxPool2x2(relu(·))
 * [count, outC, oH/2, oW/2] (see reluMaxPool2x2), with the arg-max indices at `argmax` unless it is 0.
 */
export function conv2dForward(
  geo: usize, count: i32, x: usize, w: usize, bias: usize, out: usize,
  chunk: i32, relu: bool, cols: usize, y: usize, work: usize, pool: bool, conv: usize, argmax: usize,
): void {
  const g = changetype<Geometry>(geo);
  const O = g.outChannels, G = g.groups;
  const cg = g.inChannels / G;
  const og = O / G;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const groupPlanes = cg * g.inHeight * g.inWidth;
  const pooledImage = O * (g.outHeight >> 1) * (g.outWidth >> 1);
  if (directFits(g, taps * chunk * outPlane)) {
    // cols holds the weights repacked for conv2dDirect, then its tap offsets; `conv` (pooling) one image's convolution output.
    packDirectWeights(w, O, taps, cols);
    const offsets = cols + (<usize>(O * taps) << 2);
    writeTapOffsets(g, offsets);
    for (let n = 0; n < count; n++) {
      if (pool && argmax == 0) {
        // Inference: ReLU and pooling on the accumulators, a row of the convolution at a time in `conv`.
        conv2dDirect(geo, x + (<usize>(n * inImage) << 2), cols, offsets, bias, conv, out + (<usize>(n * pooledImage) << 2));
        continue;
      }
      const dst = pool ? conv : out + (<usize>(n * O * outPlane) << 2);
      conv2dDirect(geo, x + (<usize>(n * inImage) << 2), cols, offsets, bias, dst, 0);
      if (pool) {
        const at = <usize>(n * pooledImage) << 2;
        reluMaxPool2x2(conv, O, g.outHeight, g.outWidth, out + at, argmax == 0 ? 0 : argmax + at);
      } else if (relu) {
        reluInPlace(dst, O * outPlane);
      }
    }
    return;
  }
  for (let n0 = 0; n0 < count; n0 += chunk) {
    const nb = min(chunk, count - n0);
    const width = nb * outPlane;
    // Where image n0 + i of this chunk has its convolution output: at i·outC·oH·oW from `dst0`.
    const dst0 = pool ? conv : out + (<usize>(n0 * O * outPlane) << 2);
    for (let grp = 0; grp < G; grp++) {
      for (let i = 0; i < nb; i++) {
        im2col(geo, x + (<usize>((n0 + i) * inImage + grp * groupPlanes) << 2), cg, cols + (<usize>(i * outPlane) << 2), width);
      }
      const weights = w + (<usize>(grp * og * taps) << 2);
      if (nb == 1) {
        const dst = dst0 + (<usize>(grp * og * outPlane) << 2);
        if (bias != 0) {
          for (let o = 0; o < og; o++) {
            const v = f32x4.splat(load<f32>(bias + (<usize>(grp * og + o) << 2)));
            const row = dst + (<usize>(o * outPlane) << 2);
            let q = 0;
            for (; q + 4 <= outPlane; q += 4) v128.store(row + (<usize>q << 2), v);
            for (; q < outPlane; q++) store<f32>(row + (<usize>q << 2), f32x4.extract_lane(v, 0));
          }
        }
        gemmRows(0, og, outPlane, taps, weights, taps, false, cols, width, false, dst, outPlane, bias != 0, work);
        continue;
      }
      gemmRows(0, og, width, taps, weights, taps, false, cols, width, false, y, width, false, work);
      for (let o = 0; o < og; o++) {
        const shift = f32x4.splat(bias == 0 ? 0 : load<f32>(bias + (<usize>(grp * og + o) << 2)));
        for (let i = 0; i < nb; i++) {
          const src = y + (<usize>(o * width + i * outPlane) << 2);
          const dst = dst0 + (<usize>((i * O + grp * og + o) * outPlane) << 2);
          let q = 0;
          for (; q + 4 <= outPlane; q += 4) v128.store(dst + (<usize>q << 2), f32x4.add(v128.load(src + (<usize>q << 2)), shift));
          for (; q < outPlane; q++) store<f32>(dst + (<usize>q << 2), load<f32>(src + (<usize>q << 2)) + f32x4.extract_lane(shift, 0));
        }
      }
    }
    if (pool) {
      for (let i = 0; i < nb; i++) {
        const at = <usize>((n0 + i) * pooledImage) << 2;
        reluMaxPool2x2(conv + (<usize>(i * O * outPlane) << 2), O, g.outHeight, g.outWidth, out + at, argmax == 0 ? 0 : argmax + at);
      }
    } else if (relu) {
      reluInPlace(dst0, nb * O * outPlane);
    }
  }
}

/** Taps (C/g·kH·kW) up to which conv2dDirect runs instead of im2col + GEMM (bench-conv.mjs decides). */
const DIRECT_MAX_TAPS = 1 << 30;

/**
 * Whether conv2dDirect computes this convolution: one group, unit stride and dilation, no padding,
 * output channels in blocks of 4 and output rows in blocks of 8, and room for the repacked weights
 * and the tap offsets in `room` floats.
 */
function directFits(g: Geometry, room: i32): bool {
  const taps = g.inChannels * g.kernelHeight * g.kernelWidth;
  return g.groups == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 &&
    g.padHeight == 0 && g.padWidth == 0 && (g.outChannels & 3) == 0 && (g.outWidth & 7) == 0 &&
    taps <= DIRECT_MAX_TAPS && (g.outChannels + 1) * taps <= room;
}

/** w [O, taps] -> dst [O/4, taps, 4]: the 4 weights one tap applies to a block of 4 output channels, side by side. */
function packDirectWeights(w: usize, O: i32, taps: i32, dst: usize): void {
  let d = dst;
  for (let ob = 0; ob < O; ob += 4) {
    const src = w + (<usize>(ob * taps) << 2);
    const step = <usize>taps << 2;
    for (let p = 0; p < taps; p++) {
      const at = src + (<usize>p << 2);
      store<f32>(d, load<f32>(at));
      store<f32>(d, load<f32>(at + step), 4);
      store<f32>(d, load<f32>(at + 2 * step), 8);
      store<f32>(d, load<f32>(at + 3 * step), 12);
      d += 16;
    }
  }
}

/** Byte offset of every tap (c, ki, kj), in packDirectWeights' order, from its window's top-left pixel: i32 at `dst`. */
function writeTapOffsets(g: Geometry, dst: usize): void {
  const H = g.inHeight, W = g.inWidth;
  for (let c = 0; c < g.inChannels; c++) {
    for (let ki = 0; ki < g.kernelHeight; ki++) {
      for (let kj = 0; kj < g.kernelWidth; kj++) {
        store<i32>(dst, ((c * H + ki) * W + kj) << 2);
        dst += 4;
      }
    }
  }
}

/**
 * out[O, oH, oW] = W ⊛ x (+ bias) for one image without im2col (a geometry directFits accepts),
 * `packed` the weights of packDirectWeights and `offsets` those of writeTapOffsets: 4 output channels ×
 * 8 output columns in 8 vector accumulators, as the GEMM's 4×8 micro-kernel, each tap two loads of 4
 * pixels and 4 broadcast weights. One flat loop over the taps (not one per channel and kernel row)
 * keeps the loop overhead off kernels as narrow as 5×5.
 * With `pooled` (not 0), `out` only keeps the even rows of a channel block and `pooled` receives
 * reluMaxPool2x2's output [O, oH/2, oW/2] (same values, same window order; no arg-max).
 */
function conv2dDirect(geo: usize, x: usize, packed: usize, offsets: usize, bias: usize, out: usize, pooled: usize): void {
  const g = changetype<Geometry>(geo);
  const W = g.inWidth;
  const O = g.outChannels, oH = g.outHeight, oW = g.outWidth;
  const taps = g.inChannels * g.kernelHeight * g.kernelWidth;
  const planeBytes = <usize>(oH * oW) << 2;
  const offsetsEnd = offsets + (<usize>taps << 2);
  for (let ob = 0; ob < O; ob += 4) {
    const wBlock = packed + (<usize>(ob * taps) << 2);
    const b0 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (<usize>ob << 2));
    const b1 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (<usize>ob << 2), 4);
    const b2 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (<usize>ob << 2), 8);
    const b3 = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (<usize>ob << 2), 12);
    const dstBlock = out + <usize>ob * planeBytes;
    const rows = pooled == 0 ? oH : oH & ~1;
    for (let oh = 0; oh < rows; oh++) {
      for (let ow = 0; ow < oW; ow += 8) {
        let a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
        let wp = wBlock;
        const window = x + (<usize>(oh * W + ow) << 2);
        for (let at = offsets; at < offsetsEnd; at += 4) {
          const p = window + <usize>load<i32>(at);
          const lo = v128.load(p);
          const hi = v128.load(p, 16);
          const w0 = v128.load32_splat(wp);
          const w1 = v128.load32_splat(wp, 4);
          const w2 = v128.load32_splat(wp, 8);
          const w3 = v128.load32_splat(wp, 12);
          a0 = f32x4.add(a0, f32x4.mul(lo, w0));
          c0 = f32x4.add(c0, f32x4.mul(hi, w0));
          a1 = f32x4.add(a1, f32x4.mul(lo, w1));
          c1 = f32x4.add(c1, f32x4.mul(hi, w1));
          a2 = f32x4.add(a2, f32x4.mul(lo, w2));
          c2 = f32x4.add(c2, f32x4.mul(hi, w2));
          a3 = f32x4.add(a3, f32x4.mul(lo, w3));
          c3 = f32x4.add(c3, f32x4.mul(hi, w3));
          wp += 16;
        }
        if (pooled != 0 && (oh & 1) != 0) {
          // The 2×2 windows of rows oh − 1 (kept in `out`) and oh, 4 per channel, maxima as reluMaxPool2x2 takes them.
          const pW = oW >> 1;
          const r = out + (<usize>ow << 2);
          const pAt = pooled + (<usize>((ob * (oH >> 1) + (oh >> 1)) * pW + (ow >> 1)) << 2);
          const pPlane = <usize>((oH >> 1) * pW) << 2;
          const rPlane = <usize>oW << 2;
          v128.store(pAt, poolWindows(v128.load(r), v128.load(r, 16), a0, c0));
          v128.store(pAt + pPlane, poolWindows(v128.load(r + rPlane), v128.load(r + rPlane, 16), a1, c1));
          v128.store(pAt + 2 * pPlane, poolWindows(v128.load(r + 2 * rPlane), v128.load(r + 2 * rPlane, 16), a2, c2));
          v128.store(pAt + 3 * pPlane, poolWindows(v128.load(r + 3 * rPlane), v128.load(r + 3 * rPlane, 16), a3, c3));
          continue;
        }
        if (pooled != 0) {
          // An even row: kept for the next one, [4, oW] from `out`.
          const d = out + (<usize>ow << 2);
          const rPlane = <usize>oW << 2;
          v128.store(d, a0);
          v128.store(d, c0, 16);
          v128.store(d + rPlane, a1);
          v128.store(d + rPlane, c1, 16);
          v128.store(d + 2 * rPlane, a2);
          v128.store(d + 2 * rPlane, c2, 16);
          v128.store(d + 3 * rPlane, a3);
          v128.store(d + 3 * rPlane, c3, 16);
          continue;
        }
        const d = dstBlock + (<usize>(oh * oW + ow) << 2);
        v128.store(d, a0);
        v128.store(d, c0, 16);
        v128.store(d + planeBytes, a1);
        v128.store(d + planeBytes, c1, 16);
        v128.store(d + 2 * planeBytes, a2);
        v128.store(d + 2 * planeBytes, c2, 16);
        v128.store(d + 3 * planeBytes, a3);
        v128.store(d + 3 * planeBytes, c3, 16);
      }
    }
  }
}

/**
 * max(0, each of the 4 windows over columns 0..7 of an upper row (u0, u1) and a lower row (l0, l1)),
 * scanning each window row by row and keeping the first value strictly above the best so far, as
 * reluMaxPool2x2 does (pmax keeps its first operand unless that is below the second, so a NaN never wins).
 */
// @ts-ignore: decorator
@inline
function poolWindows(u0: v128, u1: v128, l0: v128, l1: v128): v128 {
  let best = f32x4.pmax(f32x4.splat(0), v128.shuffle<f32>(u0, u1, 0, 2, 4, 6));
  best = f32x4.pmax(best, v128.shuffle<f32>(u0, u1, 1, 3, 5, 7));
  best = f32x4.pmax(best, v128.shuffle<f32>(l0, l1, 0, 2, 4, 6));
  return f32x4.pmax(best, v128.shuffle<f32>(l0, l1, 1, 3, 5, 7));
}

/**
 * out[c, i, j] = max(0, the 2×2 window at (2i, 2j) of src [channels, H, W]) for i < H/2, j < W/2
 * (floor); argmax (unless 0) gets the index into src of the window's first strictly positive maximum,
 * scanning row by row, or −1 when nothing in the window is > 0 (no gradient flows there).
 */
function reluMaxPool2x2(src: usize, channels: i32, H: i32, W: i32, out: usize, argmax: usize): void {
  const pH = H >> 1, pW = W >> 1;
  const rowBytes = <usize>W << 2;
  const zero = f32x4.splat(0);
  const none = i32x4.splat(-1);
  const lanes = i32x4(0, 2, 4, 6);
  let o: usize = 0;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < pH; i++) {
      let at = c * H * W + 2 * i * W;
      let j = 0;
      // Four windows at a time, without branches (the signs of a convolution output are unpredictable).
      for (; j + 4 <= pW; j += 4) {
        const p0 = src + (<usize>at << 2);
        const p1 = p0 + rowBytes;
        const r0a = v128.load(p0), r0b = v128.load(p0, 16);
        const r1a = v128.load(p1), r1b = v128.load(p1, 16);
        const a = v128.shuffle<f32>(r0a, r0b, 0, 2, 4, 6);
        const b = v128.shuffle<f32>(r0a, r0b, 1, 3, 5, 7);
        const d = v128.shuffle<f32>(r1a, r1b, 0, 2, 4, 6);
        const e = v128.shuffle<f32>(r1a, r1b, 1, 3, 5, 7);
        const base = i32x4.add(i32x4.splat(at), lanes);
        let best = zero;
        let index = none;
        let m = f32x4.gt(a, best);
        best = v128.bitselect(a, best, m);
        index = v128.bitselect(base, index, m);
        m = f32x4.gt(b, best);
        best = v128.bitselect(b, best, m);
        index = v128.bitselect(i32x4.add(base, i32x4.splat(1)), index, m);
        m = f32x4.gt(d, best);
        best = v128.bitselect(d, best, m);
        index = v128.bitselect(i32x4.add(base, i32x4.splat(W)), index, m);
        m = f32x4.gt(e, best);
        best = v128.bitselect(e, best, m);
        index = v128.bitselect(i32x4.add(base, i32x4.splat(W + 1)), index, m);
        v128.store(out + (o << 2), best);
        if (argmax != 0) v128.store(argmax + (o << 2), index);
        o += 4;
        at += 8;
      }
      for (; j < pW; j++) {
        let best: f32 = 0;
        let index = -1;
        let v = load<f32>(src + (<usize>at << 2));
        if (v > best) { best = v; index = at; }
        v = load<f32>(src + (<usize>(at + 1) << 2));
        if (v > best) { best = v; index = at + 1; }
        v = load<f32>(src + (<usize>(at + W) << 2));
        if (v > best) { best = v; index = at + W; }
        v = load<f32>(src + (<usize>(at + W + 1) << 2));
        if (v > best) { best = v; index = at + W + 1; }
        store<f32>(out + (o << 2), best);
        if (argmax != 0) store<i32>(argmax + (o << 2), index);
        o++;
        at += 2;
      }
    }
  }
}

/**
 * Gradients of Σ out · gy for `count` images: gx (count images, zero-filled by the caller) += col2im(W_gᵀ · G),
 * gw += Σ cols · Gᵀ, the weight gradient transposed per group ([groups, C/g·kH·kW, outC/g]: packing
 * the few rows of G costs far less than packing the columns), gb += Σ G; each pointer 0 when not wanted. Chunks as in conv2dForward; the
 * columns are recomputed from x (cheaper than keeping them). A chunk's output gradient is gathered
 * into `gbuf` [outC, chunk·oH·oW] unless it is one image. `dcols` holds W_gᵀ · G [C/g·kH·kW, chunk·oH·oW].
 * `cols` and `gy` must be followed by 32 readable bytes. With `argmax` (not 0), `gy` is instead the
 * gradient of conv2dForward's pooled output [count, outC, oH/2, oW/2] and `argmax` its arg-max indices:
 * each entry goes to the convolution output it came from (none for an index outside the image's
 * [outC, oH, oW], such as −1), gathered in `gbuf`.
 */
export function conv2dBackward(
  geo: usize, count: i32, x: usize, w: usize, gy: usize, gx: usize, gw: usize, gb: usize,
  chunk: i32, cols: usize, dcols: usize, gbuf: usize, work: usize, argmax: usize,
): void {
  const g = changetype<Geometry>(geo);
  const O = g.outChannels, G = g.groups;
  const cg = g.inChannels / G;
  const og = O / G;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const groupPlanes = cg * g.inHeight * g.inWidth;
  for (let n0 = 0; n0 < count; n0 += chunk) {
    const nb = min(chunk, count - n0);
    const width = nb * outPlane;
    let grad: usize;
    if (argmax != 0) {
      grad = gbuf;
      memory.fill(gbuf, 0, <usize>(O * width) << 2);
      const pooledPlane = (g.outHeight >> 1) * (g.outWidth >> 1);
      // Entries without a target land on a spare float just past gbuf (in its readable tail), without a branch.
      const spare = gbuf + (<usize>(O * width) << 2);
      const limit = <u32>(O * outPlane);
      for (let i = 0; i < nb; i++) {
        for (let o = 0; o < O; o++) {
          const from = <usize>(((n0 + i) * O + o) * pooledPlane) << 2;
          const row = gbuf + (<usize>(o * width + i * outPlane - o * outPlane) << 2);
          for (let q = 0; q < pooledPlane; q++) {
            const index = load<i32>(argmax + from + (<usize>q << 2));
            const at = select<usize>(row + (<usize>index << 2), spare, <u32>index < limit);
            store<f32>(at, load<f32>(at) + load<f32>(gy + from + (<usize>q << 2)));
          }
        }
      }
    } else if (nb == 1) {
      grad = gy + (<usize>(n0 * O * outPlane) << 2);
    } else {
      grad = gbuf;
      for (let i = 0; i < nb; i++) {
        for (let o = 0; o < O; o++) {
          copyRun(gbuf + (<usize>(o * width + i * outPlane) << 2), gy + (<usize>(((n0 + i) * O + o) * outPlane) << 2), outPlane);
        }
      }
    }
    if (gb != 0) {
      for (let o = 0; o < O; o++) {
        const row = grad + (<usize>(o * width) << 2);
        let acc = f32x4.splat(0);
        let q = 0;
        for (; q + 4 <= width; q += 4) acc = f32x4.add(acc, v128.load(row + (<usize>q << 2)));
        let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
        for (; q < width; q++) s += load<f32>(row + (<usize>q << 2));
        const at = gb + (<usize>o << 2);
        store<f32>(at, load<f32>(at) + s);
      }
    }
    for (let grp = 0; grp < G; grp++) {
      const gradRows = grad + (<usize>(grp * og * width) << 2);
      const weights = w + (<usize>(grp * og * taps) << 2);
      if (gw != 0) {
        for (let i = 0; i < nb; i++) {
          im2col(geo, x + (<usize>((n0 + i) * inImage + grp * groupPlanes) << 2), cg, cols + (<usize>(i * outPlane) << 2), width);
        }
        gemmRows(0, taps, og, width, cols, width, false, gradRows, width, true, gw + (<usize>(grp * taps * og) << 2), og, true, work);
      }
      if (gx != 0) {
        gemmRows(0, taps, width, og, weights, taps, true, gradRows, width, false, dcols, width, false, work);
        for (let i = 0; i < nb; i++) {
          col2im(geo, dcols + (<usize>(i * outPlane) << 2), width, cg, gx + (<usize>((n0 + i) * inImage + grp * groupPlanes) << 2));
        }
      }
    }
  }
}
