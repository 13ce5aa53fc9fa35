import { Tensor, tensor } from "@pico/core";
import { copyTensorInto } from "../dataset.js";

/**
 * A sample transform: rewrites, in place, the sample of `shape` (e.g. [C, H, W]) stored row-major in
 * `data` from `offset`. Working in place lets the DataLoader apply it straight inside its batch buffer,
 * so a transform allocates nothing per sample (at most a scratch buffer it keeps between calls).
 */
export type Transform = (data: Float32Array, offset: number, shape: readonly number[]) => void;

/** Applies a transform to a copy of `input`, for use outside a DataLoader. */
export function applyTransform(transform: Transform, input: Tensor): Tensor {
  const out = new Float32Array(input.size);
  copyTensorInto(input, out, 0, input.shape, "the input");
  transform(out, 0, input.shape);
  return tensor(out, { shape: input.shape });
}
