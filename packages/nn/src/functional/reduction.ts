import { ArgumentError, type Tensor } from "@pico/core";

/** How a loss combines its per-element values: their mean (default), their sum, or not at all. */
export type Reduction = "mean" | "sum" | "none";

export function checkReduction(op: string, reduction: unknown): asserts reduction is Reduction {
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw new ArgumentError(`${op}: reduction must be "mean", "sum" or "none", but got ${JSON.stringify(reduction)}`);
  }
}

/** Applies `reduction` to per-element losses. */
export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === "none") return loss;
  return reduction === "sum" ? loss.sum() : loss.mean();
}
