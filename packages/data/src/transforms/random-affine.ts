import { ArgumentError, Generator, ShapeError, defaultGenerator, formatShape } from "@pico/core";
import type { Transform } from "./transform.js";

export interface RandomAffineOptions {
  /** Rotation range in degrees (positive: counter-clockwise as displayed): d means [-d, d]; a pair is [min, max]. Default 0. */
  degrees?: number | readonly [number, number];
  /** Largest shift as fractions [of width, of height]; the shift in pixels is drawn and rounded per sample. */
  translate?: readonly [number, number];
  /** Scale factor range [min, max]. Default no scaling. */
  scale?: readonly [number, number];
  /** Where the random numbers come from (default: the global generator); seed it for repeatable runs. */
  generator?: Generator;
  /** "bilinear" (default) or "nearest". */
  interpolation?: "bilinear" | "nearest";
  /** Value for pixels that come from outside the image. Default 0. */
  fill?: number;
}

/** The parameters one call drew: useful to replay or inspect an augmentation. */
export interface AffineParams {
  angle: number;
  translateX: number;
  translateY: number;
  scale: number;
}

/**
 * Random rotation, translation and scaling of a [C, H, W] sample about its centre, like torchvision's
 * RandomAffine: every channel gets the same transform, pixels that map outside the input take `fill`.
 * Four numbers are drawn from the generator per sample, always in the same order, so a seeded
 * generator gives the same augmentations on every run.
 */
export function randomAffine(options: RandomAffineOptions = {}): Transform {
  const deg = options.degrees ?? 0;
  const [minDeg, maxDeg] = typeof deg === "number" ? [-Math.abs(deg), Math.abs(deg)] : deg;
  const [maxTx, maxTy] = options.translate ?? [0, 0];
  const [minScale, maxScale] = options.scale ?? [1, 1];
  const generator = options.generator ?? defaultGenerator;
  const nearest = (options.interpolation ?? "bilinear") === "nearest";
  const fill = options.fill ?? 0;
  if (!Number.isFinite(minDeg) || !Number.isFinite(maxDeg) || minDeg > maxDeg) {
    throw new ArgumentError(`randomAffine: degrees must be a finite number or a [min, max] pair, but got ${JSON.stringify(deg)}`);
  }
  if (!(maxTx >= 0 && maxTx <= 1 && maxTy >= 0 && maxTy <= 1)) {
    throw new ArgumentError(`randomAffine: translate fractions must lie in [0, 1], but got [${maxTx}, ${maxTy}]`);
  }
  if (!(minScale > 0 && minScale <= maxScale && Number.isFinite(maxScale))) {
    throw new ArgumentError(`randomAffine: scale must be a pair 0 < min <= max, but got [${minScale}, ${maxScale}]`);
  }
  if (options.interpolation !== undefined && options.interpolation !== "bilinear" && options.interpolation !== "nearest") {
    throw new ArgumentError(`randomAffine: interpolation must be "bilinear" or "nearest", but got ${JSON.stringify(options.interpolation)}`);
  }
  let scratch = new Float32Array(0);
  const params: AffineParams = { angle: 0, translateX: 0, translateY: 0, scale: 1 };
  return (data, offset, shape) => {
    if (shape.length !== 3) throw new ShapeError(`randomAffine: expected a sample of shape [C, H, W], but got ${formatShape(shape)}`);
    const [c, h, w] = shape as [number, number, number];
    params.angle = minDeg + (maxDeg - minDeg) * generator.random();
    params.translateX = Math.round((2 * generator.random() - 1) * maxTx * w);
    params.translateY = Math.round((2 * generator.random() - 1) * maxTy * h);
    params.scale = minScale + (maxScale - minScale) * generator.random();
    const size = c * h * w;
    if (scratch.length < size) scratch = new Float32Array(size);
    scratch.set(data.subarray(offset, offset + size));
    warpAffine(scratch, data, offset, c, h, w, params, nearest, fill);
  };
}

/**
 * Writes into `out` at `offset` the image `src` ([c, h, w] from index 0) rotated by `angle` degrees,
 * scaled by `scale` about the centre and shifted by the translation, sampling by inverse mapping.
 */
export function warpAffine(
  src: Float32Array,
  out: Float32Array,
  offset: number,
  c: number,
  h: number,
  w: number,
  params: AffineParams,
  nearest: boolean,
  fill: number,
): void {
  const theta = (params.angle * Math.PI) / 180;
  const cos = Math.cos(theta) / params.scale;
  const sin = Math.sin(theta) / params.scale;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const plane = h * w;
  const dx0 = -cx - params.translateX;
  for (let y = 0; y < h; y++) {
    const dy = y - cy - params.translateY;
    // Inverse mapping: rotating the output offset by theta in (x, y-down) coordinates turns the
    // picture counter-clockwise as displayed; dividing by the scale enlarges it. Along a row the
    // source point moves by (cos, sin) per pixel.
    let sx = cos * dx0 - sin * dy + cx;
    let sy = sin * dx0 + cos * dy + cy;
    for (let x = 0, o = offset + y * w; x < w; x++, o++, sx += cos, sy += sin) {
      if (nearest) {
        const ix = Math.floor(sx + 0.5);
        const iy = Math.floor(sy + 0.5);
        const inside = ix >= 0 && ix < w && iy >= 0 && iy < h;
        const at = iy * w + ix;
        for (let ch = 0; ch < c; ch++) out[o + ch * plane] = inside ? src[ch * plane + at]! : fill;
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) {
        for (let ch = 0; ch < c; ch++) out[o + ch * plane] = fill;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const at = y0 * w + x0;
      if (x0 >= 0 && y0 >= 0 && x0 < w - 1 && y0 < h - 1) {
        for (let ch = 0, base = at; ch < c; ch++, base += plane) {
          out[o + ch * plane] = w00 * src[base]! + w01 * src[base + 1]! + w10 * src[base + w]! + w11 * src[base + w + 1]!;
        }
        continue;
      }
      const in00 = x0 >= 0 && y0 >= 0;
      const in01 = x0 + 1 < w && y0 >= 0;
      const in10 = x0 >= 0 && y0 + 1 < h;
      const in11 = x0 + 1 < w && y0 + 1 < h;
      for (let ch = 0, base = at; ch < c; ch++, base += plane) {
        const v00 = in00 ? src[base]! : fill;
        const v01 = in01 ? src[base + 1]! : fill;
        const v10 = in10 ? src[base + w]! : fill;
        const v11 = in11 ? src[base + w + 1]! : fill;
        out[o + ch * plane] = w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11;
      }
    }
  }
}
