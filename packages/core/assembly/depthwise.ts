// Depthwise 2-D convolution (groups = input channels = output channels: one kernel per plane) without
// im2col: im2col + GEMM would run one GEMM per channel with a single output row. Each output row is a
// sum of kH·kW shifted input rows scaled by one weight each; the columns whose taps all fall inside the
// image go four at a time (unit stride), the few at the padded edges one by one. Nothing is copied.
import { Geometry } from "./geometry";
import { madd } from "./simd";

/** Whether conv2dDepthwise computes this geometry: one kernel per channel, no dilation. */
export function depthwiseFits(g: Geometry): bool {
  return g.groups > 1 && g.groups == g.inChannels && g.groups == g.outChannels && g.dilationHeight == 1 && g.dilationWidth == 1;
}

/** The first output column whose taps all lie at input columns >= 0, and one past the last whose taps lie < W. */
// @ts-ignore: decorator
@inline
function innerStart(pad: i32, stride: i32, outSize: i32): i32 {
  return min(outSize, (pad + stride - 1) / stride);
}

// @ts-ignore: decorator
@inline
function innerEnd(size: i32, kernel: i32, pad: i32, stride: i32, start: i32, outSize: i32): i32 {
  const last = size - kernel + pad;   // ow·stride − pad + kernel − 1 <= size − 1
  const end = last < 0 ? 0 : min(outSize, last / stride + 1);
  return max(end, start);
}

/** One output pixel with every tap checked against the image's bounds (the padded edges). */
// @ts-ignore: decorator
@inline
function edgePixel(src: usize, kernel: usize, g: Geometry, oh: i32, ow: i32, bias: f32): f32 {
  let s = bias;
  for (let u = 0; u < g.kernelHeight; u++) {
    const ih = oh * g.strideHeight - g.padHeight + u;
    if (ih < 0 || ih >= g.inHeight) continue;
    for (let v = 0; v < g.kernelWidth; v++) {
      const iw = ow * g.strideWidth - g.padWidth + v;
      if (iw < 0 || iw >= g.inWidth) continue;
      s += load<f32>(kernel + (<usize>(u * g.kernelWidth + v) << 2)) * load<f32>(src + (<usize>(ih * g.inWidth + iw) << 2));
    }
  }
  return s;
}

/**
 * out[count, C, oH, oW] = w[c] ⊛ x[c] (+ bias) per channel, then max(·, 0) with `relu`, for `count`
 * images at x [count, C, H, W], w [C, 1, kH, kW]. Inner columns (every tap inside the image's width)
 * keep their sums in registers, four columns per vector where the stride is 1.
 */
export function conv2dDepthwise(geo: usize, count: i32, x: usize, w: usize, bias: usize, out: usize, relu: bool): void {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, H = g.inHeight, W = g.inWidth, kH = g.kernelHeight, kW = g.kernelWidth;
  const sH = g.strideHeight, sW = g.strideWidth, pH = g.padHeight, pW = g.padWidth, oH = g.outHeight, oW = g.outWidth;
  const a = innerStart(pW, sW, oW), b = innerEnd(W, kW, pW, sW, a, oW);
  for (let p = 0; p < count * C; p++) {
    const c = p % C;
    const src = x + (<usize>(p * H * W) << 2);
    const kernel = w + (<usize>(c * kH * kW) << 2);
    const bv: f32 = bias == 0 ? 0 : load<f32>(bias + (<usize>c << 2));
    for (let oh = 0; oh < oH; oh++) {
      const dst = out + (<usize>((p * oH + oh) * oW) << 2);
      const u0 = max(0, pH - oh * sH), u1 = min(kH, H + pH - oh * sH);
      const top = src + (<usize>((oh * sH - pH) * W) << 2);
      let ow = 0;
      for (; ow < a; ow++) store<f32>(dst + (<usize>ow << 2), edgePixel(src, kernel, g, oh, ow, bv));
      if (sW == 1) {
        for (; ow + 4 <= b; ow += 4) {
          let acc = f32x4.splat(bv);
          for (let u = u0; u < u1; u++) {
            const row = top + (<usize>(u * W + ow - pW) << 2);
            const k = kernel + (<usize>(u * kW) << 2);
            for (let v = 0; v < kW; v++) acc = madd(v128.load32_splat(k + (<usize>v << 2)), v128.load(row + (<usize>v << 2)), acc);
          }
          v128.store(dst + (<usize>ow << 2), relu ? f32x4.pmax(acc, f32x4.splat(0)) : acc);
        }
      }
      for (; ow < b; ow++) {
        let s = bv;
        for (let u = u0; u < u1; u++) {
          const row = top + (<usize>(u * W + ow * sW - pW) << 2);
          const k = kernel + (<usize>(u * kW) << 2);
          for (let v = 0; v < kW; v++) s += load<f32>(k + (<usize>v << 2)) * load<f32>(row + (<usize>v << 2));
        }
        store<f32>(dst + (<usize>ow << 2), relu && s < 0 ? 0 : s);
      }
      for (; ow < oW; ow++) store<f32>(dst + (<usize>ow << 2), edgePixel(src, kernel, g, oh, ow, bv));
      if (relu) {
        for (let e = 0; e < a; e++) if (load<f32>(dst + (<usize>e << 2)) < 0) store<f32>(dst + (<usize>e << 2), 0);
        for (let e = b; e < oW; e++) if (load<f32>(dst + (<usize>e << 2)) < 0) store<f32>(dst + (<usize>e << 2), 0);
      }
    }
  }
}

