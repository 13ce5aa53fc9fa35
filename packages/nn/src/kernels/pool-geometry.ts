import { ShapeError, formatShape } from "@pico/core";
import { pair, type IntPair } from "../functional/pair.js";
import { outputSize } from "./conv-geometry.js";

/** What a 2-D pooling kernel needs: every (n, c) plane is pooled the same way. */
export interface Pool2dGeometry {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
  outHeight: number;
  outWidth: number;
}

/** Validates a pooling call as PyTorch does (stride defaults to the kernel size, padding at most half the kernel). */
export function pool2dGeometry(
  op: string,
  shape: readonly number[],
  kernelSize: IntPair,
  options: { stride?: IntPair | null; padding?: IntPair },
): Pool2dGeometry {
  if (shape.length !== 4) {
    throw new ShapeError(`${op}: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank ${shape.length} with shape ${formatShape(shape)}`);
  }
  const kernel = pair(op, "kernelSize", kernelSize, 1);
  const stride = options.stride === undefined || options.stride === null ? kernel : pair(op, "stride", options.stride, 1);
  const padding = pair(op, "padding", options.padding ?? 0, 0);
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw new ShapeError(`${op}: padding [${padding.join(", ")}] must be at most half of kernelSize [${kernel.join(", ")}]`);
  }
  const [batch, channels, inHeight, inWidth] = shape as [number, number, number, number];
  const outHeight = outputSize(inHeight, kernel[0], stride[0], padding[0], 1);
  const outWidth = outputSize(inWidth, kernel[1], stride[1], padding[1], 1);
  if (outHeight < 1 || outWidth < 1) {
    throw new ShapeError(
      `${op}: output size would be ${outHeight}x${outWidth} for input ${formatShape(shape)}, kernelSize [${kernel.join(", ")}], ` +
        `stride [${stride.join(", ")}], padding [${padding.join(", ")}]; the padded input must be at least the kernel size in each spatial dimension`,
    );
  }
  return {
    batch,
    channels,
    inHeight,
    inWidth,
    kernelHeight: kernel[0],
    kernelWidth: kernel[1],
    strideHeight: stride[0],
    strideWidth: stride[1],
    padHeight: padding[0],
    padWidth: padding[1],
    outHeight,
    outWidth,
  };
}
