import { ArgumentError, ShapeError, Tensor, formatShape, indexSelect, where } from "@pico/core";
import { checkOptions, checkTensor } from "./check.js";

/**
 * torch.nn.functional.embedding: the rows of `weight` [numEmbeddings, dim] at the whole numbers in `input`
 * (any shape) → [...input.shape, dim]. Rows at `paddingIdx` are returned but get no gradient.
 */
export function embedding(input: Tensor, weight: Tensor, options: { paddingIdx?: number | null } = {}): Tensor {
  const op = "embedding";
  checkTensor(op, "input", input);
  checkTensor(op, "weight", weight);
  checkOptions(op, options, ["paddingIdx"]);
  if (weight.ndim !== 2) throw new ShapeError(`${op}: weight must be [numEmbeddings, embeddingDim], but got shape ${formatShape(weight.shape)}`);
  const flat = input.reshape([-1]);
  const rows = indexSelect(weight, 0, flat);
  const shape = [...input.shape, weight.shape[1]!];
  const paddingIdx = options.paddingIdx ?? null;
  if (paddingIdx === null) return rows.reshape(shape);
  const n = weight.shape[0]!;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -n || paddingIdx >= n) throw new ArgumentError(`${op}: paddingIdx must be a whole number in [-${n}, ${n}), but got ${paddingIdx}`);
  const pad = paddingIdx < 0 ? paddingIdx + n : paddingIdx;
  const isPad = flat.detach().eq(pad).reshape([-1, 1]);
  return where(isPad, rows.detach(), rows).reshape(shape);
}
