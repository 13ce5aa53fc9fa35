import { GraphError, kernels, type FloatArray } from "@pico/core";
import type { Conv2dGeometry } from "./conv-geometry.js";
import { col2im, im2col } from "./im2col.js";
import { scratch } from "./scratch.js";

/** A flat typed array and where the tensor starts in it. */
export interface Flat {
  data: FloatArray;
  offset: number;
}

/** A 1×1 kernel with stride 1 and no padding reads the input planes as its column matrix, without im2col. */
export function isPointwise(g: Conv2dGeometry): boolean {
  return g.kernelHeight === 1 && g.kernelWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 && g.padHeight === 0 && g.padWidth === 0;
}

/**
 * out[N, outC, oH, oW] = weight ⊛ x (+ bias): per image and group, W_g[outC/g, C/g·kH·kW] · cols[C/g·kH·kW, oH·oW]
 * written straight into the output planes, each row starting from its bias. With `keptCols` (room for every
 * image's and group's columns, in that order) the columns stay there for conv2dBackwardWeight; otherwise
 * they go through a scratch buffer.
 */
export function conv2dForward(x: Flat, w: Flat, bias: Flat | null, g: Conv2dGeometry, out: FloatArray, keptCols: FloatArray | null): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  const cols = pointwise ? out : (keptCols ?? scratch("conv2d.cols", kernels.dtypeOf(out), taps * outPlane));
  let colsOffset = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      if (keptCols !== null) colsOffset = (n * g.groups + grp) * taps * outPlane;
      const xOffset = x.offset + n * inImage + grp * cg * g.inHeight * g.inWidth;
      const outOffset = (n * g.outChannels + grp * og) * outPlane;
      if (bias !== null) {
        for (let o = 0; o < og; o++) {
          const start = outOffset + o * outPlane;
          out.fill(bias.data[bias.offset + grp * og + o]!, start, start + outPlane);
        }
      }
      let b: kernels.MatrixView;
      if (pointwise) {
        b = { data: x.data, offset: xOffset, ld: outPlane, trans: false };
      } else {
        im2col(x.data, xOffset, cg, g, cols, colsOffset);
        b = { data: cols, offset: colsOffset, ld: outPlane, trans: false };
      }
      kernels.gemm(
        og,
        outPlane,
        taps,
        { data: w.data, offset: w.offset + grp * og * taps, ld: taps, trans: false },
        b,
        { data: out, offset: outOffset, ld: outPlane },
        bias !== null,
      );
    }
  }
}

/** gradInput = col2im(W_gᵀ · G) per image and group; `gx` must come zero-filled. */
export function conv2dBackwardInput(gy: Flat, w: Flat, g: Conv2dGeometry, gx: FloatArray): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  const cols = pointwise ? gx : scratch("conv2d.gradCols", kernels.dtypeOf(gx), taps * outPlane);
  for (let n = 0; n < g.batch; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      const xOffset = n * inImage + grp * cg * g.inHeight * g.inWidth;
      const c = pointwise ? { data: gx, offset: xOffset, ld: outPlane } : { data: cols, offset: 0, ld: outPlane };
      kernels.gemm(
        taps,
        outPlane,
        og,
        { data: w.data, offset: w.offset + grp * og * taps, ld: taps, trans: true },
        { data: gy.data, offset: gy.offset + (n * g.outChannels + grp * og) * outPlane, ld: outPlane, trans: false },
        c,
        false,
      );
      if (!pointwise) col2im(cols, cg, g, gx, xOffset);
    }
  }
}

/** gradWeight_g = Σ_n G_{n,g} · cols_{n,g}ᵀ over the columns conv2dForward kept (none for a pointwise kernel). */
export function conv2dBackwardWeight(x: Flat, gy: Flat, g: Conv2dGeometry, gw: FloatArray, keptCols: FloatArray | null): void {
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = cg * g.kernelHeight * g.kernelWidth;
  const outPlane = g.outHeight * g.outWidth;
  const inImage = g.inChannels * g.inHeight * g.inWidth;
  const pointwise = isPointwise(g);
  const cols = pointwise ? x.data : keptCols;
  if (cols === null) throw new GraphError("conv2d: the weight gradient needs the im2col columns, but forward did not keep them");
  for (let n = 0; n < g.batch; n++) {
    for (let grp = 0; grp < g.groups; grp++) {
      const colsOffset = pointwise ? x.offset + n * inImage + grp * cg * g.inHeight * g.inWidth : (n * g.groups + grp) * taps * outPlane;
      kernels.gemm(
        og,
        taps,
        outPlane,
        { data: gy.data, offset: gy.offset + (n * g.outChannels + grp * og) * outPlane, ld: outPlane, trans: false },
        { data: cols, offset: colsOffset, ld: outPlane, trans: true },
        { data: gw, offset: grp * og * taps, ld: taps },
        n > 0,
      );
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
