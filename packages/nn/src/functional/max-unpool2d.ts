import { ArgumentError, Function, ShapeError, Tensor, formatShape, kernels, noGrad, type Context, type NDArray } from "@pico/core";
import { flatData } from "../kernels/flat.js";
import { maxPool2dForward } from "../kernels/max-pool2d.js";
import { pool2dGeometry } from "../kernels/pool-geometry.js";
import { checkOptions, checkTensor } from "./check.js";
import { MAX_POOL2D_OPTIONS, maxPool2d, type Pool2dOptions } from "./max-pool2d.js";
import { pair, type IntPair } from "./pair.js";

/**
 * torch's max_pool2d(..., return_indices=True): the pooled output (with maxPool2d's gradient) and, for each
 * output element, the index h·W + w of its maximum within its input plane (the first maximum, or the last NaN),
 * as whole numbers in a tensor of the output's shape, without gradient. The indices are what MaxUnpool2d takes.
 */
export function maxPool2dWithIndices(input: Tensor, kernelSize: IntPair, options: Pool2dOptions = {}): [Tensor, Tensor] {
  const op = "maxPool2dWithIndices";
  checkTensor(op, "input", input);
  checkOptions(op, options, MAX_POOL2D_OPTIONS);
  const out = maxPool2d(input, kernelSize, options);
  const x = input.ndim === 3 ? input.unsqueeze(0) : input;
  const g = pool2dGeometry(op, x.shape, kernelSize, options);
  const plane = g.inHeight * g.inWidth;
  const argmax = new Int32Array(g.batch * g.channels * g.outHeight * g.outWidth);
  noGrad(() => maxPool2dForward(flatData(x.data, x.dtype), g, kernels.create(x.dtype, out.ndim === 3 ? [1, ...out.shape] : out.shape).data, argmax));
  const indices = kernels.create(x.dtype, out.shape);
  const perPlane = g.outHeight * g.outWidth;
  for (let o = 0; o < argmax.length; o++) indices.data[o] = argmax[o]! - Math.floor(o / perPlane) * plane;
  return [out, new Tensor(indices)];
}

type UnpoolContext = Context & { indices: Int32Array; inShape: number[]; outPlane: number };

/** Places each input value at its index in a zero output plane; backward reads the gradient back from there. */
export class MaxUnpool2dFunction extends Function {
  static override forward(ctx: UnpoolContext, x: NDArray, index: NDArray, outH: number, outW: number): NDArray {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const outPlane = outH * outW;
    const src = kernels.packed(x).data;
    const idx = kernels.packed(index).data;
    const out = kernels.create(kernels.dtypeOf(x), [n, c, outH, outW]);
    const at = new Int32Array(src.length);
    const inPlane = h * w;
    for (let i = 0; i < src.length; i++) {
      const k = idx[i]!;
      if (!Number.isInteger(k) || k < 0 || k >= outPlane) {
        throw new ArgumentError(`maxUnpool2d: index ${k} is out of range for an output plane of ${outH}x${outW} (input element ${i})`);
      }
      at[i] = Math.floor(i / inPlane) * outPlane + k;
      out.data[at[i]!] = src[i]!;
    }
    ctx.indices = at;
    ctx.inShape = x.shape;
    return out;
  }

  static override backward(ctx: UnpoolContext, g: NDArray): (NDArray | null)[] {
    const gy = kernels.packed(g).data;
    const gx = kernels.create(kernels.dtypeOf(g), ctx.inShape);
    for (let i = 0; i < ctx.indices.length; i++) gx.data[i] = gy[ctx.indices[i]!]!;
    return [gx, null, null, null];
  }
}

export interface MaxUnpool2dOptions {
  /** Defaults to the kernel size. */
  stride?: IntPair;
  /** Default 0. */
  padding?: IntPair;
  /** The [H, W] to produce (to undo a pooling that floored an odd size); within a stride of the default. */
  outputSize?: readonly [number, number];
}

/**
 * torch.nn.functional.max_unpool2d: the partial inverse of max pooling, each value put back at the index
 * maxPool2dWithIndices gave, zeros elsewhere. Output [N, C, Hout, Wout] with
 * Hout = (H − 1)·stride − 2·padding + kH (or outputSize).
 */
export function maxUnpool2d(input: Tensor, indices: Tensor, kernelSize: IntPair, options: MaxUnpool2dOptions = {}): Tensor {
  const op = "maxUnpool2d";
  checkTensor(op, "input", input);
  checkTensor(op, "indices", indices);
  checkOptions(op, options, ["stride", "padding", "outputSize"]);
  if (input.ndim !== 3 && input.ndim !== 4) throw new ShapeError(`${op}: input must be [N, C, H, W] or [C, H, W], but got shape ${formatShape(input.shape)}`);
  if (indices.shape.length !== input.ndim || indices.shape.some((d, i) => d !== input.shape[i])) {
    throw new ShapeError(`${op}: indices must have the input's shape ${formatShape(input.shape)}, but got ${formatShape(indices.shape)}`);
  }
  const kernel = pair(op, "kernelSize", kernelSize, 1);
  const stride = pair(op, "stride", options.stride ?? kernel, 1);
  const padding = pair(op, "padding", options.padding ?? 0, 0);
  const [h, w] = input.shape.slice(-2) as [number, number];
  const defaults = [0, 1].map((i) => ([h, w][i]! - 1) * stride[i]! - 2 * padding[i]! + kernel[i]!) as [number, number];
  let size = defaults;
  if (options.outputSize !== undefined) {
    const s = options.outputSize;
    const ok = Array.isArray(s) && s.length === 2 && s.every((v, i) => Number.isInteger(v) && v > defaults[i]! - stride[i]! && v < defaults[i]! + stride[i]!);
    if (!ok) {
      throw new ArgumentError(`${op}: outputSize must be [H, W] within a stride of the default ${defaults[0]}x${defaults[1]} (stride [${stride.join(", ")}]), but got ${JSON.stringify(s)}`);
    }
    size = [s[0], s[1]];
  }
  if (size[0] < 1 || size[1] < 1) throw new ShapeError(`${op}: the output would be ${size[0]}x${size[1]} for input ${formatShape(input.shape)}`);
  const x = input.ndim === 4 ? input : input.unsqueeze(0);
  const i = indices.ndim === 4 ? indices : indices.unsqueeze(0);
  const y = MaxUnpool2dFunction.apply(x, i.detach(), size[0], size[1]);
  return input.ndim === 4 ? y : y.squeeze(0);
}
