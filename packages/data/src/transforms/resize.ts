import { ArgumentError } from "@pico/core";
import { chw, imageSize } from "./image-size.js";
import type { Transform } from "./transform.js";

export interface ResizeOptions {
  /** "bilinear" (default; half-pixel centres, as torch's interpolate with alignCorners false) or "nearest". */
  interpolation?: "bilinear" | "nearest";
}

/**
 * torchvision's Resize on a [C, H, W] sample: to [height, width] given as a pair, or with a single number
 * the shorter side becomes that number and the other keeps the aspect ratio (floor of size · long / short).
 * Bilinear sampling at half-pixel centres without antialiasing, the same numbers as torch's
 * `F.interpolate(x, size, mode="bilinear", align_corners=False)`; "nearest" as mode="nearest".
 */
export function resize(size: number | readonly [number, number], options: ResizeOptions = {}): Transform {
  const op = "resize";
  const fixed = typeof size === "number" ? null : imageSize(op, "size", size);
  if (fixed === null) imageSize(op, "size", size);
  const interpolation = options.interpolation ?? "bilinear";
  if (interpolation !== "bilinear" && interpolation !== "nearest") {
    throw new ArgumentError(`${op}: interpolation must be "bilinear" or "nearest", but got ${JSON.stringify(interpolation)}`);
  }
  const target = (h: number, w: number): [number, number] => {
    if (fixed !== null) return fixed;
    const short = size as number;
    return h <= w ? [short, Math.floor((short * w) / h)] : [Math.floor((short * h) / w), short];
  };
  let scratch = new Float32Array(0);
  const transform: Transform = (data, offset, shape) => {
    const [c, h, w] = chw(op, shape);
    const [outH, outW] = target(h, w);
    const n = c * h * w;
    if (scratch.length < n) scratch = new Float32Array(n);
    scratch.set(data.subarray(offset, offset + n));
    const sy = h / outH;
    const sx = w / outW;
    for (let ch = 0; ch < c; ch++) {
      const plane = ch * h * w;
      for (let y = 0; y < outH; y++) {
        const row = offset + (ch * outH + y) * outW;
        if (interpolation === "nearest") {
          const iy = Math.min(Math.floor(y * sy), h - 1);
          for (let x = 0; x < outW; x++) data[row + x] = scratch[plane + iy * w + Math.min(Math.floor(x * sx), w - 1)]!;
          continue;
        }
        const fy = Math.max((y + 0.5) * sy - 0.5, 0);
        const y0 = Math.min(Math.floor(fy), h - 1);
        const y1 = Math.min(y0 + 1, h - 1);
        const ly = fy - y0;
        for (let x = 0; x < outW; x++) {
          const fx = Math.max((x + 0.5) * sx - 0.5, 0);
          const x0 = Math.min(Math.floor(fx), w - 1);
          const x1 = Math.min(x0 + 1, w - 1);
          const lx = fx - x0;
          const top = scratch[plane + y0 * w + x0]! * (1 - lx) + scratch[plane + y0 * w + x1]! * lx;
          const bottom = scratch[plane + y1 * w + x0]! * (1 - lx) + scratch[plane + y1 * w + x1]! * lx;
          data[row + x] = top * (1 - ly) + bottom * ly;
        }
      }
    }
  };
  transform.outputShape = (shape) => {
    const [c, h, w] = chw(op, shape);
    return [c, ...target(h, w)];
  };
  return transform;
}
