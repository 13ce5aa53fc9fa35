import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";

// torch's kernel multiplies by 1.0f / 6.0f, a float32 constant, in float64 too: the same slope gives the same gradients.
const ONE_SIXTH = Math.fround(1 / 6);

/** 0 for x ≤ −3, 1 for x ≥ 3, x/6 + 1/2 between; derivative 1/6 strictly between −3 and 3, else 0 (torch's). */
export class Hardsigmoid extends Function {
  static override forward(ctx: Context, a: NDArray): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v <= -3 ? 0 : v >= 3 ? 1 : v / 6 + 0.5;
    }
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: Context, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v > -3 && v < 3 ? gp[i]! * ONE_SIXTH : 0;
    }
    return [out];
  }
}

/** torch.nn.functional.hardsigmoid: relu6(x + 3)/6. */
export function hardsigmoid(input: Tensor): Tensor {
  checkTensor("hardsigmoid", "input", input);
  return Hardsigmoid.apply(input);
}
