import { ArgumentError, ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkTensor } from "./check.js";

function check(op: string, input: Tensor, factor: number): void {
  checkTensor(op, "input", input);
  if (!Number.isInteger(factor) || factor < 1) throw new ArgumentError(`${op}: the factor must be a positive integer, but got ${factor}`);
  if (input.ndim < 3) throw new ShapeError(`${op}: input must be [*, C, H, W], but got shape ${formatShape(input.shape)}`);
}

/**
 * torch.nn.functional.pixel_shuffle: [*, C·r², H, W] → [*, C, H·r, W·r], each group of r² channels laid out
 * as an r×r block (sub-pixel convolution upsampling). A reshape, permute and reshape.
 */
export function pixelShuffle(input: Tensor, upscaleFactor: number): Tensor {
  const op = "pixelShuffle";
  check(op, input, upscaleFactor);
  const r = upscaleFactor;
  const lead = input.shape.slice(0, -3);
  const [c, h, w] = input.shape.slice(-3) as [number, number, number];
  if (c % (r * r) !== 0) throw new ShapeError(`${op}: the input's ${c} channels must be divisible by upscaleFactor² = ${r * r}, in input of shape ${formatShape(input.shape)}`);
  const k = lead.length;
  const x = input.reshape([...lead, c / (r * r), r, r, h, w]);
  const order = [...Array.from({ length: k }, (_, i) => i), k, k + 3, k + 1, k + 4, k + 2];
  return x.permute(order).reshape([...lead, c / (r * r), h * r, w * r]);
}

/** torch.nn.functional.pixel_unshuffle, the inverse: [*, C, H·r, W·r] → [*, C·r², H, W]. */
export function pixelUnshuffle(input: Tensor, downscaleFactor: number): Tensor {
  const op = "pixelUnshuffle";
  check(op, input, downscaleFactor);
  const r = downscaleFactor;
  const lead = input.shape.slice(0, -3);
  const [c, h, w] = input.shape.slice(-3) as [number, number, number];
  if (h % r !== 0 || w % r !== 0) throw new ShapeError(`${op}: height ${h} and width ${w} must be divisible by downscaleFactor ${r}, in input of shape ${formatShape(input.shape)}`);
  const k = lead.length;
  const x = input.reshape([...lead, c, h / r, r, w / r, r]);
  const order = [...Array.from({ length: k }, (_, i) => i), k, k + 2, k + 4, k + 1, k + 3];
  return x.permute(order).reshape([...lead, c * r * r, h / r, w / r]);
}
