import type { Tensor } from "@pico/core";
import { binaryCrossEntropyWithLogits } from "../functional/binary-cross-entropy-with-logits.js";
import { checkReduction, type Reduction } from "../functional/reduction.js";
import { checkOptions } from "../functional/check.js";
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
  /** torch's buffer name, so that the state-dict key is `pos_weight`; `posWeight` reads it. */
  pos_weight: Tensor | null;

  constructor(options: BCEWithLogitsLossOptions = {}) {
    super();
    checkOptions("BCEWithLogitsLoss", options, ["weight", "posWeight", "reduction"]);
    this.reduction = options.reduction ?? "mean";
    checkReduction("BCEWithLogitsLoss", this.reduction);
    this.weight = this.registerBuffer("weight", options.weight ?? null);
    this.pos_weight = this.registerBuffer("pos_weight", options.posWeight ?? null);
  }

  get posWeight(): Tensor | null {
    return this.pos_weight;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.pos_weight, reduction: this.reduction });
  }
}
