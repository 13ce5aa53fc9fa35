import { ArgumentError, ShapeError, formatShape } from "@pico/core";

/** An adaptive pool's output size: one number for both sides, or [height, width] where null keeps the input's. */
export type AdaptiveSize = number | readonly [number | null, number | null];

/** The [outHeight, outWidth] of `size` for an input of spatial size h × w, checked as PyTorch. */
export function adaptiveOutputSize(op: string, size: AdaptiveSize, shape: readonly number[]): [number, number] {
  if (shape.length !== 4) {
    throw new ShapeError(`${op}: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank ${shape.length} with shape ${formatShape(shape)}`);
  }
  const pair = typeof size === "number" ? [size, size] : Array.isArray(size) && size.length === 2 ? size : null;
  const [h, w] = [shape[2]!, shape[3]!];
  const out = pair?.map((s, i) => (s === null ? (i === 0 ? h : w) : s));
  if (out === undefined || !out.every((s) => Number.isInteger(s) && (s as number) >= 1)) {
    throw new ArgumentError(`${op}: outputSize must be an integer >= 1 or a pair [height, width] of them (null keeps the input's), but got ${JSON.stringify(size)}`);
  }
  if (h < 1 || w < 1) throw new ShapeError(`${op}: input ${formatShape(shape)} has an empty spatial dimension`);
  return out as [number, number];
}
