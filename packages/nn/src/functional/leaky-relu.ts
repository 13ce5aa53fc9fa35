import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkNumber, checkTensor } from "./check.js";

type LeakyCtx = Context & { slope: number };

/** x where x > 0, slope · x elsewhere. */
export class LeakyRelu extends Function {
  static override forward(ctx: LeakyCtx, a: NDArray, slope: number): NDArray {
    const x = kernels.packed(a).data;
    const out = kernels.create(kernels.dtypeOf(a), a.shape);
    const o = out.data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      o[i] = v > 0 ? v : v * slope;
    }
    ctx.slope = slope;
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: LeakyCtx, g: NDArray): [NDArray, null] {
    const x = kernels.packed(ctx.savedTensors[0]!).data;
    const gp = kernels.packed(g).data;
    const out = kernels.create(kernels.dtypeOf(g), g.shape);
    const o = out.data;
    const slope = ctx.slope;
    for (let i = 0; i < o.length; i++) o[i] = x[i]! > 0 ? gp[i]! : gp[i]! * slope;
    return [out, null];
  }
}

export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  checkTensor("leakyRelu", "input", input);
  checkNumber("leakyRelu", "negativeSlope", negativeSlope, -Infinity, Infinity);
  return LeakyRelu.apply(input, negativeSlope);
}
