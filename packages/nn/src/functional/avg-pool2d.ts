import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { avgPool2dBackward, avgPool2dForward } from "../kernels/avg-pool2d.js";
import { flatData } from "../kernels/flat.js";
import { pool2dGeometry, type Pool2dGeometry } from "../kernels/pool-geometry.js";
import type { AvgPoolDivisor } from "../kernels/avg-pool2d.js";
import { checkOptions } from "./check.js";
import type { IntPair } from "./pair.js";

export interface AvgPool2dOptions {
  /** Defaults to the kernel size. */
  stride?: IntPair;
  /** Implicit zero padding on each side, at most half the kernel. Default 0. */
  padding?: IntPair;
  /** Round the output size up, so that windows also start in the last partial stride. Default false. */
  ceilMode?: boolean;
  /** Count the padding in each window's divisor (PyTorch's default, true); false divides by the pixels inside the input. */
  countIncludePad?: boolean;
  /** Divide every window's sum by this non-zero number instead. Default none. */
  divisorOverride?: number | null;
}

export const AVG_POOL2D_OPTIONS = ["stride", "padding", "ceilMode", "countIncludePad", "divisorOverride"] as const;

type AvgPool2dContext = Context & { geometry: Pool2dGeometry; divisor: AvgPoolDivisor };

/** Mean over kH×kW windows of each channel. */
export class AvgPool2dFunction extends Function {
  static override forward(ctx: AvgPool2dContext, x: NDArray, kernelSize: IntPair, options: AvgPool2dOptions = {}): NDArray {
    checkOptions("avgPool2d", options, AVG_POOL2D_OPTIONS);
    const g = pool2dGeometry("avgPool2d", x.shape, kernelSize, { stride: options.stride, padding: options.padding, ceilMode: options.ceilMode });
    const countIncludePad = options.countIncludePad ?? true;
    if (typeof countIncludePad !== "boolean") throw new ArgumentError(`avgPool2d: countIncludePad must be a boolean, but got ${typeof countIncludePad}`);
    const divisorOverride = options.divisorOverride ?? null;
    if (divisorOverride !== null && !(Number.isInteger(divisorOverride) && divisorOverride !== 0)) {
      throw new ArgumentError(`avgPool2d: divisorOverride must be a non-zero integer or null, but got ${String(divisorOverride)}`);
    }
    const divisor = { countIncludePad, divisorOverride };
    const dtype = kernels.dtypeOf(x);
    const out = kernels.create(dtype, [g.batch, g.channels, g.outHeight, g.outWidth]);
    avgPool2dForward(flatData(x, dtype), g, divisor, out.data);
    ctx.geometry = g;
    ctx.divisor = divisor;
    return out;
  }

  static override backward(ctx: AvgPool2dContext, gy: NDArray): (NDArray | null)[] {
    const g = ctx.geometry;
    const dtype = kernels.dtypeOf(gy);
    const gx = kernels.create(dtype, [g.batch, g.channels, g.inHeight, g.inWidth]);
    avgPool2dBackward(flatData(gy, dtype), g, ctx.divisor, gx.data);
    return [gx, null, null];
  }
}

/**
 * 2-D average pooling over input [N, C, H, W] (or [C, H, W]), as torch's avg_pool2d: stride
 * defaults to kernelSize, padding at most half the kernel; ceilMode, countIncludePad (default true)
 * and divisorOverride as in PyTorch.
 */
export function avgPool2d(input: Tensor, kernelSize: IntPair, options: AvgPool2dOptions = {}): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`avgPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return AvgPool2dFunction.apply(input.unsqueeze(0), kernelSize, options).squeeze(0);
  return AvgPool2dFunction.apply(input, kernelSize, options);
}
