import { ArgumentError, Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";

export interface SoftplusOptions {
  /** Sharpness: log(1 + exp(β·x)) / β. Default 1. */
  beta?: number;
  /** Where β·x is above this, the result is x itself (and the gradient 1), as PyTorch. Default 20. */
  threshold?: number;
}

type SoftplusContext = Context & { beta: number; threshold: number };

/**
 * log(1 + exp(β·x)) / β, computed as (max(β·x, 0) + log1p(exp(−|β·x|))) / β so that no exp
 * overflows; x itself where β·x > threshold.
 */
export class Softplus extends Function {
  static override forward(ctx: SoftplusContext, a: NDArray, beta = 1, threshold = 20): NDArray {
    const x = kernels.packed(a).data;
    const out = kernels.create(kernels.dtypeOf(a), a.shape);
    const o = out.data;
    for (let i = 0; i < o.length; i++) {
      const v = x[i]!;
      const bv = beta * v;
      o[i] = bv > threshold ? v : (Math.max(bv, 0) + Math.log1p(Math.exp(-Math.abs(bv)))) / beta;
    }
    ctx.beta = beta;
    ctx.threshold = threshold;
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: SoftplusContext, g: NDArray): (NDArray | null)[] {
    const x = kernels.packed(ctx.savedTensors[0]!).data;
    const gp = kernels.packed(g).data;
    const out = kernels.create(kernels.dtypeOf(g), g.shape);
    const o = out.data;
    const { beta, threshold } = ctx;
    for (let i = 0; i < o.length; i++) {
      const bv = beta * x[i]!;
      if (bv > threshold) {
        o[i] = gp[i]!;
        continue;
      }
      // sigmoid(β·x), written so that exp never overflows.
      const e = Math.exp(-Math.abs(bv));
      o[i] = gp[i]! * (bv >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
    return [out, null, null];
  }
}

/** torch.nn.functional.softplus: log(1 + exp(β·x)) / β, linear (x) where β·x > threshold. */
export function softplus(input: Tensor, options: SoftplusOptions = {}): Tensor {
  checkTensor("softplus", "input", input);
  checkOptions("softplus", options, ["beta", "threshold"]);
  const beta = options.beta ?? 1;
  const threshold = options.threshold ?? 20;
  checkNumber("softplus", "beta", beta, 0, Infinity, { min: true });
  if (typeof threshold !== "number" || Number.isNaN(threshold)) throw new ArgumentError(`softplus: threshold must be a number, but got ${String(threshold)}`);
  return Softplus.apply(input, beta, threshold);
}
