import { ArgumentError, Function, ShapeError, formatShape, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkOptions, checkTensor } from "./check.js";

export type InterpolateMode = "nearest" | "bilinear";

export interface InterpolateOptions {
  /** Output [H, W] (or one number for both). Give this or scaleFactor. */
  size?: number | readonly [number, number];
  /** Output = floor(input · factor) per side; the sampling then uses 1/factor as torch does. */
  scaleFactor?: number | readonly [number, number];
  /** Default "nearest". */
  mode?: InterpolateMode;
  /** Bilinear only: corner pixels' centres align (src = dst·(in − 1)/(out − 1)) instead of half-pixel centres. Default false. */
  alignCorners?: boolean;
}

/** Per output index along one axis: the two source indices and the weight of the second. */
interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

function axisTaps(inSize: number, outSize: number, mode: InterpolateMode, alignCorners: boolean, factor: number | null): AxisTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w1 = new Float64Array(outSize);
  const scale = factor !== null ? 1 / factor : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    if (mode === "nearest") {
      i0[o] = i1[o] = Math.min(Math.floor(o * scale), inSize - 1);
      continue;
    }
    const src = alignCorners ? (outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0) : Math.max(scale * (o + 0.5) - 0.5, 0);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = lo < inSize - 1 ? lo + 1 : lo;
    w1[o] = src - lo;
  }
  return { i0, i1, w1 };
}

type InterpolateContext = Context & { inShape: number[]; rows: AxisTaps; cols: AxisTaps };

/** Nearest or bilinear resampling of [N, C, H, W]: each output is a weighted sum of at most four inputs, and backward sends the gradient back along the same weights. */
export class Interpolate2dFunction extends Function {
  static override forward(ctx: InterpolateContext, x: NDArray, outH: number, outW: number, mode: InterpolateMode, alignCorners: boolean, factorH: number | null, factorW: number | null): NDArray {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const rows = axisTaps(h, outH, mode, alignCorners, factorH);
    const cols = axisTaps(w, outW, mode, alignCorners, factorW);
    const src = kernels.packed(x).data;
    const out = kernels.create(kernels.dtypeOf(x), [n, c, outH, outW]);
    const o = out.data;
    for (let p = 0; p < n * c; p++) {
      const base = p * h * w;
      let at = p * outH * outW;
      for (let y = 0; y < outH; y++) {
        const r0 = base + rows.i0[y]! * w;
        const r1 = base + rows.i1[y]! * w;
        const ly = rows.w1[y]!;
        for (let xo = 0; xo < outW; xo++, at++) {
          const c0 = cols.i0[xo]!;
          const c1 = cols.i1[xo]!;
          const lx = cols.w1[xo]!;
          const top = src[r0 + c0]! * (1 - lx) + src[r0 + c1]! * lx;
          const bottom = src[r1 + c0]! * (1 - lx) + src[r1 + c1]! * lx;
          o[at] = top * (1 - ly) + bottom * ly;
        }
      }
    }
    ctx.inShape = x.shape;
    ctx.rows = rows;
    ctx.cols = cols;
    return out;
  }

  static override backward(ctx: InterpolateContext, g: NDArray): (NDArray | null)[] {
    const [n, c, h, w] = ctx.inShape as [number, number, number, number];
    const [, , outH, outW] = g.shape as [number, number, number, number];
    const { rows, cols } = ctx;
    const gy = kernels.packed(g).data;
    const gx = kernels.create(kernels.dtypeOf(g), ctx.inShape);
    const d = gx.data;
    for (let p = 0; p < n * c; p++) {
      const base = p * h * w;
      let at = p * outH * outW;
      for (let y = 0; y < outH; y++) {
        const r0 = base + rows.i0[y]! * w;
        const r1 = base + rows.i1[y]! * w;
        const ly = rows.w1[y]!;
        for (let xo = 0; xo < outW; xo++, at++) {
          const v = gy[at]!;
          const c0 = cols.i0[xo]!;
          const c1 = cols.i1[xo]!;
          const lx = cols.w1[xo]!;
          d[r0 + c0]! += v * (1 - ly) * (1 - lx);
          d[r0 + c1]! += v * (1 - ly) * lx;
          d[r1 + c0]! += v * ly * (1 - lx);
          d[r1 + c1]! += v * ly * lx;
        }
      }
    }
    return [gx, null, null, null, null, null, null];
  }
}

function pairOf(op: string, name: string, value: number | readonly [number, number], integer: boolean): [number, number] {
  const p = typeof value === "number" ? [value, value] : value;
  if (!Array.isArray(p) || p.length !== 2 || p.some((v) => typeof v !== "number" || !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))) {
    throw new ArgumentError(`${op}: ${name} must be a ${integer ? "positive integer" : "number > 0"} or a pair of them, but got ${JSON.stringify(value)}`);
  }
  return [p[0] as number, p[1] as number];
}

/**
 * torch.nn.functional.interpolate for images [N, C, H, W] (or [C, H, W]): `mode` "nearest" (source index
 * floor(dst · in/out)) or "bilinear" (half-pixel centres, or `alignCorners`). Output [N, C, Hout, Wout]
 * with Hout = size[0], or floor(H · scaleFactor[0]).
 */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  const op = "interpolate";
  checkTensor(op, "input", input);
  const mode = checkInterpolateOptions(op, options);
  if (input.ndim !== 3 && input.ndim !== 4) throw new ShapeError(`${op}: input must be [N, C, H, W] or [C, H, W], but got shape ${formatShape(input.shape)}`);
  const x = input.ndim === 4 ? input : input.unsqueeze(0);
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  let size: [number, number];
  let factors: [number | null, number | null] = [null, null];
  if (options.size !== undefined) size = pairOf(op, "size", options.size, true);
  else {
    factors = pairOf(op, "scaleFactor", options.scaleFactor!, false);
    size = [Math.floor(h * factors[0]!), Math.floor(w * factors[1]!)];
    if (size[0] < 1 || size[1] < 1) throw new ShapeError(`${op}: scaleFactor ${JSON.stringify(options.scaleFactor)} gives an empty output ${size[0]}x${size[1]} for input ${formatShape(input.shape)}`);
  }
  const y = Interpolate2dFunction.apply(x, size[0], size[1], mode, options.alignCorners ?? false, factors[0], factors[1]);
  return input.ndim === 4 ? y : y.squeeze(0);
}

/** Checks interpolate's options (for F.interpolate and Upsample, named by `op`); returns the mode. */
export function checkInterpolateOptions(op: string, options: InterpolateOptions): InterpolateMode {
  checkOptions(op, options, ["size", "scaleFactor", "mode", "alignCorners"]);
  const mode = options?.mode ?? "nearest";
  if (mode !== "nearest" && mode !== "bilinear") throw new ArgumentError(`${op}: mode must be "nearest" or "bilinear", but got ${JSON.stringify(mode)}`);
  if (options.alignCorners !== undefined && mode !== "bilinear") {
    throw new ArgumentError(`${op}: alignCorners applies to mode "bilinear" only (torch refuses it for "${mode}")`);
  }
  if ((options.size === undefined) === (options.scaleFactor === undefined)) throw new ArgumentError(`${op}: give exactly one of size and scaleFactor`);
  if (options.size !== undefined) pairOf(op, "size", options.size, true);
  else pairOf(op, "scaleFactor", options.scaleFactor!, false);
  return mode;
}
