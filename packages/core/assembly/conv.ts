// f32 2-D convolution (NCHW, PyTorch's cross-correlation) for @pico/core in WebAssembly SIMD: im2col
// into this module's memory and the GEMM of gemm.ts reading those columns in place, so the column
// matrix never leaves the module. The loader copies images, weights and gradients in and results out.
// Pointers are byte addresses; the geometry is a block of 16 i32 at `geo` (see Geometry).
import { gemmRows } from "./gemm";
import { conv2dDepthwise, conv2dDepthwiseBackward, depthwiseFits } from "./depthwise";
import { Geometry } from "./geometry";
import { madd } from "./simd";
import {
  conv2dWinograd3x3, conv2dWinograd3x3WeightGrad, sumPlanes, winograd3x3FlippedWeights, winograd3x3Fits, winograd3x3PoolFits, winograd3x3ScratchBytes,
  winograd3x3WeightGradScratchBytes, winograd3x3Weights, winograd3x3WeightsRange,
} from "./winograd3x3";
export { winograd3x3WeightsBackwardScratchBytes, winograd3x3WeightsScratchBytes } from "./winograd3x3";
import { inputTransform } from "./winograd-transforms";

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

/**
 * Whether any of the `count` floats at `p` is NaN or ±infinity (all exponent bits set). The loader asks
 * before a Winograd way, whose tile transforms would spread such a value over a whole tile.
 */
export function anyNonFinite(p: usize, count: i32): bool {
  const mask = i32x4.splat(0x7f800000);
  let hit = i32x4.splat(0);
  let q = 0;
  for (; q + 16 <= count; q += 16) {
    const at = p + (<usize>q << 2);
    const a = i32x4.eq(v128.and(v128.load(at), mask), mask), b = i32x4.eq(v128.and(v128.load(at, 16), mask), mask);
    const c = i32x4.eq(v128.and(v128.load(at, 32), mask), mask), d = i32x4.eq(v128.and(v128.load(at, 48), mask), mask);
    hit = v128.or(hit, v128.or(v128.or(a, b), v128.or(c, d)));
  }
  for (; q + 4 <= count; q += 4) hit = v128.or(hit, i32x4.eq(v128.and(v128.load(p + (<usize>q << 2)), mask), mask));
  let any = v128.any_true(hit);
  for (; q < count; q++) any = any || (load<u32>(p + (<usize>q << 2)) & 0x7f800000) == 0x7f800000;
  return any;
}

/** A 1×1 kernel with unit stride and no padding: its im2col columns are the input planes themselves. */
function isPointwise(g: Geometry): bool {
  return g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.padHeight == 0 && g.padWidth == 0;
}

