import { ArgumentError, ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkOptions, checkSameDtype, checkTensor } from "./check.js";
import { conv2d } from "./conv2d.js";

export interface Conv1dOptions {
  /** Default 1. */
  stride?: number;
  /** Zeros on each end, or "valid" (none) or "same" (stride 1; the odd extra one at the end). Default 0. */
  padding?: number | "same" | "valid";
  /** Default 1. */
  dilation?: number;
  /** Default 1. */
  groups?: number;
}

function checkInt(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) throw new ArgumentError(`conv1d: ${name} must be an integer >= ${min}, but got ${String(value)}`);
}

/**
 * torch.nn.functional.conv1d over [N, C, L] (or unbatched [C, L]) with weight [outC, C/groups, k]: the
 * conv2d kernels on a unit height (input [N, C, 1, L], weight [outC, C/groups, 1, k]), so it runs as fast
 * as they do and needs no gradient of its own.
 * Lout = floor((L + 2·padding − dilation·(k − 1) − 1) / stride) + 1.
 */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv1dOptions = {}): Tensor {
  const op = "conv1d";
  checkTensor(op, "input", input);
  checkTensor(op, "weight", weight);
  if (bias !== undefined && bias !== null) checkTensor(op, "bias", bias);
  checkOptions(op, options, ["stride", "padding", "dilation", "groups"]);
  checkSameDtype(op, input, "weight", weight);
  checkSameDtype(op, input, "bias", bias);
  if (input.ndim !== 2 && input.ndim !== 3) throw new ShapeError(`${op}: input must be rank 3 [N, C, L] (or rank 2 [C, L]), but got shape ${formatShape(input.shape)}`);
  if (weight.ndim !== 3) throw new ShapeError(`${op}: weight must be rank 3 [outC, C/groups, k], but got shape ${formatShape(weight.shape)}`);
  const stride = options.stride ?? 1;
  const dilation = options.dilation ?? 1;
  checkInt("stride", stride, 1);
  checkInt("dilation", dilation, 1);
  const padding = options.padding ?? 0;
  if (typeof padding === "number") checkInt("padding", padding, 0);
  else if (padding !== "same" && padding !== "valid") throw new ArgumentError(`${op}: padding must be an integer >= 0, "same" or "valid", but got ${JSON.stringify(padding)}`);
  const length = input.shape[input.ndim - 1]!;
  const padded = typeof padding === "number" ? length + 2 * padding : length;
  const span = dilation * (weight.shape[2]! - 1) + 1;
  if (padding !== "same" && padded < span) {
    throw new ShapeError(`${op}: input of length ${length} (${padded} with padding) is shorter than the kernel ${span} (dilated), in input of shape ${formatShape(input.shape)}`);
  }
  const x = input.unsqueeze(input.ndim - 1);
  const w = weight.unsqueeze(2);
  const y = conv2d(x, w, bias, {
    stride: [1, stride],
    dilation: [1, dilation],
    groups: options.groups ?? 1,
    padding: typeof padding === "number" ? [0, padding] : padding,
  });
  return y.squeeze(y.ndim - 2);
}
