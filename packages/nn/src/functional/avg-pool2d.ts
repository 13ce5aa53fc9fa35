import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { avgPool2dBackward, avgPool2dForward } from "../kernels/avg-pool2d.js";
import { flatData } from "../kernels/flat.js";
import { pool2dGeometry, type Pool2dGeometry } from "../kernels/pool-geometry.js";
import type { Pool2dOptions } from "./max-pool2d.js";
import type { IntPair } from "./pair.js";

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by kH·kW even where the window covers padding (PyTorch's default, true). */
  countIncludePad?: boolean;
}

type AvgPool2dContext = Context & { geometry: Pool2dGeometry; countIncludePad: boolean };

/** Mean over kH×kW windows of each channel. */
export class AvgPool2dFunction extends Function {
  static override forward(ctx: AvgPool2dContext, x: NDArray, kernelSize: IntPair, options: AvgPool2dOptions = {}): NDArray {
    const g = pool2dGeometry("avgPool2d", x.shape, kernelSize, options);
    const countIncludePad = options.countIncludePad ?? true;
    if (typeof countIncludePad !== "boolean") throw new ArgumentError(`avgPool2d: countIncludePad must be a boolean, but got ${typeof countIncludePad}`);
    const dtype = kernels.dtypeOf(x);
    const out = kernels.create(dtype, [g.batch, g.channels, g.outHeight, g.outWidth]);
    avgPool2dForward(flatData(x, dtype), g, countIncludePad, out.data);
    ctx.geometry = g;
    ctx.countIncludePad = countIncludePad;
    return out;
  }

  static override backward(ctx: AvgPool2dContext, gy: NDArray): (NDArray | null)[] {
    const g = ctx.geometry;
    const dtype = kernels.dtypeOf(gy);
    const gx = kernels.create(dtype, [g.batch, g.channels, g.inHeight, g.inWidth]);
    avgPool2dBackward(flatData(gy, dtype), g, ctx.countIncludePad, gx.data);
    return [gx, null, null];
  }
}

/**
 * 2-D average pooling over input [N, C, H, W] (or [C, H, W]); stride defaults to kernelSize,
 * padding at most half the kernel, countIncludePad (default true) as in PyTorch.
 */
export function avgPool2d(input: Tensor, kernelSize: IntPair, options: AvgPool2dOptions = {}): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`avgPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return AvgPool2dFunction.apply(input.unsqueeze(0), kernelSize, options).squeeze(0);
  return AvgPool2dFunction.apply(input, kernelSize, options);
}
