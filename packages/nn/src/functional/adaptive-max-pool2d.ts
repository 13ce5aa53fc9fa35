import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { adaptiveMaxPool2dForward } from "../kernels/adaptive-pool2d.js";
import { argmaxBuffer } from "../kernels/argmax-buffer.js";
import { flatData } from "../kernels/flat.js";
import { maxPool2dBackward } from "../kernels/max-pool2d.js";
import { adaptiveOutputSize, type AdaptiveSize } from "./adaptive-pool-size.js";

type AdaptiveMaxContext = Context & { argmax: Int32Array; inputShape: number[] };

/** Max over PyTorch's adaptive windows; the gradient goes to each window's first maximum (or last NaN). */
export class AdaptiveMaxPool2dFunction extends Function {
  static override forward(ctx: AdaptiveMaxContext, x: NDArray, outputSize: AdaptiveSize): NDArray {
    const [outHeight, outWidth] = adaptiveOutputSize("adaptiveMaxPool2d", outputSize, x.shape);
    const [n, c, inHeight, inWidth] = x.shape as [number, number, number, number];
    const dtype = kernels.dtypeOf(x);
    const out = kernels.create(dtype, [n, c, outHeight, outWidth]);
    const argmax = ctx.needsInputGrad[0] ? argmaxBuffer(ctx, out.size) : null;
    adaptiveMaxPool2dForward(flatData(x, dtype), { planes: n * c, inHeight, inWidth, outHeight, outWidth }, out.data, argmax);
    if (argmax !== null) {
      ctx.argmax = argmax;
      ctx.inputShape = [...x.shape];
    }
    return out;
  }

  static override backward(ctx: AdaptiveMaxContext, gy: NDArray): (NDArray | null)[] {
    const dtype = kernels.dtypeOf(gy);
    const gx = kernels.create(dtype, ctx.inputShape);
    maxPool2dBackward(flatData(gy, dtype), ctx.argmax, gx.data);
    return [gx, null];
  }
}

/**
 * torch.nn.functional.adaptive_max_pool2d (without return_indices): [N, C, H, W] (or [C, H, W]) →
 * [N, C, oH, oW], each output the max of its window [floor(i·H / oH), ceil((i + 1)·H / oH)).
 */
export function adaptiveMaxPool2d(input: Tensor, outputSize: AdaptiveSize): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`adaptiveMaxPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return AdaptiveMaxPool2dFunction.apply(input.unsqueeze(0), outputSize).squeeze(0);
  return AdaptiveMaxPool2dFunction.apply(input, outputSize);
}
