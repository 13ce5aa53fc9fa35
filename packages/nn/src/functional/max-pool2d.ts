import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { argmaxBuffer } from "../kernels/argmax-buffer.js";
import { flatData } from "../kernels/flat.js";
import { maxPool2dBackward, maxPool2dForward, type MaxPool2x2Kernel } from "../kernels/max-pool2d.js";
import { pool2dGeometry, type Pool2dGeometry } from "../kernels/pool-geometry.js";
import { checkOptions } from "./check.js";
import type { IntPair } from "./pair.js";

export interface Pool2dOptions {
  /** Defaults to the kernel size. */
  stride?: IntPair;
  /** Implicit −Infinity padding on each side, at most half the kernel. Default 0. */
  padding?: IntPair;
  /** Spacing between the taps of a window. Default 1. */
  dilation?: IntPair;
  /** Round the output size up, so that windows also start in the last partial stride. Default false. */
  ceilMode?: boolean;
}

export const MAX_POOL2D_OPTIONS = ["stride", "padding", "dilation", "ceilMode"] as const;

/** kernel: the 2×2 float32 kernel the forward ran, whose backward the backward runs (null: the general scatter). */
type MaxPool2dContext = Context & { argmax: Int32Array; inputShape: number[]; geometry: Pool2dGeometry; kernel: MaxPool2x2Kernel | null; handOffGradInput: boolean };

/**
 * Max over kH×kW windows of each channel; the gradient goes to each window's first maximum (or last NaN).
 * `handOffGradInput` (default false): the caller knows x is read by this call alone, so its gradient goes to
 * the backward of the one Function that made x, and the 2×2 kernel may leave it in its module for that
 * backward (kernels.maxPool2x2BackwardWasm); only nn's fusion patterns set it.
 */
export class MaxPool2dFunction extends Function {
  static override forward(ctx: MaxPool2dContext, x: NDArray, kernelSize: IntPair, options: Pool2dOptions = {}, handOffGradInput = false): NDArray {
    return MaxPool2dFunction.forwardInto(ctx, undefined, x, kernelSize, options, handOffGradInput);
  }

  /** forward writing into `into` (packed, of the output's shape and dtype; a new array when undefined). */
  static forwardInto(
    ctx: MaxPool2dContext, into: NDArray | undefined, x: NDArray, kernelSize: IntPair, options: Pool2dOptions = {}, handOffGradInput = false,
  ): NDArray {
    checkOptions("maxPool2d", options, MAX_POOL2D_OPTIONS);
    const g = pool2dGeometry("maxPool2d", x.shape, kernelSize, options);
    const dtype = kernels.dtypeOf(x);
    // Every output element is written: no zero-fill first.
    const out = into ?? kernels.empty(dtype, [g.batch, g.channels, g.outHeight, g.outWidth]);
    const argmax = ctx.needsInputGrad[0] ? argmaxBuffer(ctx, out.size) : null;
    const kernel = maxPool2dForward(flatData(x, dtype), g, out.data, argmax);
    if (argmax !== null) {
      ctx.argmax = argmax;
      ctx.inputShape = [...x.shape];
      ctx.geometry = g;
      ctx.kernel = kernel;
      ctx.handOffGradInput = handOffGradInput === true;
    }
    return out;
  }

  static override backward(ctx: MaxPool2dContext, gy: NDArray): (NDArray | null)[] {
    const dtype = kernels.dtypeOf(gy);
    if (ctx.kernel !== null && dtype === "float32" && kernels.isPacked(gy)) {
      // The kernel writes every element.
      const gx = kernels.empty(dtype, ctx.inputShape);
      if (ctx.kernel.backward(gy.data as Float32Array, ctx.argmax, gx.data as Float32Array, ctx.geometry, ctx.handOffGradInput)) return gradients(ctx, gx);
      gx.data.fill(0);
      maxPool2dBackward({ data: gy.data, offset: 0 }, ctx.argmax, gx.data);
      return gradients(ctx, gx);
    }
    const gx = kernels.create(dtype, ctx.inputShape);
    maxPool2dBackward(flatData(gy, dtype), ctx.argmax, gx.data);
    return gradients(ctx, gx);
  }
}

/** gx, then null for every other argument the call received (options, and handOffGradInput when passed). */
function gradients(ctx: Context, gx: NDArray): (NDArray | null)[] {
  const out: (NDArray | null)[] = [gx];
  for (let i = 1; i < ctx.needsInputGrad.length; i++) out.push(null);
  return out;
}

/**
 * 2-D max pooling over input [N, C, H, W] (or [C, H, W]), as torch's max_pool2d: stride defaults to
 * kernelSize, padding (at most half the kernel) acts as −Infinity, taps are `dilation` apart.
 * Output size floor((H + 2·padding − dilation·(kH − 1) − 1) / stride) + 1, or with ceilMode the
 * ceiling, less one if that last window would start past the input and its left padding.
 */
export function maxPool2d(input: Tensor, kernelSize: IntPair, options: Pool2dOptions = {}): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`maxPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return MaxPool2dFunction.apply(input.unsqueeze(0), kernelSize, options).squeeze(0);
  return MaxPool2dFunction.apply(input, kernelSize, options);
}
