import { ArgumentError, Generator, defaultGenerator } from "@pico/core";
import { chw, copyWindow, imageSize } from "./image-size.js";
import type { Transform } from "./transform.js";

export interface RandomCropOptions {
  /** Padding added before cropping: all sides, [left/right, top/bottom], or [left, top, right, bottom] (torchvision's order). Default 0. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
  /** Value of the padding. Default 0. */
  fill?: number;
  /** Where the random numbers come from (default: the global generator); seed it for repeatable runs. */
  generator?: Generator;
}

/**
 * torchvision's RandomCrop: pads the [C, H, W] sample (zeros, or `fill`), then cuts out a window of `size`
 * ([height, width], or a square) at a position drawn uniformly, the same for every channel. Two numbers are
 * drawn per sample (top, then left). `randomCrop(28, { padding: 2 })` shifts a digit by up to 2 pixels.
 * Output shape [C, size[0], size[1]]; the padded image must be at least that large.
 */
export function randomCrop(size: number | readonly [number, number], options: RandomCropOptions = {}): Transform {
  const op = "randomCrop";
  const [outH, outW] = imageSize(op, "size", size);
  const [padL, padT, padR, padB] = paddingOf(op, options.padding ?? 0);
  const fill = options.fill ?? 0;
  if (!Number.isFinite(fill)) throw new ArgumentError(`${op}: fill must be a finite number, but got ${fill}`);
  const generator = options.generator ?? defaultGenerator;
  let scratch = new Float32Array(0);
  const transform: Transform = (data, offset, shape) => {
    const [c, h, w] = chw(op, shape);
    const paddedH = h + padT + padB;
    const paddedW = w + padL + padR;
    if (paddedH < outH || paddedW < outW) {
      throw new ArgumentError(`${op}: the crop ${outH}x${outW} is larger than the padded image ${paddedH}x${paddedW} (sample ${c}x${h}x${w}, padding [${padL}, ${padT}, ${padR}, ${padB}])`);
    }
    const top = Math.floor(generator.random() * (paddedH - outH + 1));
    const left = Math.floor(generator.random() * (paddedW - outW + 1));
    const n = c * h * w;
    if (scratch.length < n) scratch = new Float32Array(n);
    scratch.set(data.subarray(offset, offset + n));
    copyWindow(scratch, c, h, w, top - padT, left - padL, outH, outW, data, offset, fill);
  };
  transform.outputShape = (shape) => [chw(op, shape)[0], outH, outW];
  return transform;
}

function paddingOf(op: string, padding: unknown): [number, number, number, number] {
  const list = typeof padding === "number" ? [padding] : padding;
  if (!Array.isArray(list) || ![1, 2, 4].includes(list.length) || list.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new ArgumentError(`${op}: padding must be a non-negative integer or a list of 2 or 4 of them, but got ${JSON.stringify(padding)}`);
  }
  const p = list as number[];
  return p.length === 1 ? [p[0]!, p[0]!, p[0]!, p[0]!] : p.length === 2 ? [p[0]!, p[1]!, p[0]!, p[1]!] : [p[0]!, p[1]!, p[2]!, p[3]!];
}
