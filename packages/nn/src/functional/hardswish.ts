import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";

/** 0 for x ≤ −3, x for x ≥ 3, x·(x + 3)/6 between; torch's derivative: 0 below −3, x/3 + 1/2 up to 3 (inclusive), 1 above. */
export class Hardswish extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v <= -3 ? 0 : v >= 3 ? v : (v * (v + 3)) / 6;
    }
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v < -3 ? 0 : v <= 3 ? gp[i]! * (v / 3 + 0.5) : gp[i]!;
    }
    return [out];
  }
}

/** torch.nn.functional.hardswish: x·relu6(x + 3)/6 (MobileNetV3). */
export function hardswish(input: Tensor): Tensor {
  checkTensor("hardswish", "input", input);
  return Hardswish.apply(input);
}
