import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";

/** The logistic function without overflow for large |x|. */
export function logistic(v: number): number {
  const e = Math.exp(-Math.abs(v));
  return v >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** x·sigmoid(x) (also called swish); derivative s·(1 + x·(1 − s)). */
export class Silu extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    for (let i = 0; i < o.length; i++) o[i] = x[i]! * logistic(x[i]!);
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    for (let i = 0; i < o.length; i++) {
      const s = logistic(x[i]!);
      o[i] = gp[i]! * s * (1 + x[i]! * (1 - s));
    }
    return [out];
  }
}

/** torch.nn.functional.silu: x·sigmoid(x). */
export function silu(input: Tensor): Tensor {
  checkTensor("silu", "input", input);
  return Silu.apply(input);
}
