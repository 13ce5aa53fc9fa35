import { ArgumentError, ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";
import { normalizeAxes } from "./normalize-axes.js";

export interface GroupNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * torch.nn.functional.group_norm: the C channels of [N, C, *] split into `numGroups` groups of C / numGroups
 * channels; each sample's group is normalised with its own mean and biased variance, then `· weight + bias`
 * per channel (shape [C]) when given. Independent of the batch size (works at batch size 1).
 */
export function groupNorm(input: Tensor, numGroups: number, options: GroupNormOptions = {}): Tensor {
  const op = "groupNorm";
  checkTensor(op, "input", input);
  checkOptions(op, options, ["weight", "bias", "eps"]);
  const eps = options.eps ?? 1e-5;
  checkNumber(op, "eps", eps, 0, Infinity, { min: true });
  if (!Number.isInteger(numGroups) || numGroups < 1) throw new ArgumentError(`${op}: numGroups must be a positive integer, but got ${numGroups}`);
  if (input.ndim < 2) throw new ShapeError(`${op}: input must be [N, C, *] (rank >= 2), but got shape ${formatShape(input.shape)}`);
  const [n, c] = input.shape as [number, number];
  if (c % numGroups !== 0) throw new ShapeError(`${op}: the input's ${c} channels must be divisible by numGroups (${numGroups}), in input of shape ${formatShape(input.shape)}`);
  for (const [name, t] of [["weight", options.weight], ["bias", options.bias]] as const) {
    if (t === undefined || t === null) continue;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new ShapeError(`${op}: ${name} must have shape [${c}] (one per channel), but got ${formatShape(t.shape)}`);
  }
  let y = normalizeAxes(input.reshape([n, numGroups, -1]), [2], eps).reshape(input.shape);
  const perChannel = [c, ...Array<number>(input.ndim - 2).fill(1)];
  if (options.weight) y = y.mul(options.weight.reshape(perChannel));
  if (options.bias) y = y.add(options.bias.reshape(perChannel));
  return y;
}
