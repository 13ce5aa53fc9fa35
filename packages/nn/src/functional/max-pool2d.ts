import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { argmaxBuffer } from "../kernels/argmax-buffer.js";
import { flatData } from "../kernels/flat.js";
import { maxPool2dBackward, maxPool2dForward } from "../kernels/max-pool2d.js";
import { pool2dGeometry } from "../kernels/pool-geometry.js";
import type { IntPair } from "./pair.js";

export interface Pool2dOptions {
  /** Defaults to the kernel size. */
  stride?: IntPair;
  padding?: IntPair;
}

type MaxPool2dContext = Context & { argmax: Int32Array; inputShape: number[] };

/** Max over kH×kW windows of each channel; the gradient goes to each window's first maximum. */
export class MaxPool2dFunction extends Function {
  static override forward(ctx: MaxPool2dContext, x: NDArray, kernelSize: IntPair, options: Pool2dOptions = {}): NDArray {
    const g = pool2dGeometry("maxPool2d", x.shape, kernelSize, options);
    const dtype = kernels.dtypeOf(x);
    const out = kernels.create(dtype, [g.batch, g.channels, g.outHeight, g.outWidth]);
    const argmax = ctx.needsInputGrad[0] ? argmaxBuffer(ctx, out.size) : null;
    maxPool2dForward(flatData(x, dtype), g, out.data, argmax);
    if (argmax !== null) {
      ctx.argmax = argmax;
      ctx.inputShape = [...x.shape];
    }
    return out;
  }

  static override backward(ctx: MaxPool2dContext, gy: NDArray): (NDArray | null)[] {
    const dtype = kernels.dtypeOf(gy);
    const gx = kernels.create(dtype, ctx.inputShape);
    maxPool2dBackward(flatData(gy, dtype), ctx.argmax, gx.data);
    return [gx, null, null];
  }
}

/**
 * 2-D max pooling over input [N, C, H, W] (or [C, H, W]); stride defaults to kernelSize, padding
 * (at most half the kernel) acts as −Infinity. Output spatial size floor((H + 2·padding − kH) / stride) + 1.
 */
export function maxPool2d(input: Tensor, kernelSize: IntPair, options: Pool2dOptions = {}): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`maxPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return MaxPool2dFunction.apply(input.unsqueeze(0), kernelSize, options).squeeze(0);
  return MaxPool2dFunction.apply(input, kernelSize, options);
}
