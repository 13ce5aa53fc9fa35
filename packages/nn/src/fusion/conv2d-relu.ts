import { Function, kernels, type Context, type NDArray } from "@pico/core";
import { conv2dGeometry, type Conv2dOptions } from "../functional/conv2d.js";
import { flatData } from "../kernels/flat.js";

type Conv2dReluContext = Context & { geometry: kernels.Conv2dGeometry; run: kernels.Conv2dRun; prepared?: kernels.PreparedWeights };

/**
 * relu(conv2d(x, weight, bias)) with the ReLU applied by the convolution kernel to its output as it is
 * written (PyTorch's relu: `v < 0 ? 0 : v`, NaN kept), so the convolution's own output is never a
 * tensor and never read again. Options as Conv2dFunction's (explicit padding). Backward passes the
 * gradient where the output is > 0 (threshold_backward), then runs the convolution's backward on the
 * kernel its forward ran. Used by the fusion patterns (Conv2d → ReLU, and Conv2d → BatchNorm2d → ReLU
 * with the BatchNorm folded in evaluation).
 */
export class Conv2dReluFunction extends Function {
  static override forward(ctx: Conv2dReluContext, x: NDArray, weight: NDArray, bias: NDArray | null, options: Conv2dOptions = {}): NDArray {
    return Conv2dReluFunction.forwardInto(ctx, undefined, x, weight, bias, options);
  }

  /** forward writing into `into` (packed, of the output's shape and dtype; a new array when undefined). */
  static forwardInto(ctx: Conv2dReluContext, into: NDArray | undefined, x: NDArray, weight: NDArray, bias: NDArray | null, options: Conv2dOptions = {}): NDArray {
    const g = conv2dGeometry(x.shape, weight.shape, bias === null ? null : bias.shape, options);
    const dtype = [x, weight, bias].some((a) => a !== null && kernels.dtypeOf(a) === "float64") ? "float64" : "float32";
    const out = into ?? kernels.empty(dtype, [g.batch, g.outChannels, g.outHeight, g.outWidth]);
    const bFlat = bias === null ? null : flatData(bias, dtype);
    const run = kernels.conv2dForward(g, flatData(x, dtype), flatData(weight, dtype), bFlat, out.data, {
      relu: true,
      keepForBackward: ctx.needsInputGrad[1] === true,
      prepared: ctx.reused ? (ctx.prepared ??= new kernels.PreparedWeights()) : undefined,
    });
    if (ctx.needsInputGrad[0] || ctx.needsInputGrad[1] || ctx.needsInputGrad[2]) {
      ctx.geometry = g;
      ctx.run = run;
      ctx.saveForBackward(x, weight, out);
    }
    return out;
  }

  static override backward(ctx: Conv2dReluContext, gy: NDArray): (NDArray | null)[] {
    const [x, weight, out] = ctx.savedTensors as [NDArray, NDArray, NDArray];
    const g = ctx.geometry;
    const masked = kernels.binary("reluGrad", gy, out);
    const dtype = kernels.dtypeOf(masked);
    const gx = ctx.needsInputGrad[0] ? kernels.empty(dtype, x.shape) : null;
    const gw = ctx.needsInputGrad[1] ? kernels.empty(dtype, weight.shape) : null;
    const gb = ctx.needsInputGrad[2] ? kernels.empty(dtype, [g.outChannels]) : null;
    const input = gw !== null ? flatData(x, dtype) : null;
    kernels.conv2dBackward(ctx.run, g, flatData(masked, dtype), flatData(weight, dtype), input, { input: gx?.data ?? null, weight: gw?.data ?? null, bias: gb?.data ?? null });
    return [gx, gw, gb, null];
  }
}