/** x[0..count) = relu(x) as PyTorch's, `v < 0 ? 0 : v` (NaN stays NaN; pmax(a, b) is `a < b ? b : a`). */
function reluInPlace(x: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let q = 0;
  for (; q + 4 <= count; q += 4) v128.store(x + (<usize>q << 2), f32x4.pmax(v128.load(x + (<usize>q << 2)), zero));
  for (; q < count; q++) {
    const v = load<f32>(x + (<usize>q << 2));
    store<f32>(x + (<usize>q << 2), v < 0 ? 0 : v);
  }
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
 * Geometries directFits accepts go through conv2dDirect instead, and with pooling but no arg-max,
 * those winogradFits accepts through conv2dWinogradPool (float32 rounding differs from the direct sum
 * by a few 1e-6 relative; `cols` must then hold winogradScratchFloats(C, outC) floats and `x` be
 * followed by 4 readable bytes), and 3×3 ones with whole 4×4 output tiles through conv2dWinograd3x3,
 * which pools each tile itself. Both read their weights from `prepared`, prepareForward's output for
 * the same geometry and choices, made once for all the calls of a batch.
 */
export function conv2dForward(
  geo: usize, count: i32, x: usize, w: usize, prepared: usize, bias: usize, out: usize,
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
  const path = forwardPath(g, pool, argmax != 0);
  const pointwise = isPointwise(g);
  if (path == DEPTHWISE) {
    conv2dDepthwise(geo, count, x, w, bias, out, relu);
    return;
  }
  if (path == WINOGRAD3) {
    if (anyNonFinite(x, count * inImage)) {
      store<i32>(geo + NON_FINITE_FLAG, 1);
      return;
    }
    // `chunk` images per batch of tiles, `cols` their scratch (winograd3x3ScratchBytes); pooling implies the ReLU.
    conv2dWinograd3x3(geo, count, x, prepared, bias, out, relu || pool, chunk, cols, pool);
    return;
  }
  if (path == WINOGRAD) {
    for (let n = 0; n < count; n++) {
      conv2dWinogradPool(geo, x + (<usize>(n * inImage) << 2), prepared, bias, out + (<usize>(n * pooledImage) << 2), cols);
    }
    return;
  }
  if (path == DIRECT) {
    // `conv` (pooling) holds one image's convolution output; `cols`, a padded geometry's padded image.
    const offsets = prepared + (<usize>(O * taps) << 2);
    const padded = g.padHeight != 0 || g.padWidth != 0;
    for (let n = 0; n < count; n++) {
      let image = x + (<usize>(n * inImage) << 2);
      if (padded) {
        padImage(g, image, cols);
        image = cols;
      }
      if (pool && argmax == 0) {
        // Inference: ReLU and pooling on the accumulators, a row of the convolution at a time in `conv`.
        conv2dDirect(geo, image, prepared, offsets, bias, conv, out + (<usize>(n * pooledImage) << 2));
        continue;
      }
      const dst = pool ? conv : out + (<usize>(n * O * outPlane) << 2);
      conv2dDirect(geo, image, prepared, offsets, bias, dst, 0);
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
      // A 1×1 kernel with unit stride and no padding reads one image's planes as its columns: no im2col.
      const planes = pointwise && nb == 1;
      const colsOf = planes ? x + (<usize>(n0 * inImage + grp * groupPlanes) << 2) : cols;
      for (let i = 0; i < nb && !planes; i++) {
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
        gemmRows(0, og, outPlane, taps, weights, taps, false, colsOf, width, false, dst, outPlane, bias != 0, work);
        continue;
      }
      gemmRows(0, og, width, taps, weights, taps, false, colsOf, width, false, y, width, false, work);
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

/** conv2dForward's ways: im2col + GEMM, conv2dDirect, conv2dWinogradPool (5×5), conv2dWinograd3x3, conv2dDepthwise. */
const IM2COL: i32 = 0;
const DIRECT: i32 = 1;
const WINOGRAD: i32 = 2;
const WINOGRAD3: i32 = 3;
const DEPTHWISE: i32 = 4;

/**
 * Channels from which F(4×4, 3×3) pays against im2col + GEMM (both input and output channels: the
 * transforms cost per channel, the products they save per channel pair).
 */
const WINOGRAD3_MIN_CHANNELS: i32 = 16;

/** Which way conv2dForward computes this geometry, pooling or not, with arg-max or not. */
function forwardPath(g: Geometry, pool: bool, withArgmax: bool): i32 {
  if (pool && !withArgmax && winogradFits(g)) return WINOGRAD;
  if (!pool && depthwiseFits(g)) return DEPTHWISE;
  const winograd3 = g.inChannels >= WINOGRAD3_MIN_CHANNELS && g.outChannels >= WINOGRAD3_MIN_CHANNELS;
  if (!pool && winograd3 && winograd3x3Fits(changetype<usize>(g))) return WINOGRAD3;
  // Pooling at inference (no arg-max): F(4×4, 3×3) pools each whole tile before it is stored.
  if (pool && !withArgmax && winograd3 && winograd3x3PoolFits(changetype<usize>(g))) return WINOGRAD3;
  return directFits(g) ? DIRECT : IM2COL;
}

/**
 * conv2dBackward's way: a geometry conv2dForward computes by F(4×4, 3×3) goes by Winograd too (without
 * arg-max): the weight and bias gradients by conv2dWinograd3x3WeightGrad, the input gradient (where
 * the padding is at most 2, so that it is a padded convolution too) by conv2dWinograd3x3 on the output
 * gradient with the flipped weights. Depthwise geometries by conv2dDepthwiseBackward; anything else
 * by im2col + GEMM.
 */
function backwardPath(g: Geometry, wantGx: bool, withArgmax: bool): i32 {
  if (withArgmax) return IM2COL;
  if (depthwiseFits(g)) return DEPTHWISE;
  if (forwardPath(g, false, false) != WINOGRAD3) return IM2COL;
  return !wantGx || (g.padHeight <= 2 && g.padWidth <= 2) ? WINOGRAD3 : IM2COL;
}

/** conv2dBackward's way for this geometry (see backwardPath): the loader passes it to every call. */
export function backwardPathOf(geo: usize, wantGx: bool, withArgmax: bool): i32 {
  return backwardPath(changetype<Geometry>(geo), wantGx, withArgmax);
}

/**
 * The geometry of the convolution whose output is the input gradient of `geo` (a stride-1 one with
 * padding at most kernel − 1): on the output gradient, with the flipped, transposed weights and
 * padding kernel − 1 − padding. 16 i32 at `dst`.
 */
function inputGradientGeometry(geo: usize, dst: usize): void {
  memory.copy(dst, geo, 64);
  const g = changetype<Geometry>(geo), t = changetype<Geometry>(dst);
  t.inChannels = g.outChannels;
  t.outChannels = g.inChannels;
  t.inHeight = g.outHeight;
  t.inWidth = g.outWidth;
  t.outHeight = g.inHeight;
  t.outWidth = g.inWidth;
  t.padHeight = g.kernelHeight - 1 - g.padHeight;
  t.padWidth = g.kernelWidth - 1 - g.padWidth;
}

/** Bytes before a Winograd backward call's scratch proper: the input gradient's geometry. */
const GEOMETRY_BYTES: i32 = 64;

/**
 * Where, after the 16 fields of a call's geometry block, a Winograd call (forward or backward) sets 1 when
 * its own input holds a NaN or an infinity, and then computes nothing: each thread checks the images it
 * claimed, in cache, instead of the calling thread checking them all. The loader zeroes it before the calls.
 */
const NON_FINITE_FLAG: usize = 64;

/** The input gradient's geometry while the calling thread sizes scratch (workers never call winograd3x3BackwardScratchBytes). */
const TRANSPOSED = memory.data(GEOMETRY_BYTES, 16);

/**
 * Bytes of `cols` a conv2dBackward call of the Winograd way needs for `images` images per batch of
 * tiles, for the gradients wanted.
 */
export function winograd3x3BackwardScratchBytes(geo: usize, images: i32, wantGx: bool, wantGw: bool): i32 {
  let bytes = wantGw ? winograd3x3WeightGradScratchBytes(geo, images) : 0;
  if (wantGx) {
    inputGradientGeometry(geo, TRANSPOSED);
    bytes = max(bytes, winograd3x3ScratchBytes(TRANSPOSED, images));
  }
  return bytes + GEOMETRY_BYTES;
}

/** Floats prepareBackward writes for this geometry: the transformed flipped weights of the Winograd way's input gradient, else none. */
export function preparedBackwardFloats(geo: usize, wantGx: bool): i32 {
  const g = changetype<Geometry>(geo);
  return wantGx && backwardPath(g, true, false) == WINOGRAD3 ? 36 * g.outChannels * g.inChannels : 0;
}

/**
 * What conv2dBackward's Winograd way reads as its weights `w` for the input gradient
 * (preparedBackwardFloats floats at `dst`): the weights w [O, C, 3, 3] flipped, transposed and transformed.
 */
export function prepareBackward(geo: usize, w: usize, dst: usize): void {
  const g = changetype<Geometry>(geo);
  winograd3x3FlippedWeights(w, g.inChannels, g.outChannels, dst);
}

/**
 * Part of the F(4×4, 3×3) weights prepareForward (or, `backward`, prepareBackward) writes for this
 * geometry: the prepared weights' output channels [o0, o1) (the convolution's output channels forward,
 * its input channels backward), in winograd3x3WeightsScratchBytes() bytes of `scratch` of its own, so
 * that the threads split the transform.
 */
export function prepareWinograd3x3(geo: usize, w: usize, dst: usize, backward: bool, o0: i32, o1: i32, scratch: usize): void {
  const g = changetype<Geometry>(geo);
  if (backward) winograd3x3WeightsRange(w, g.inChannels, g.outChannels, true, dst, o0, o1, scratch);
  else winograd3x3WeightsRange(w, g.outChannels, g.inChannels, false, dst, o0, o1, scratch);
}

/**
 * The weight gradient [outC, C/g·kH·kW] for output channels [o0, o1) at `dst`: the sum of `regions`
 * of conv2dBackward's im2col sums (each [groups, C/g·kH·kW, outC/g], transposed), `regionBytes` apart
 * from `sums`, added in their order.
 */
export function im2colWeightGradFinish(geo: usize, sums: usize, regions: i32, regionBytes: usize, o0: i32, o1: i32, dst: usize): void {
  const g = changetype<Geometry>(geo);
  const og = g.outChannels / g.groups;
  const taps = g.inChannels / g.groups * g.kernelHeight * g.kernelWidth;
  const tapsBytes = <usize>taps << 2;
  let o = o0;
  while (o < o1) {
    const grp = o / og, first = o % og;
    // Four output channels of one group at a time: neighbours in a row of the transposed sums.
    const lanes = min(4, min(og - first, o1 - o));
    const from = sums + (<usize>(grp * taps * og + first) << 2);
    const to = dst + (<usize>(o * taps) << 2);
    for (let p = 0; p < taps; p++) {
      const at = from + (<usize>(p * og) << 2);
      if (lanes == 4) {
        let v = v128.load(at);
        for (let r = 1; r < regions; r++) v = f32x4.add(v, v128.load(at + <usize>r * regionBytes));
        const q = to + (<usize>p << 2);
        store<f32>(q, f32x4.extract_lane(v, 0));
        store<f32>(q + tapsBytes, f32x4.extract_lane(v, 1));
        store<f32>(q + 2 * tapsBytes, f32x4.extract_lane(v, 2));
        store<f32>(q + 3 * tapsBytes, f32x4.extract_lane(v, 3));
      } else {
        for (let j = 0; j < lanes; j++) {
          let s = load<f32>(at + (<usize>j << 2));
          for (let r = 1; r < regions; r++) s += load<f32>(at + <usize>r * regionBytes + (<usize>j << 2));
          store<f32>(to + <usize>j * tapsBytes + (<usize>p << 2), s);
        }
      }
    }
    o += lanes;
  }
}

/** dst[0..count) = Σ_r src_r[0..count) for `regions` blocks `regionBytes` apart from `src`, added in their order. */
export function sumRegions(src: usize, regions: i32, regionBytes: usize, count: i32, dst: usize): void {
  let q = 0;
  for (; q + 4 <= count; q += 4) {
    const at = src + (<usize>q << 2);
    let v = v128.load(at);
    for (let r = 1; r < regions; r++) v = f32x4.add(v, v128.load(at + <usize>r * regionBytes));
    v128.store(dst + (<usize>q << 2), v);
  }
  for (; q < count; q++) {
    const at = src + (<usize>q << 2);
    let s = load<f32>(at);
    for (let r = 1; r < regions; r++) s += load<f32>(at + <usize>r * regionBytes);
    store<f32>(dst + (<usize>q << 2), s);
  }
}

/** conv2dForward's way for this geometry (see forwardPath): the loader sizes its scratch and chunks by it. */
export function forwardPathOf(geo: usize, pool: bool, withArgmax: bool): i32 {
  return forwardPath(changetype<Geometry>(geo), pool, withArgmax);
}

/** Floats prepareForward writes for this geometry and these choices (0 for im2col + GEMM, which reads the weights as they are). */
export function preparedFloats(geo: usize, pool: bool, withArgmax: bool): i32 {
  const g = changetype<Geometry>(geo);
  const taps = g.inChannels / g.groups * g.kernelHeight * g.kernelWidth;
  const path = forwardPath(g, pool, withArgmax);
  if (path == WINOGRAD || path == WINOGRAD3) return 36 * g.outChannels * g.inChannels;
  return path == DIRECT ? (g.outChannels + 1) * taps : 0;
}

/**
 * The weights w [outC, C/g, kH, kW] as conv2dForward's way for this geometry reads them, at `dst`
 * (preparedFloats floats): transformed for conv2dWinogradPool, or repacked for conv2dDirect and
 * followed by its tap offsets.
 */
export function prepareForward(geo: usize, w: usize, pool: bool, withArgmax: bool, dst: usize): void {
  const g = changetype<Geometry>(geo);
  const O = g.outChannels;
  const taps = g.inChannels / g.groups * g.kernelHeight * g.kernelWidth;
  const path = forwardPath(g, pool, withArgmax);
  if (path == WINOGRAD3) {
    winograd3x3Weights(w, O, g.inChannels, dst);
  } else if (path == WINOGRAD) {
    winogradWeights(w, O, g.inChannels, dst);
  } else if (path == DIRECT) {
    packDirectWeights(w, O, taps, dst);
    writeTapOffsets(g, dst + (<usize>(O * taps) << 2));
  }
}

/**
 * Whether conv2dDirect computes this convolution: one group, unit stride and dilation, output channels
 * in blocks of 4 and output rows in blocks of 8 (any padding: conv2dForward pads each image first, a
 * copy of C·(H + 2·pH)·(W + 2·pW) floats against the C·kH·kW·oH·oW of im2col's columns).
 */
function directFits(g: Geometry): bool {
  return g.groups == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 &&
    (g.outChannels & 3) == 0 && (g.outWidth & 7) == 0;
}

/**
 * One image x [C, H, W] with its zero padding at dst [C, H + 2·pH, W + 2·pW], the input conv2dDirect
 * reads for a padded geometry. Fits in im2col's columns for one image (kH·oH >= H + 2·pH at unit stride).
 */
function padImage(g: Geometry, x: usize, dst: usize): void {
  const C = g.inChannels, H = g.inHeight, W = g.inWidth, pH = g.padHeight, pW = g.padWidth;
  const Wp = W + 2 * pW;
  const plane = (H + 2 * pH) * Wp;
  memory.fill(dst, 0, <usize>(C * plane) << 2);
  for (let c = 0; c < C; c++) {
    let d = dst + (<usize>(c * plane + pH * Wp + pW) << 2);
    let s = x + (<usize>(c * H * W) << 2);
    for (let r = 0; r < H; r++) {
      copyRun(d, s, W);
      d += <usize>Wp << 2;
      s += <usize>W << 2;
    }
  }
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

/** Byte offset of every tap (c, ki, kj), in packDirectWeights' order, from its window's top-left pixel in the (padded) image: i32 at `dst`. */
function writeTapOffsets(g: Geometry, dst: usize): void {
  const H = g.inHeight + 2 * g.padHeight, W = g.inWidth + 2 * g.padWidth;
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
 * out[O, oH, oW] = W ⊛ x (+ bias) for one image x (padded by padImage where the geometry pads) without im2col (a geometry directFits accepts),
 * `packed` the weights of packDirectWeights and `offsets` those of writeTapOffsets: 4 output channels ×
 * 8 output columns in 8 vector accumulators, as the GEMM's 4×8 micro-kernel, each tap two loads of 4
 * pixels and 4 broadcast weights. One flat loop over the taps (not one per channel and kernel row)
 * keeps the loop overhead off kernels as narrow as 5×5.
 * With `pooled` (not 0), `out` only keeps the even rows of a channel block and `pooled` receives
 * reluMaxPool2x2's output [O, oH/2, oW/2] (same values, same window order; no arg-max).
 */
function conv2dDirect(geo: usize, x: usize, packed: usize, offsets: usize, bias: usize, out: usize, pooled: usize): void {
  const g = changetype<Geometry>(geo);
  const W = g.inWidth + 2 * g.padWidth;
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
          a0 = madd(lo, w0, a0);
          c0 = madd(hi, w0, c0);
          a1 = madd(lo, w1, a1);
          c1 = madd(hi, w1, c1);
          a2 = madd(lo, w2, a2);
          c2 = madd(hi, w2, c2);
          a3 = madd(lo, w3, a3);
          c3 = madd(hi, w3, c3);
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
        // Pooling, an even row waits in `out` [4, oW] for the next one; otherwise it goes to the channels' planes.
        const d = pooled != 0 ? out + (<usize>ow << 2) : dstBlock + (<usize>(oh * oW + ow) << 2);
        const step = pooled != 0 ? <usize>oW << 2 : planeBytes;
        v128.store(d, a0);
        v128.store(d, c0, 16);
        v128.store(d + step, a1);
        v128.store(d + step, c1, 16);
        v128.store(d + 2 * step, a2);
        v128.store(d + 2 * step, c2, 16);
        v128.store(d + 3 * step, a3);
        v128.store(d + 3 * step, c3, 16);
      }
    }
  }
}

/**
 * max(0, each of the 4 windows over columns 0..7 of an upper row (u0, u1) and a lower row (l0, l1)),
 * NaN where the window has one (PyTorch's max_pool2d of relu propagates it), as reluMaxPool2x2's values.
 */
// @ts-ignore: decorator
@inline
function poolWindows(u0: v128, u1: v128, l0: v128, l1: v128): v128 {
  const a = v128.shuffle<f32>(u0, u1, 0, 2, 4, 6), b = v128.shuffle<f32>(u0, u1, 1, 3, 5, 7);
  const d = v128.shuffle<f32>(l0, l1, 0, 2, 4, 6), e = v128.shuffle<f32>(l0, l1, 1, 3, 5, 7);
  const best = f32x4.pmax(f32x4.pmax(f32x4.pmax(f32x4.pmax(f32x4.splat(0), a), b), d), e);
  return v128.or(best, v128.or(v128.or(f32x4.ne(a, a), f32x4.ne(b, b)), v128.or(f32x4.ne(d, d), f32x4.ne(e, e))));
}

/**
 * out[c, i, j] = max(0, the 2×2 window at (2i, 2j) of src [channels, H, W]) for i < H/2, j < W/2
 * (floor); argmax (unless 0) gets the index into src of the window's first strictly positive maximum,
 * scanning row by row, or −1 when nothing in the window is > 0 (no gradient flows there). A NaN wins
 * over any number and a later NaN over an earlier one, as PyTorch's max_pool2d of relu.
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
        let m = v128.or(f32x4.gt(a, best), f32x4.ne(a, a));
        best = v128.bitselect(a, best, m);
        index = v128.bitselect(base, index, m);
        m = v128.or(f32x4.gt(b, best), f32x4.ne(b, b));
        best = v128.bitselect(b, best, m);
        index = v128.bitselect(i32x4.add(base, i32x4.splat(1)), index, m);
        m = v128.or(f32x4.gt(d, best), f32x4.ne(d, d));
        best = v128.bitselect(d, best, m);
        index = v128.bitselect(i32x4.add(base, i32x4.splat(W)), index, m);
        m = v128.or(f32x4.gt(e, best), f32x4.ne(e, e));
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
        if (v > best || v != v) { best = v; index = at; }
        v = load<f32>(src + (<usize>(at + 1) << 2));
        if (v > best || v != v) { best = v; index = at + 1; }
        v = load<f32>(src + (<usize>(at + W) << 2));
        if (v > best || v != v) { best = v; index = at + W; }
        v = load<f32>(src + (<usize>(at + W + 1) << 2));
        if (v > best || v != v) { best = v; index = at + W + 1; }
        store<f32>(out + (o << 2), best);
        if (argmax != 0) store<i32>(argmax + (o << 2), index);
        o++;
        at += 2;
      }
    }
  }
}

/**
 * Gradients of Σ out · gy for `count` (>= 1) images by the way `path` (backwardPathOf for this
 * geometry and choices; IM2COL is always possible): gx (count images) receives the input gradient; gw
 * their weight gradient, gb Σ gy per channel, written there (added to what they hold with
 * `accumulate`); each pointer 0 when not wanted.
 * - IM2COL: gx = col2im(W_gᵀ · G), each chunk's images zeroed just before its col2im adds into them; gw gets Σ cols · Gᵀ, the weight gradient
 *   transposed per group ([groups, C/g·kH·kW, outC/g]: packing the few rows of G costs far less than
 *   packing the columns; im2colWeightGradFinish puts it back). Chunks as in conv2dForward; the columns
 *   are recomputed from x (cheaper than keeping them). A chunk's output gradient is gathered into
 *   `gbuf` [outC, chunk·oH·oW] unless it is one image. `dcols` holds W_gᵀ · G [C/g·kH·kW, chunk·oH·oW].
 *   `cols` and `gy` must be followed by 32 readable bytes. With `argmax` (not 0), `gy` is instead the
 *   gradient of conv2dForward's pooled output [count, outC, oH/2, oW/2] and `argmax` its arg-max
 *   indices: each entry goes to the convolution output it came from (none for an index outside the
 *   image's [outC, oH, oW], such as −1), gathered in `gbuf`.
 * - WINOGRAD3: `chunk` images per batch of tiles in `cols` (winograd3x3BackwardScratchBytes); gw is
 *   the Winograd-domain sum dU [36, O, C] (finished by winograd3x3WeightsBackward), gx is written
 *   whole and `w` is prepareBackward's output (read only for gx).
 * - DEPTHWISE: gw [C, kH·kW] (also the transposed layout: one output channel per group); gx zeroed first, then added into.
 */
export function conv2dBackward(
  geo: usize, count: i32, x: usize, w: usize, gy: usize, gx: usize, gw: usize, gb: usize,
  chunk: i32, cols: usize, dcols: usize, gbuf: usize, work: usize, argmax: usize, path: i32, accumulate: bool,
): void {
  const g = changetype<Geometry>(geo);
  const O = g.outChannels, G = g.groups;
  const cg = g.inChannels / G;
  const og = O / G;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const groupPlanes = cg * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  if (path == DEPTHWISE) {
    if (gw != 0 && !accumulate) memory.fill(gw, 0, <usize>(O * taps) << 2);
    if (gb != 0 && !accumulate) memory.fill(gb, 0, <usize>O << 2);
    // The call's own images of gx, zeroed by the thread that adds into them.
    if (gx != 0) memory.fill(gx, 0, <usize>(count * inImage) << 2);
    conv2dDepthwiseBackward(geo, count, x, w, gy, gx, gw, gb);
    return;
  }
  if (path == WINOGRAD3) {
    // The bias gradient alone is a plain sum: only the transforms spread a non-finite value.
    if ((gw != 0 || gx != 0) && (anyNonFinite(gy, count * O * outPlane) || (gw != 0 && anyNonFinite(x, count * inImage)))) {
      store<i32>(geo + NON_FINITE_FLAG, 1);
      return;
    }
    const scratch = cols + GEOMETRY_BYTES;
    if (gw != 0) conv2dWinograd3x3WeightGrad(geo, count, x, gy, gw, gb, accumulate, chunk, scratch);
    else if (gb != 0) sumPlanes(gy, count, O, outPlane, accumulate, gb);
    if (gx != 0) {
      inputGradientGeometry(geo, cols);
      conv2dWinograd3x3(cols, count, gy, w, 0, gx, false, chunk, scratch, false);
    }
    return;
  }
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
        store<f32>(at, n0 == 0 && !accumulate ? s : load<f32>(at) + s);
      }
    }
    // col2im adds into gx: this chunk's images are zeroed here, by the thread that adds into them, just
    // before they are (a 1×1 kernel's planes are written whole instead).
    if (gx != 0 && !(pointwise && nb == 1)) memory.fill(gx + (<usize>(n0 * inImage) << 2), 0, <usize>(nb * inImage) << 2);
    for (let grp = 0; grp < G; grp++) {
      const gradRows = grad + (<usize>(grp * og * width) << 2);
      const weights = w + (<usize>(grp * og * taps) << 2);
      // A 1×1 kernel with unit stride and no padding: the image's planes are its columns, and the input
      // gradient's columns are its planes (no im2col, no col2im).
      const planes = pointwise && nb == 1;
      const xPlanes = x + (<usize>(n0 * inImage + grp * groupPlanes) << 2);
      if (gw != 0) {
        for (let i = 0; i < nb && !planes; i++) {
          im2col(geo, x + (<usize>((n0 + i) * inImage + grp * groupPlanes) << 2), cg, cols + (<usize>(i * outPlane) << 2), width);
        }
        gemmRows(0, taps, og, width, planes ? xPlanes : cols, width, false, gradRows, width, true, gw + (<usize>(grp * taps * og) << 2), og, accumulate || n0 > 0, work);
      }
      if (gx != 0 && planes) {
        gemmRows(0, taps, width, og, weights, taps, true, gradRows, width, false, gx + (<usize>(n0 * inImage + grp * groupPlanes) << 2), width, false, work);
      } else if (gx != 0) {
        gemmRows(0, taps, width, og, weights, taps, true, gradRows, width, false, dcols, width, false, work);
        for (let i = 0; i < nb; i++) {
          col2im(geo, dcols + (<usize>(i * outPlane) << 2), width, cg, gx + (<usize>((n0 + i) * inImage + grp * groupPlanes) << 2));
        }
      }
    }
  }
}

