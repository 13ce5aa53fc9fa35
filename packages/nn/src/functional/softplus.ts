import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

/** log(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)) so that no exp overflows. */
export class Softplus extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const x = kernels.packed(a).data;
    const out = kernels.create(kernels.dtypeOf(a), a.shape);
    const o = out.data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    }
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: Context, g: NDArray): NDArray {
    const x = kernels.packed(ctx.savedTensors[0]!).data;
    const gp = kernels.packed(g).data;
    const out = kernels.create(kernels.dtypeOf(g), g.shape);
    const o = out.data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      // sigmoid(v), written so that exp never overflows.
      const e = Math.exp(-Math.abs(v));
      o[i] = gp[i]! * (v >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
    return out;
  }
}

export function softplus(input: Tensor): Tensor {
  checkTensor("softplus", "input", input);
  return Softplus.apply(input);
}
