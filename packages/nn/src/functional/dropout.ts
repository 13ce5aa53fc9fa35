import { Tensor, defaultGenerator, kernels, type Generator } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";

export interface DropoutOptions {
  /** Whether to drop (true, default) or return the input unchanged (as in evaluation). */
  training?: boolean;
  /** Source of the random mask; default the global default generator. */
  generator?: Generator;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) (inverted dropout),
 * so the expected value is unchanged and evaluation needs no rescaling.
 */
export function dropout(input: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  checkTensor("dropout", "input", input);
  checkNumber("dropout", "p (the probability of an element being zeroed)", p, 0, 1);
  checkOptions("dropout", options, ["training", "generator"]);
  if (options.training === false || p === 0) return input;
  const gen = options.generator ?? defaultGenerator;
  const mask = kernels.create(input.dtype, input.shape);
  const m = mask.data;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < m.length; i++) m[i] = gen.random() < p ? 0 : scale;
  return input.mul(new Tensor(mask, { retain: false }));
}
