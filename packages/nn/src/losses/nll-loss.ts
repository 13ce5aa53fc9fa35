import type { Tensor } from "@pico/core";
import { nllLoss } from "../functional/nll-loss.js";
import { checkReduction, type Reduction } from "../functional/reduction.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";

export interface NLLLossOptions {
  /** A weight per class, shape [C] (kept as a buffer). */
  weight?: Tensor | null;
  /** Targets equal to this are skipped, also in the mean's denominator. Default -100. */
  ignoreIndex?: number;
  /** Default "mean". */
  reduction?: Reduction;
}

/**
 * Negative log-likelihood of class indices given log-probabilities (e.g. the output of LogSoftmax(1)).
 *
 * Shape: input [N, C] or [N, C, d1, ...]; target [N] or [N, d1, ...]; output a scalar, or the target's shape with "none".
 */
export class NLLLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  weight: Tensor | null;

  constructor(options: NLLLossOptions = {}) {
    super();
    checkOptions("NLLLoss", options, ["weight", "ignoreIndex", "reduction"]);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.reduction = options.reduction ?? "mean";
    checkReduction("NLLLoss", this.reduction);
    this.weight = this.registerBuffer("weight", options.weight ?? null);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}