/**
 * Whether conv2dWinogradPool computes this convolution followed by ReLU and 2×2 max-pooling: 5×5
 * kernels, one group, unit stride and dilation, no padding, at least WINOGRAD_MIN_CHANNELS input
 * channels, output widths in blocks of 8 and even heights.
 */
function winogradFits(g: Geometry): bool {
  return g.groups == 1 && g.kernelHeight == 5 && g.kernelWidth == 5 && g.strideHeight == 1 && g.strideWidth == 1 &&
    g.dilationHeight == 1 && g.dilationWidth == 1 && g.padHeight == 0 && g.padWidth == 0 &&
    g.inChannels >= WINOGRAD_MIN_CHANNELS && (g.outWidth & 7) == 0 && (g.outHeight & 1) == 0;
}

/**
 * Input channels from which the Winograd transforms cost less than the products they save: against
 * conv2dDirect on 1000 images, 1.0× at 2 and 3 channels, 1.1× at 4, 1.6× at 8, 2.1× at 16.
 */
const WINOGRAD_MIN_CHANNELS: i32 = 4;

/** Tile vectors (4 windows each) conv2dWinogradPool transforms and multiplies together. */
const WINOGRAD_GROUP: i32 = 4;

/** Floats of scratch conv2dWinogradPool needs: the vectors of t [36], V [36, C, group] and M [O, 36, group]. */
export function winogradScratchFloats(C: i32, O: i32): i32 {
  return 4 * (36 + 36 * C * WINOGRAD_GROUP + 36 * O * WINOGRAD_GROUP);
}

