import type { Tensor } from "@pico/core";
import { binaryCrossEntropyWithLogits } from "../functional/binary-cross-entropy-with-logits.js";
import { checkReduction, type Reduction } from "../functional/reduction.js";
import { Module } from "../module.js";

export interface BCEWithLogitsLossOptions {
  /** Rescales each element's loss, broadcast against the input (kept as a buffer). */
  weight?: Tensor | null;
  /** Weight of positive examples, broadcast against the input, usually one per class [C] (kept as a buffer). */
  posWeight?: Tensor | null;
  /** Default "mean". */
  reduction?: Reduction;
}

/**
 * Sigmoid and binary cross-entropy in one stable step: logits of any size give finite losses.
 *
 * Shape: input and target (probabilities in [0, 1]) of the same shape; output a scalar, or that shape with "none".
 */
export class BCEWithLogitsLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  weight: Tensor | null;
  posWeight: Tensor | null;

  constructor(options: BCEWithLogitsLossOptions = {}) {
    super();
    this.reduction = options.reduction ?? "mean";
    checkReduction("BCEWithLogitsLoss", this.reduction);
    this.weight = this.registerBuffer("weight", options.weight ?? null);
    this.posWeight = this.registerBuffer("posWeight", options.posWeight ?? null);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}
