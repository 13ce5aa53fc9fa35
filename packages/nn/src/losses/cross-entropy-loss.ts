import type { Tensor } from "@pico/core";
import { checkNumber } from "../functional/check.js";
import { crossEntropyOf } from "../functional/cross-entropy.js";
import { checkReduction, type Reduction } from "../functional/reduction.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";

export interface CrossEntropyLossOptions {
  /** A weight per class, shape [C] (kept as a buffer). */
  weight?: Tensor | null;
  /** Targets equal to this are skipped, also in the mean's denominator. Default -100. */
  ignoreIndex?: number;
  /** Default "mean". */
  reduction?: Reduction;
  /** Target distribution (1 − ε)·onehot + ε / C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Cross-entropy from logits and class indices, with a fused, stable log-softmax.
 *
 * Shape: input [N, C] or [N, C, d1, ...] (or [C]); target [N] or [N, d1, ...] (or []) holding
 * integers in [0, C) or ignoreIndex, or class probabilities of the input's own shape; output a
 * scalar, or the input's shape without the class axis with reduction "none".
 *
 * @example new CrossEntropyLoss().forward(logits, labels)
 */
export class CrossEntropyLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;
  weight: Tensor | null;

  constructor(options: CrossEntropyLossOptions = {}) {
    super();
    checkOptions("CrossEntropyLoss", options, ["weight", "ignoreIndex", "reduction", "labelSmoothing"]);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.reduction = options.reduction ?? "mean";
    this.labelSmoothing = options.labelSmoothing ?? 0;
    checkReduction("CrossEntropyLoss", this.reduction);
    checkNumber("CrossEntropyLoss", "labelSmoothing", this.labelSmoothing, 0, 1);
    this.weight = this.registerBuffer("weight", options.weight ?? null);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropyOf(input, target, this.weight, this.ignoreIndex, this.reduction, this.labelSmoothing);
  }
}
