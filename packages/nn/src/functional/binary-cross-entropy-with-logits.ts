import { ShapeError, formatShape, kernels, type Tensor } from "@pico/core";
import { checkOptions, checkTensor } from "./check.js";
import { checkReduction, reduce, type Reduction } from "./reduction.js";
import { softplus } from "./softplus.js";

export interface BceWithLogitsOptions {
  /** Rescales each element's loss; broadcast against the input. */
  weight?: Tensor | null;
  /** Weight of the positive term per class (broadcast against the input, usually shape [C]). */
  posWeight?: Tensor | null;
  /** Default "mean". */
  reduction?: Reduction;
}

/**
 * Binary cross-entropy of sigmoid(input) against target in [0, 1], computed from the logits without
 * ever forming sigmoid: loss = (1 − y)·x + (1 + (posWeight − 1)·y)·softplus(−x).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = "binaryCrossEntropyWithLogits";
  checkTensor(op, "input", input);
  checkTensor(op, "target", target);
  checkOptions("binaryCrossEntropyWithLogits", options, ["weight", "posWeight", "reduction"]);
  const reduction = options.reduction ?? "mean";
  checkReduction(op, reduction);
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new ShapeError(`${op}: target must have the input's shape ${formatShape(input.shape)}, but got ${formatShape(target.shape)}`);
  }
  const negativeLogSigmoid = softplus(input.neg(), { threshold: Infinity });
  let loss: Tensor;
  const posWeight = options.posWeight ?? null;
  if (posWeight === null) {
    loss = target.neg().add(1).mul(input).add(negativeLogSigmoid);
  } else {
    checkTensor(op, "posWeight", posWeight);
    checkBroadcast(op, "posWeight", posWeight.shape, input.shape);
    const positive = posWeight.sub(1).mul(target).add(1);
    loss = target.neg().add(1).mul(input).add(positive.mul(negativeLogSigmoid));
  }
  const weight = options.weight ?? null;
  if (weight !== null) {
    checkTensor(op, "weight", weight);
    checkBroadcast(op, "weight", weight.shape, input.shape);
    loss = loss.mul(weight);
  }
  return reduce(loss, reduction);
}

function checkBroadcast(op: string, name: string, shape: readonly number[], target: readonly number[]): void {
  const out = kernels.broadcastShapes(`${op}: ${name}`, shape, target);
  if (out.length !== target.length || out.some((d, i) => d !== target[i])) {
    throw new ShapeError(`${op}: ${name} of shape ${formatShape(shape)} must broadcast to the input's shape ${formatShape(target)}`);
  }
}
