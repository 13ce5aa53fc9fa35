import { ShapeError, Tensor, defaultGenerator, formatShape, kernels } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";
import type { DropoutOptions } from "./dropout.js";

/**
 * torch.nn.functional.dropout2d: zeroes whole channels of [N, C, H, W] (or an unbatched [C, H, W]) with
 * probability p and scales the others by 1 / (1 − p): one draw per (sample, channel), so neighbouring
 * pixels, which are strongly correlated in feature maps, drop together.
 */
export function dropout2d(input: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  const op = "dropout2d";
  checkTensor(op, "input", input);
  checkNumber(op, "p (the probability of a channel being zeroed)", p, 0, 1);
  checkOptions(op, options, ["training", "generator"]);
  if (input.ndim !== 3 && input.ndim !== 4) throw new ShapeError(`${op}: input must be [N, C, H, W] or [C, H, W], but got shape ${formatShape(input.shape)}`);
  if (options.training === false || p === 0) return input;
  const gen = options.generator ?? defaultGenerator;
  const maskShape = input.ndim === 4 ? [input.shape[0]!, input.shape[1]!, 1, 1] : [input.shape[0]!, 1, 1];
  const mask = kernels.create(input.dtype, maskShape);
  const m = mask.data;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < m.length; i++) m[i] = gen.random() < p ? 0 : scale;
  return input.mul(new Tensor(mask, { retain: false }));
}
