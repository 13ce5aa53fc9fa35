import { ArgumentError, Context, Function, Tensor, kernels, type NDArray } from "@pico/core";
import { adaptiveAvgPool2dBackward, adaptiveAvgPool2dForward, globalMean, type AdaptivePool2dGeometry } from "../kernels/adaptive-pool2d.js";
import { flatData } from "../kernels/flat.js";
import { adaptiveOutputSize, type AdaptiveSize } from "./adaptive-pool-size.js";

type AdaptiveAvgContext = Context & { geometry: AdaptivePool2dGeometry; inputShape: number[] };

/** Mean over PyTorch's adaptive windows: window i covers [floor(i·H / oH), ceil((i + 1)·H / oH)). */
export class AdaptiveAvgPool2dFunction extends Function {
  static override forward(ctx: AdaptiveAvgContext, x: NDArray, outputSize: AdaptiveSize): NDArray {
    return AdaptiveAvgPool2dFunction.forwardInto(ctx, undefined, x, outputSize);
  }

  /** forward writing into `into` (packed, of the output's shape and dtype; a new array when undefined). */
  static forwardInto(ctx: AdaptiveAvgContext, into: NDArray | undefined, x: NDArray, outputSize: AdaptiveSize): NDArray {
    const [outHeight, outWidth] = adaptiveOutputSize("adaptiveAvgPool2d", outputSize, x.shape);
    const [n, c, inHeight, inWidth] = x.shape as [number, number, number, number];
    const g = { planes: n * c, inHeight, inWidth, outHeight, outWidth };
    const dtype = kernels.dtypeOf(x);
    const out = into ?? kernels.create(dtype, [n, c, outHeight, outWidth]);
    adaptiveAvgPool2dForward(flatData(x, dtype), g, out.data);
    ctx.geometry = g;
    ctx.inputShape = [...x.shape];
    return out;
  }

  static override backward(ctx: AdaptiveAvgContext, gy: NDArray): (NDArray | null)[] {
    const dtype = kernels.dtypeOf(gy);
    // The global mean's backward writes every element: no zero-fill needed.
    const gx = globalMean(ctx.geometry) ? kernels.empty(dtype, ctx.inputShape) : kernels.create(dtype, ctx.inputShape);
    adaptiveAvgPool2dBackward(flatData(gy, dtype), ctx.geometry, gx.data);
    return [gx, null];
  }
}

/**
 * torch.nn.functional.adaptive_avg_pool2d: [N, C, H, W] (or [C, H, W]) → [N, C, oH, oW], each output
 * the mean of its window [floor(i·H / oH), ceil((i + 1)·H / oH)) (likewise for W); outputSize 1 is the
 * global average. null in outputSize keeps that input dimension.
 */
export function adaptiveAvgPool2d(input: Tensor, outputSize: AdaptiveSize): Tensor {
  if (!(input instanceof Tensor)) throw new ArgumentError(`adaptiveAvgPool2d: input must be a Tensor, but got ${typeof input}`);
  if (input.ndim === 3) return AdaptiveAvgPool2dFunction.apply(input.unsqueeze(0), outputSize).squeeze(0);
  return AdaptiveAvgPool2dFunction.apply(input, outputSize);
}
