import { ArgumentError, ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkNumber, checkOptions, checkTensor } from "./check.js";
import { normalizeAxes } from "./normalize-axes.js";

export interface LayerNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * torch.nn.functional.layer_norm: each sample normalised over its last `normalizedShape.length` axes
 * (which must equal `normalizedShape`) with their mean and biased variance, then `· weight + bias`
 * (both of shape normalizedShape) when given.
 */
export function layerNorm(input: Tensor, normalizedShape: readonly number[], options: LayerNormOptions = {}): Tensor {
  const op = "layerNorm";
  checkTensor(op, "input", input);
  checkOptions(op, options, ["weight", "bias", "eps"]);
  const eps = options.eps ?? 1e-5;
  checkNumber(op, "eps", eps, 0, Infinity, { min: true });
  checkNormalizedShape(op, normalizedShape);
  const d = normalizedShape.length;
  const tail = input.shape.slice(input.ndim - d);
  if (input.ndim < d || tail.some((s, i) => s !== normalizedShape[i])) {
    throw new ShapeError(`${op}: normalizedShape ${formatShape(normalizedShape)} must match the input's last ${d} axes, [*, ${normalizedShape.join(", ")}], but got input of shape ${formatShape(input.shape)}`);
  }
  for (const [name, t] of [["weight", options.weight], ["bias", options.bias]] as const) {
    if (t === undefined || t === null) continue;
    checkTensor(op, name, t);
    if (t.shape.length !== d || t.shape.some((s, i) => s !== normalizedShape[i])) {
      throw new ShapeError(`${op}: ${name} must have shape normalizedShape ${formatShape(normalizedShape)}, but got ${formatShape(t.shape)}`);
    }
  }
  let y = normalizeAxes(input, Array.from({ length: d }, (_, i) => input.ndim - d + i), eps);
  if (options.weight) y = y.mul(options.weight);
  if (options.bias) y = y.add(options.bias);
  return y;
}

export function checkNormalizedShape(op: string, normalizedShape: unknown): asserts normalizedShape is readonly number[] {
  if (!Array.isArray(normalizedShape) || normalizedShape.length === 0 || normalizedShape.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new ArgumentError(`${op}: normalizedShape must be a non-empty list of positive integers, but got ${JSON.stringify(normalizedShape)}`);
  }
}
