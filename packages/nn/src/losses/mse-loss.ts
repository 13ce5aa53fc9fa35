import type { Tensor } from "@pico/core";
import { mseLoss } from "../functional/mse-loss.js";
import { checkReduction, type Reduction } from "../functional/reduction.js";
import { checkOptions } from "../functional/check.js";
import { Module } from "../module.js";

/**
 * Mean squared error between input and target.
 *
 * Shape: input and target of the same shape; output a scalar, or that shape with reduction "none".
 */
export class MSELoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;

  constructor(options: { reduction?: Reduction } = {}) {
    super();
    checkOptions("MSELoss", options, ["reduction"]);
    this.reduction = options.reduction ?? "mean";
    checkReduction("MSELoss", this.reduction);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}