/** G of F(2×2, 5×5) (6×5, row-major) for the points 0, 1, −1, 2, −2 and ∞. */
const WINOGRAD_G = memory.data<f32>([
  0.25, 0, 0, 0, 0,
  -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6,
  -1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
  1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3,
  1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3,
  0, 0, 0, 0, 1,
]);

/**
 * u = G·g·Gᵀ for every (o, c) 5×5 kernel of w [O, C, 5, 5], the Winograd F(2×2, 5×5) weight transform
 * with interpolation points 0, ±1, ±2 and ∞, stored as dst[pos][o][c] (pos = 6·row + column of u).
 */
function winogradWeights(w: usize, O: i32, C: i32, dst: usize): void {
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      const k = w + (<usize>((o * C + c) * 25) << 2);
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          let s: f64 = 0;
          for (let a = 0; a < 5; a++) {
            let inner: f64 = 0;
            for (let b = 0; b < 5; b++) inner += <f64>load<f32>(WINOGRAD_G + (<usize>(j * 5 + b) << 2)) * <f64>load<f32>(k + (<usize>(a * 5 + b) << 2));
            s += <f64>load<f32>(WINOGRAD_G + (<usize>(i * 5 + a) << 2)) * inner;
          }
          store<f32>(dst + (<usize>(((i * 6 + j) * O + o) * C + c) << 2), <f32>s);
        }
      }
    }
  }
}

