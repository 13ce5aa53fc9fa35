import type { FloatArray } from "../../dtype.js";
import { dtypeOf } from "../../dtype.js";
import { GraphError } from "../../errors.js";
import { gemm, type MatrixView } from "../gemm.js";
import { scratch } from "../scratch.js";
import { isPointwise, type Conv2dGeometry } from "./geometry.js";
import { col2im, im2col } from "./im2col.js";

// The TypeScript convolution: im2col + the gemm family's GEMM (the "js" and "reference" conv2d kernels).

/** A flat typed array and where the tensor starts in it. */
export interface Flat {
  data: FloatArray;
  offset: number;
}

/**
 * Images per GEMM: as many as fit in `columns` output columns (images × oH·oW), at least one; a
 * pointwise kernel goes image by image. One image per GEMM by default: measured on the reference
 * network (batch 64) with the packed JS and the WebAssembly GEMMs, wider GEMMs (4096 or 16384
 * columns) were 10-15% slower, as their columns leave the cache.
 */
export function imagesPerChunk(g: Conv2dGeometry, columns = 1): number {
  if (isPointwise(g)) return 1;
  return Math.max(1, Math.min(g.batch, Math.floor(columns / (g.outHeight * g.outWidth))));
}

/** Elements of the columns conv2dForward keeps for conv2dBackward: every image's and group's. */
export function keptColumnsSize(g: Conv2dGeometry): number {
  return g.batch * g.inChannels * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth;
}

/**
 * out[N, outC, oH, oW] = weight ⊛ x (+ bias). Images go in chunks of `chunk`; per chunk and group,
 * cols[C/g·kH·kW, chunk·oH·oW] holds the chunk's images side by side and one GEMM computes
 * W_g[outC/g, C/g·kH·kW] · cols, added onto the bias. With `keptCols` (keptColumnsSize elements) the
 * columns stay there for conv2dBackward; otherwise they go through a scratch buffer.
 */
export function conv2dForward(x: Flat, w: Flat, bias: Flat | null, g: Conv2dGeometry, chunk: number, out: FloatArray, keptCols: FloatArray | null): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const groupPlanes = cg * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  const dtype = dtypeOf(out);
  const step = pointwise ? 1 : chunk;
  const cols = pointwise ? out : (keptCols ?? scratch("conv2d.cols", dtype, g.groups * taps * step * outPlane));
  for (let n0 = 0; n0 < g.batch; n0 += step) {
    const nb = Math.min(step, g.batch - n0);
    const width = nb * outPlane;
    const base = keptCols === null ? 0 : n0 * g.groups * taps * outPlane;
    for (let grp = 0; grp < g.groups; grp++) {
      const block = base + grp * taps * width;
      const weights: MatrixView = { data: w.data, offset: w.offset + grp * og * taps, ld: taps, trans: false };
      let b: MatrixView;
      if (pointwise) {
        b = { data: x.data, offset: x.offset + n0 * inImage + grp * groupPlanes, ld: outPlane, trans: false };
      } else {
        for (let i = 0; i < nb; i++) im2col(x.data, x.offset + (n0 + i) * inImage + grp * groupPlanes, cg, g, cols, block + i * outPlane, width);
        b = { data: cols, offset: block, ld: width, trans: false };
      }
      if (nb === 1) {
        const outOffset = (n0 * g.outChannels + grp * og) * outPlane;
        if (bias !== null) {
          for (let o = 0; o < og; o++) out.fill(bias.data[bias.offset + grp * og + o]!, outOffset + o * outPlane, outOffset + (o + 1) * outPlane);
        }
        gemm(og, outPlane, taps, weights, b, { data: out, offset: outOffset, ld: outPlane }, bias !== null);
        continue;
      }
      const y = scratch("conv2d.out", dtype, og * width);
      gemm(og, width, taps, weights, b, { data: y, offset: 0, ld: width }, false);
      for (let o = 0; o < og; o++) {
        const shift = bias === null ? 0 : bias.data[bias.offset + grp * og + o]!;
        for (let i = 0; i < nb; i++) {
          const src = o * width + i * outPlane;
          const dst = ((n0 + i) * g.outChannels + grp * og + o) * outPlane;
          for (let q = 0; q < outPlane; q++) out[dst + q] = y[src + q]! + shift;
        }
      }
    }
  }
}

