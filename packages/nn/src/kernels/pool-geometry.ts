import { ArgumentError, ShapeError, formatShape } from "@pico/core";
import { pair, type IntPair } from "../functional/pair.js";

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
  /** Spacing between the taps of a max-pooling window (always 1 for average pooling). */
  dilationHeight: number;
  dilationWidth: number;
  /** The output size was rounded up (PyTorch's ceil_mode): the last window may hang over the padded input. */
  ceilMode: boolean;
  outHeight: number;
  outWidth: number;
}

export interface Pool2dGeometryOptions {
  stride?: IntPair | null;
  padding?: IntPair;
  dilation?: IntPair;
  ceilMode?: boolean;
}

/**
 * PyTorch's pooling output size: floor (or, with ceilMode, ceil) of
 * (size + 2·padding − dilation·(kernel − 1) − 1) / stride, plus 1; with ceilMode the last window
 * must start inside the input or its left padding, else it is dropped.
 */
export function poolOutputSize(size: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode: boolean): number {
  let out = Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out--;
  return out;
}

/**
 * Validates a pooling call as PyTorch does (stride defaults to the kernel size, padding at most
 * half the kernel, dilation and ceilMode as torch's max_pool2d / avg_pool2d).
 */
export function pool2dGeometry(op: string, shape: readonly number[], kernelSize: IntPair, options: Pool2dGeometryOptions): Pool2dGeometry {
  if (shape.length !== 4) {
    throw new ShapeError(`${op}: input must be rank 4 [N, C, H, W] (or rank 3 [C, H, W]), but got rank ${shape.length} with shape ${formatShape(shape)}`);
  }
  const kernel = pair(op, "kernelSize", kernelSize, 1);
  const stride = options.stride === undefined || options.stride === null ? kernel : pair(op, "stride", options.stride, 1);
  const padding = pair(op, "padding", options.padding ?? 0, 0);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  const ceilMode = options.ceilMode ?? false;
  if (typeof ceilMode !== "boolean") throw new ArgumentError(`${op}: ceilMode must be a boolean, but got ${typeof ceilMode} ${String(ceilMode)}`);
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw new ShapeError(`${op}: padding [${padding.join(", ")}] must be at most half of kernelSize [${kernel.join(", ")}]`);
  }
  const [batch, channels, inHeight, inWidth] = shape as [number, number, number, number];
  const outHeight = poolOutputSize(inHeight, kernel[0], stride[0], padding[0], dilation[0], ceilMode);
  const outWidth = poolOutputSize(inWidth, kernel[1], stride[1], padding[1], dilation[1], ceilMode);
  if (outHeight < 1 || outWidth < 1) {
    const dilated = dilation[0] !== 1 || dilation[1] !== 1 ? `, dilation [${dilation.join(", ")}]` : "";
    throw new ShapeError(
      `${op}: output size would be ${outHeight}x${outWidth} for input ${formatShape(shape)}, kernelSize [${kernel.join(", ")}], ` +
        `stride [${stride.join(", ")}], padding [${padding.join(", ")}]${dilated}; the padded input must be at least the ${dilated === "" ? "kernel" : "dilated kernel"} size in each spatial dimension`,
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
    dilationHeight: dilation[0],
    dilationWidth: dilation[1],
    ceilMode,
    outHeight,
    outWidth,
  };
}
