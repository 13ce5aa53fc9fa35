import { ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkOptions, checkTensor } from "./check.js";
import { checkReduction, reduce, type Reduction } from "./reduction.js";

/**
 * Mean squared error (input − target)², reduced by `reduction` (default "mean").
 * Unlike PyTorch, which broadcasts with a warning, shapes must match: [N] against [N, 1] is
 * almost always a bug.
 */
export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = "mseLoss";
  checkTensor(op, "input", input);
  checkTensor(op, "target", target);
  checkOptions("mseLoss", options, ["reduction"]);
  const reduction = options.reduction ?? "mean";
  checkReduction(op, reduction);
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new ShapeError(`${op}: input and target must have the same shape, but got ${formatShape(input.shape)} and ${formatShape(target.shape)}`);
  }
  const diff = input.sub(target);
  return reduce(diff.mul(diff), reduction);
}
