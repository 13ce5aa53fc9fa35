import { ArgumentError, ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkTensor } from "../functional/check.js";

/** Throws unless `value` is an integer >= 1, naming the layer and the argument. */
export function checkPositiveInteger(layer: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ArgumentError(`${layer}: ${name} must be an integer >= 1, but got ${String(value)}`);
  }
}

/**
 * Checks that `input` is a Tensor of one of the allowed ranks whose channel axis (axis 1, or axis 0
 * for an unbatched rank) holds `channels`; `layouts` describe the expected shapes for the message.
 */
export function checkChannels(layer: string, input: Tensor, channels: number, ranks: readonly number[], channelAxis: (rank: number) => number, layouts: string): void {
  checkTensor(layer, "input", input);
  if (!ranks.includes(input.ndim)) {
    throw new ShapeError(`${layer}: expected input of shape ${layouts}, but got rank ${input.ndim} with shape ${formatShape(input.shape)}`);
  }
  if (input.shape[channelAxis(input.ndim)] !== channels) {
    throw new ShapeError(`${layer}: expected input with ${channels} channel${channels === 1 ? "" : "s"} ${layouts}, but got shape ${formatShape(input.shape)}`);
  }
}

/** PyTorch's way of printing a pair: `(5, 5)`. */
export function showPair(p: readonly [number, number]): string {
  return `(${p[0]}, ${p[1]})`;
}

/** Throws unless `value` is a boolean, naming the layer and the option. */
export function checkBoolean(layer: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new ArgumentError(`${layer}: ${name} must be a boolean, but got ${typeof value} ${String(value)}`);
  return value;
}