/**
 * The input gradient col2im(W_gᵀ · G) into `gx` (zero-filled, packed like the input) and the weight
 * gradient Σ G · colsᵀ into `gw`, each only when given; chunks as in conv2dForward, whose kept
 * columns the weight gradient reads (a pointwise kernel reads the input `x` instead). With
 * `accumulateWeights` the weight gradient adds onto what `gw` holds instead of overwriting it.
 */
export function conv2dBackward(
  gy: Flat,
  w: Flat,
  x: Flat | null,
  g: Conv2dGeometry,
  chunk: number,
  keptCols: FloatArray | null,
  gx: FloatArray | null,
  gw: FloatArray | null,
  accumulateWeights = false,
): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const groupPlanes = cg * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  const dtype = dtypeOf(gx ?? gw ?? gy.data);
  const cols = pointwise ? (x?.data ?? null) : keptCols;
  if (gw !== null && cols === null) throw new GraphError("conv2d: the weight gradient needs the im2col columns, but forward did not keep them");
  const step = pointwise ? 1 : chunk;
  for (let n0 = 0; n0 < g.batch; n0 += step) {
    const nb = Math.min(step, g.batch - n0);
    const width = nb * outPlane;
    // G for the chunk as [outC, chunk·oH·oW]: the output gradient itself for one image, else gathered.
    let grad: FloatArray;
    let gradOffset: number;
    if (nb === 1) {
      grad = gy.data;
      gradOffset = gy.offset + n0 * g.outChannels * outPlane;
    } else {
      grad = scratch("conv2d.gradOut", dtype, g.outChannels * width);
      gradOffset = 0;
      for (let i = 0; i < nb; i++) {
        for (let o = 0; o < g.outChannels; o++) {
          const src = gy.offset + ((n0 + i) * g.outChannels + o) * outPlane;
          const dst = o * width + i * outPlane;
          for (let q = 0; q < outPlane; q++) grad[dst + q] = gy.data[src + q]!;
        }
      }
    }
    for (let grp = 0; grp < g.groups; grp++) {
      const gradRows: MatrixView = { data: grad, offset: gradOffset + grp * og * width, ld: width, trans: false };
      if (gx !== null) {
        const weightsT: MatrixView = { data: w.data, offset: w.offset + grp * og * taps, ld: taps, trans: true };
        const xOffset = n0 * inImage + grp * groupPlanes;
        if (pointwise) {
          gemm(taps, outPlane, og, weightsT, gradRows, { data: gx, offset: xOffset, ld: outPlane }, false);
        } else {
          const dcols = scratch("conv2d.gradCols", dtype, taps * width);
          gemm(taps, width, og, weightsT, gradRows, { data: dcols, offset: 0, ld: width }, false);
          for (let i = 0; i < nb; i++) col2im(dcols, i * outPlane, width, cg, g, gx, xOffset + i * inImage);
        }
      }
      if (gw !== null && cols !== null) {
        const colsOffset = pointwise ? (x?.offset ?? 0) + n0 * inImage + grp * groupPlanes : n0 * g.groups * taps * outPlane + grp * taps * width;
        const colsT: MatrixView = { data: cols, offset: colsOffset, ld: width, trans: true };
        gemm(og, taps, width, gradRows, colsT, { data: gw, offset: grp * og * taps, ld: taps }, accumulateWeights || n0 > 0);
      }
    }
  }
}

/** gradBias[o] = Σ over batch and output pixels of G[n, o, :, :]. */
export function conv2dBackwardBias(gy: Flat, g: Conv2dGeometry, gb: FloatArray): void {
  const outPlane = g.outHeight * g.outWidth;
  for (let n = 0; n < g.batch; n++) {
    for (let o = 0; o < g.outChannels; o++) {
      const start = gy.offset + (n * g.outChannels + o) * outPlane;
      let s = 0;
      for (let i = start; i < start + outPlane; i++) s += gy.data[i]!;
      gb[o] = gb[o]! + s;
    }
  }
}