/**
 * Gradients of Σ out · gy for conv2dDepthwise over `count` images: gx (zero-filled by the caller) +=
 * the taps' scatter of gy, gw [C, kH·kW] += Σ gy · the input each tap saw, gb += Σ gy; 0 for one not wanted.
 */
export function conv2dDepthwiseBackward(geo: usize, count: i32, x: usize, w: usize, gy: usize, gx: usize, gw: usize, gb: usize): void {
  const g = changetype<Geometry>(geo);
  const C = g.inChannels, H = g.inHeight, W = g.inWidth, kH = g.kernelHeight, kW = g.kernelWidth;
  const sH = g.strideHeight, sW = g.strideWidth, pH = g.padHeight, pW = g.padWidth, oH = g.outHeight, oW = g.outWidth;
  const a = innerStart(pW, sW, oW), b = innerEnd(W, kW, pW, sW, a, oW);
  for (let p = 0; p < count * C; p++) {
    const c = p % C;
    const kernel = w + (<usize>(c * kH * kW) << 2);
    const gKernel = gw + (<usize>(c * kH * kW) << 2);
    const gyPlane = gy + (<usize>(p * oH * oW) << 2);
    if (gb != 0) {
      let acc = f32x4.splat(0);
      let q = 0;
      const n = oH * oW;
      for (; q + 4 <= n; q += 4) acc = f32x4.add(acc, v128.load(gyPlane + (<usize>q << 2)));
      let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (; q < n; q++) s += load<f32>(gyPlane + (<usize>q << 2));
      store<f32>(gb + (<usize>c << 2), load<f32>(gb + (<usize>c << 2)) + s);
    }
    for (let oh = 0; oh < oH; oh++) {
      const grow = gyPlane + (<usize>(oh * oW) << 2);
      for (let u = 0; u < kH; u++) {
        const ih = oh * sH - pH + u;
        if (ih < 0 || ih >= H) continue;
        const xrow = x + (<usize>((p * H + ih) * W) << 2);
        const gxrow = gx + (<usize>((p * H + ih) * W) << 2);
        for (let v = 0; v < kW; v++) {
          const shift = v - pW;
          const wt = load<f32>(kernel + (<usize>(u * kW + v) << 2));
          const wv = f32x4.splat(wt);
          let dot = f32x4.splat(0);
          let dotTail: f32 = 0;
          let ow = 0;
          for (; ow < a; ow++) {
            const iw = ow * sW + shift;
            if (iw < 0 || iw >= W) continue;
            const gv = load<f32>(grow + (<usize>ow << 2));
            if (gx != 0) store<f32>(gxrow + (<usize>iw << 2), load<f32>(gxrow + (<usize>iw << 2)) + wt * gv);
            if (gw != 0) dotTail += gv * load<f32>(xrow + (<usize>iw << 2));
          }
          if (sW == 1) {
            for (; ow + 4 <= b; ow += 4) {
              const gv = v128.load(grow + (<usize>ow << 2));
              const at = <usize>(ow + shift) << 2;
              if (gx != 0) v128.store(gxrow + at, madd(wv, gv, v128.load(gxrow + at)));
              if (gw != 0) dot = madd(gv, v128.load(xrow + at), dot);
            }
          }
          for (; ow < oW; ow++) {
            const iw = ow * sW + shift;
            if (iw < 0 || iw >= W) continue;
            const gv = load<f32>(grow + (<usize>ow << 2));
            if (gx != 0) store<f32>(gxrow + (<usize>iw << 2), load<f32>(gxrow + (<usize>iw << 2)) + wt * gv);
            if (gw != 0) dotTail += gv * load<f32>(xrow + (<usize>iw << 2));
          }
          if (gw != 0) {
            const at = gKernel + (<usize>(u * kW + v) << 2);
            const s = f32x4.extract_lane(dot, 0) + f32x4.extract_lane(dot, 1) + f32x4.extract_lane(dot, 2) + f32x4.extract_lane(dot, 3);
            store<f32>(at, load<f32>(at) + s + dotTail);
          }
        }
      }
    }
  }
}
