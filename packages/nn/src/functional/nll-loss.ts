import { Function, kernels, type Context, type NDArray, type Tensor } from "@pico/core";
import { checkOptions } from "./check.js";
import { classIndices, classTargets, classWeights, type ClassLayout } from "./class-targets.js";
import { reduceLosses } from "./cross-entropy.js";
import { checkReduction, type Reduction } from "./reduction.js";

export interface NllLossOptions {
  /** A weight per class, shape [C]. */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing, not even to the mean's denominator. Default -100. */
  ignoreIndex?: number;
  /** Default "mean": divided by the summed weights of the targets not ignored. */
  reduction?: Reduction;
}

interface NllPlan {
  layout: ClassLayout;
  weights: Float64Array | null;
  ignoreIndex: number;
  reduction: Reduction;
}

type NllCtx = Context & { plan: NllPlan; indices: Int32Array; denominator: number; shape: number[] };

/** −w[t]·input[t] at each position: picks the log-probability of the target class (the class indices an input, read on every call). */
export class NllLoss extends Function {
  static override forward(ctx: NllCtx, input: NDArray, target: NDArray, plan: NllPlan): NDArray {
    const x = kernels.packed(input).data;
    const { layout, weights, ignoreIndex } = plan;
    const { n, c, s } = layout;
    const indices = classIndices("nllLoss", target, c, ignoreIndex);
    const losses = new Float64Array(n * s);
    let denominator = 0;
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < s; j++) {
        const row = b * s + j;
        const t = indices[row]!;
        if (t === ignoreIndex) continue;
        const wt = weights === null ? 1 : weights[t]!;
        losses[row] = -wt * x[b * c * s + t * s + j]!;
        denominator += wt;
      }
    }
    ctx.plan = plan;
    ctx.indices = indices;
    ctx.denominator = denominator;
    ctx.shape = [...input.shape];
    return reduceLosses(losses, plan.reduction, denominator, kernels.dtypeOf(input), input.shape);
  }

  static override backward(ctx: NllCtx, g: NDArray): [NDArray, null, null] {
    const { layout, weights, ignoreIndex, reduction } = ctx.plan;
    const indices = ctx.indices;
    const { n, c, s } = layout;
    const gp = kernels.packed(g).data;
    const grad = kernels.create(kernels.dtypeOf(g), ctx.shape);
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < s; j++) {
        const row = b * s + j;
        const t = indices[row]!;
        if (t === ignoreIndex) continue;
        const scale = reduction === "none" ? gp[row]! : reduction === "sum" ? gp[0]! : gp[0]! / ctx.denominator;
        grad.data[b * c * s + t * s + j] = -(weights === null ? 1 : weights[t]!) * scale;
      }
    }
    return [grad, null, null];
  }
}

/** Negative log-likelihood of class-index targets given log-probabilities [N, C, d...], as torch's nll_loss. */
export function nllLoss(input: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const op = "nllLoss";
  checkOptions("nllLoss", options, ["weight", "ignoreIndex", "reduction"]);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? "mean";
  checkReduction(op, reduction);
  const layout = classTargets(op, input, target, ignoreIndex);
  const weights = classWeights(op, options.weight, layout.c);
  return NllLoss.apply(input, target, { layout, weights, ignoreIndex, reduction });
}
