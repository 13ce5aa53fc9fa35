import { ArgumentError, Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { erf } from "./erf.js";
import { checkTensor } from "./check.js";
import { pointwiseBuffers } from "./pointwise.js";

export type GeluApproximate = "none" | "tanh";

type GeluContext = Context & { approximate: GeluApproximate };

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_PI = Math.sqrt(2 / Math.PI);
const K = 0.044715;

/** x·Φ(x) with Φ the standard normal CDF ("none"), or its tanh approximation 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export class Gelu extends Function {
  static override forward(ctx: GeluContext, a: NDArray, approximate: GeluApproximate = "none"): NDArray {
    const { x, out, o } = pointwiseBuffers(a);
    if (approximate === "tanh") {
      for (let i = 0; i < o.length; i++) {
        const v = x[i]!;
        o[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_PI * (v + K * v * v * v)));
      }
    } else {
      for (let i = 0; i < o.length; i++) o[i] = 0.5 * x[i]! * (1 + erf(x[i]! * SQRT1_2));
    }
    ctx.approximate = approximate;
    ctx.saveForBackward(a);
    return out;
  }

  static override backward(ctx: GeluContext, g: NDArray): (NDArray | null)[] {
    const { x, out, o } = pointwiseBuffers(ctx.savedTensors[0]!);
    const gp = kernels.packed(g).data;
    if (ctx.approximate === "tanh") {
      for (let i = 0; i < o.length; i++) {
        const v = x[i]!;
        const t = Math.tanh(SQRT_2_PI * (v + K * v * v * v));
        o[i] = gp[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_PI * (1 + 3 * K * v * v));
      }
    } else {
      for (let i = 0; i < o.length; i++) {
        const v = x[i]!;
        o[i] = gp[i]! * (0.5 * (1 + erf(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
    }
    return [out, null];
  }
}

/** torch.nn.functional.gelu: x·Φ(x), or with `approximate: "tanh"` the tanh form (as BERT and GPT-2 use). */
export function gelu(input: Tensor, options: { approximate?: GeluApproximate } = {}): Tensor {
  checkTensor("gelu", "input", input);
  const approximate = options.approximate ?? "none";
  checkApproximate("gelu", approximate);
  return Gelu.apply(input, approximate);
}

export function checkApproximate(op: string, approximate: unknown): asserts approximate is GeluApproximate {
  if (approximate !== "none" && approximate !== "tanh") throw new ArgumentError(`${op}: approximate must be "none" or "tanh", but got ${JSON.stringify(approximate)}`);
}
