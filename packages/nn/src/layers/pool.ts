import { ShapeError, formatShape, type Tensor } from "@pico/core";
import { checkTensor } from "../functional/check.js";
import type { IntPair } from "../functional/pair.js";

export interface PoolLayerOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Implicit padding on each side (−Infinity for max, zeros for average), at most half the kernel. Default 0. */
  padding?: IntPair;
  /** Round the output size up (PyTorch's ceil_mode). Default false. */
  ceilMode?: boolean;
}

/** The checks a pooling layer makes before calling its function, so that errors name the layer. */
export function checkPoolInput(
  layer: string,
  input: Tensor,
  kernel: readonly [number, number],
  padding: readonly [number, number],
  dilation: readonly [number, number] = [1, 1],
): void {
  checkTensor(layer, "input", input);
  if (input.ndim !== 3 && input.ndim !== 4) {
    throw new ShapeError(`${layer}: expected input of shape [N, C, H, W] or [C, H, W], but got rank ${input.ndim} with shape ${formatShape(input.shape)}`);
  }
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw new ShapeError(`${layer}: padding (${padding[0]}, ${padding[1]}) must be at most half the kernel size (${kernel[0]}, ${kernel[1]})`);
  }
  const h = input.shape[input.ndim - 2]!;
  const w = input.shape[input.ndim - 1]!;
  const kh = dilation[0] * (kernel[0] - 1) + 1;
  const kw = dilation[1] * (kernel[1] - 1) + 1;
  if (h + 2 * padding[0] < kh || w + 2 * padding[1] < kw) {
    const what = kh === kernel[0] && kw === kernel[1] ? "kernel" : "dilated kernel";
    throw new ShapeError(
      `${layer}: input of height × width ${h} × ${w} (with padding ${h + 2 * padding[0]} × ${w + 2 * padding[1]}) is smaller than the ${what} ${kh} × ${kw}`,
    );
  }
}