/**
 * pooled[O, oH/2, oW/2] = maxPool2x2(max(0, W ⊛ x + bias)) for one image of a geometry winogradFits
 * accepts, by Winograd's F(2×2, 5×5): each 2×2 output tile, which is one pooling window, comes from a
 * 6×6 input tile through 36 products per channel pair instead of 100. A vector holds 4 windows side by
 * side; WINOGRAD_GROUP such vectors are transformed, multiplied and transformed back together.
 * `u` holds winogradWeights' output, `scratch` winogradScratchFloats(C, O) floats.
 */
function conv2dWinogradPool(geo: usize, x: usize, u: usize, bias: usize, pooled: usize, scratch: usize): void {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, H = g.inHeight, W = g.inWidth, O = g.outChannels;
  const pH = g.outHeight >> 1, pW = g.outWidth >> 1;
  const rowBytes = <usize>W << 2;
  const perRow = pW >> 2;
  const vectors = pH * perRow;
  const t = scratch;                                          // [6 rows][6] vectors
  const V = t + 36 * 16;                                      // [36][C][group] vectors
  const M = V + (<usize>(36 * C * WINOGRAD_GROUP) << 4);      // [O][36][group] vectors
  const two = f32x4.splat(2);
  const vPos = <usize>(C * WINOGRAD_GROUP) << 4;              // bytes between positions in V
  for (let tv0 = 0; tv0 < vectors; tv0 += WINOGRAD_GROUP) {
    const nt = min(WINOGRAD_GROUP, vectors - tv0);
    // V[pos][c][k] = Bᵀ·d·B for the 6×6 input tiles of tile vector tv0 + k in channel c.
    for (let k = 0; k < nt; k++) {
      const ti = (tv0 + k) / perRow, tj = ((tv0 + k) % perRow) << 2;
      for (let c = 0; c < C; c++) {
        let row = x + (<usize>((c * H + 2 * ti) * W + 2 * tj) << 2);
        for (let r = 0; r < 6; r++) {
          // Column q of the 4 tiles: input columns q, q+2, q+4, q+6 from the first tile's left edge.
          const d0 = v128.shuffle<f32>(v128.load(row), v128.load(row, 16), 0, 2, 4, 6);
          const d1 = v128.shuffle<f32>(v128.load(row, 4), v128.load(row, 20), 0, 2, 4, 6);
          const d2 = v128.shuffle<f32>(v128.load(row, 8), v128.load(row, 24), 0, 2, 4, 6);
          const d3 = v128.shuffle<f32>(v128.load(row, 12), v128.load(row, 28), 0, 2, 4, 6);
          const d4 = v128.shuffle<f32>(v128.load(row, 16), v128.load(row, 32), 0, 2, 4, 6);
          const d5 = v128.shuffle<f32>(v128.load(row, 20), v128.load(row, 36), 0, 2, 4, 6);
          inputTransform(d0, d1, d2, d3, d4, d5, t + (<usize>(r * 6) << 4), 16);
          row += rowBytes;
        }
        const dst = V + (<usize>(c * WINOGRAD_GROUP + k) << 4);
        for (let q = 0; q < 6; q++) {
          const col = t + (<usize>q << 4);
          inputTransform(
            v128.load(col), v128.load(col, 96), v128.load(col, 192), v128.load(col, 288), v128.load(col, 384), v128.load(col, 480),
            dst + <usize>q * vPos, 6 * vPos,
          );
        }
      }
    }
    // M[o][pos][k] = Σ_c U[pos][o][c] · V[pos][c][k]: two output channels × four tile vectors in registers.
    for (let pos = 0; pos < 36; pos++) {
      const vp = V + <usize>pos * vPos;
      const uPos = u + (<usize>(pos * O * C) << 2);
      let o = 0;
      if (nt == WINOGRAD_GROUP) {
        for (; o + 2 <= O; o += 2) {
          let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
          let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
          let ua = uPos + (<usize>(o * C) << 2);
          const ub = <usize>C << 2;
          let v = vp;
          for (let c = 0; c < C; c++) {
            const v0 = v128.load(v), v1 = v128.load(v, 16), v2 = v128.load(v, 32), v3 = v128.load(v, 48);
            const wa = v128.load32_splat(ua);
            const wb = v128.load32_splat(ua + ub);
            a0 = madd(wa, v0, a0);
            a1 = madd(wa, v1, a1);
            a2 = madd(wa, v2, a2);
            a3 = madd(wa, v3, a3);
            b0 = madd(wb, v0, b0);
            b1 = madd(wb, v1, b1);
            b2 = madd(wb, v2, b2);
            b3 = madd(wb, v3, b3);
            ua += 4;
            v += 64;
          }
          const ma = M + (<usize>((o * 36 + pos) * WINOGRAD_GROUP) << 4);
          const mb = ma + (<usize>(36 * WINOGRAD_GROUP) << 4);
          v128.store(ma, a0); v128.store(ma, a1, 16); v128.store(ma, a2, 32); v128.store(ma, a3, 48);
          v128.store(mb, b0); v128.store(mb, b1, 16); v128.store(mb, b2, 32); v128.store(mb, b3, 48);
        }
      }
      for (; o < O; o++) {
        for (let k = 0; k < nt; k++) {
          let acc = f32x4.splat(0);
          let ua = uPos + (<usize>(o * C) << 2);
          let v = vp + (<usize>k << 4);
          for (let c = 0; c < C; c++) {
            acc = madd(v128.load32_splat(ua), v128.load(v), acc);
            ua += 4;
            v += 64;
          }
          v128.store(M + (<usize>((o * 36 + pos) * WINOGRAD_GROUP + k) << 4), acc);
        }
      }
    }
    // y = Aᵀ·M·A per output channel and tile vector: the 2×2 windows, + bias, then max(0, ·) over each.
    for (let o = 0; o < O; o++) {
      const b = bias == 0 ? f32x4.splat(0) : v128.load32_splat(bias + (<usize>o << 2));
      for (let k = 0; k < nt; k++) {
        const m = M + (<usize>(o * 36 * WINOGRAD_GROUP + k) << 4);
        const colStep = <usize>WINOGRAD_GROUP << 4;
        const rowStep = 6 * colStep;
        let y00 = f32x4.splat(0), y01 = f32x4.splat(0), y10 = f32x4.splat(0), y11 = f32x4.splat(0);
        for (let q = 0; q < 6; q++) {
          const p = m + <usize>q * colStep;
          const m0 = v128.load(p), m1 = v128.load(p + rowStep), m2 = v128.load(p + 2 * rowStep);
          const m3 = v128.load(p + 3 * rowStep), m4 = v128.load(p + 4 * rowStep), m5 = v128.load(p + 5 * rowStep);
          const s0 = f32x4.add(f32x4.add(f32x4.add(m0, m1), f32x4.add(m2, m3)), m4);
          const s1 = f32x4.add(f32x4.add(f32x4.sub(m1, m2), f32x4.mul(two, f32x4.sub(m3, m4))), m5);
          // Column q's weight in the two output columns: Aᵀ row 0 = [1 1 1 1 1 0], row 1 = [0 1 −1 2 −2 1].
          if (q < 5) { y00 = f32x4.add(y00, s0); y10 = f32x4.add(y10, s1); }
          if (q == 1 || q == 5) { y01 = f32x4.add(y01, s0); y11 = f32x4.add(y11, s1); }
          else if (q == 2) { y01 = f32x4.sub(y01, s0); y11 = f32x4.sub(y11, s1); }
          else if (q == 3) { y01 = madd(two, s0, y01); y11 = madd(two, s1, y11); }
          else if (q == 4) { y01 = f32x4.sub(y01, f32x4.mul(two, s0)); y11 = f32x4.sub(y11, f32x4.mul(two, s1)); }
        }
        const v00 = f32x4.add(y00, b), v01 = f32x4.add(y01, b), v10 = f32x4.add(y10, b), v11 = f32x4.add(y11, b);
        const top = f32x4.pmax(f32x4.pmax(f32x4.pmax(f32x4.pmax(f32x4.splat(0), v00), v01), v10), v11);
        const best = v128.or(top, v128.or(v128.or(f32x4.ne(v00, v00), f32x4.ne(v01, v01)), v128.or(f32x4.ne(v10, v10), f32x4.ne(v11, v11))));
        const tv = tv0 + k;
        v128.store(pooled + (<usize>((o * pH + tv / perRow) * pW + ((tv % perRow) << 2)) << 2), best);
      }
    }
  }
}
