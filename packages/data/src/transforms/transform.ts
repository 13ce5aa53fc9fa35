import { Tensor, tensor } from "@pico/core";
import { copyTensorInto } from "../dataset.js";

/**
 * A sample transform: rewrites, in place, the sample of `shape` (e.g. [C, H, W]) stored row-major in
 * `data` from `offset`. Working in place lets the DataLoader apply it straight inside its batch buffer,
 * so a transform allocates nothing per sample (at most a scratch buffer it keeps between calls).
 *
 * A transform that changes the sample's shape (a crop, a resize) says so with `outputShape`: it reads
 * the sample of `shape` at `offset` and writes its output of `outputShape(shape)` at the same offset;
 * whoever calls it leaves room there for the larger of the two.
 */
export type Transform = ((data: Float32Array, offset: number, shape: readonly number[]) => void) & {
  outputShape?: (shape: readonly number[]) => number[];
};

/** The shape a sample of `shape` has after `transform`. */
export function transformedShape(transform: Transform, shape: readonly number[]): number[] {
  return transform.outputShape === undefined ? [...shape] : transform.outputShape(shape);
}

/** Applies a transform to a copy of `input`, for use outside a DataLoader. */
export function applyTransform(transform: Transform, input: Tensor): Tensor {
  const outShape = transformedShape(transform, input.shape);
  const outSize = outShape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(Math.max(input.size, outSize));
  copyTensorInto(input, out, 0, input.shape, "the input");
  transform(out, 0, input.shape);
  return tensor(out.length === outSize ? out : out.slice(0, outSize), { shape: outShape });
}
