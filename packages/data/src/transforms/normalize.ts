import { ArgumentError, ShapeError, formatShape } from "@pico/core";
import type { Transform } from "./transform.js";

/**
 * `(x - mean[c]) / std[c]` for every element of channel c (axis 0 of the sample), like
 * torchvision's Normalize. A single number applies to every channel.
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[]): Transform {
  const means = typeof mean === "number" ? [mean] : [...mean];
  const stds = typeof std === "number" ? [std] : [...std];
  if (means.length === 0 || means.length !== stds.length) {
    throw new ArgumentError(`normalize: mean and std need the same non-zero number of channels, but got ${means.length} and ${stds.length}`);
  }
  if (means.some((m) => !Number.isFinite(m)) || stds.some((s) => !Number.isFinite(s) || s === 0)) {
    throw new ArgumentError(`normalize: mean must be finite and std finite and non-zero, but got mean [${means}] and std [${stds}]`);
  }
  const broadcast = means.length === 1;
  return (data, offset, shape) => {
    const channels = shape.length === 0 ? 1 : shape[0]!;
    if (!broadcast && channels !== means.length) {
      throw new ShapeError(`normalize: ${means.length} channel means for a sample of shape ${formatShape(shape)} with ${channels} channels [C, H, W]`);
    }
    let plane = 1;
    for (let k = 1; k < shape.length; k++) plane *= shape[k]!;
    for (let c = 0; c < channels; c++) {
      const m = broadcast ? means[0]! : means[c]!;
      const s = broadcast ? stds[0]! : stds[c]!;
      const start = offset + c * plane;
      const end = start + plane;
      for (let i = start; i < end; i++) data[i] = (data[i]! - m) / s;
    }
  };
}
