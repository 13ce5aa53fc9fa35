import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";
import { logistic } from "./silu.js";

/** softplus(x) = log(1 + exp(x)) with no overflow. */
function softplus1(v: number): number {
  return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
}

/** x·tanh(softplus(x)); derivative tanh(sp) + x·sigmoid(x)·(1 − tanh²(sp)). */
export class Mish extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    for (let i = 0; i < o.length; i++) o[i] = x[i]! * Math.tanh(softplus1(x[i]!));
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      const t = Math.tanh(softplus1(v));
      o[i] = gp[i]! * (t + v * logistic(v) * (1 - t * t));
    }
    return [out];
  }
}

/** torch.nn.functional.mish: x·tanh(softplus(x)). */
export function mish(input: Tensor): Tensor {
  checkTensor("mish", "input", input);
  return Mish.apply(input);
}
