import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkNumber, checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";

type EluContext = Context & { alpha: number };

/** x where x > 0, α·(exp(x) − 1) elsewhere; derivative 1, or α·exp(x). */
export class Elu extends Function {
  static override forward(ctx: EluContext, a: NDArray, alpha = 1): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v > 0 ? v : alpha * Math.expm1(v);
    }
    ctx.alpha = alpha;
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: EluContext, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    const alpha = ctx.alpha;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v > 0 ? gp[i]! : gp[i]! * alpha * Math.exp(v);
    }
    return [out, null];
  }
}

/** torch.nn.functional.elu: x for x > 0, α·(exp(x) − 1) otherwise (default α = 1). */
export function elu(input: Tensor, alpha = 1): Tensor {
  checkTensor("elu", "input", input);
  checkNumber("elu", "alpha", alpha, -Infinity, Infinity);
  return Elu.apply(input, alpha);
}
