import { ArgumentError, ShapeError, Tensor, formatShape, tensor } from "@pico/core";
import { loadSharp } from "./sharp-loader.js";
import { writeFileAtomic } from "./atomic-write.js";
import { ImageError } from "./errors.js";

export interface LoadImageOptions {
  /** One channel (luminance) instead of three (RGB). Default false. */
  grayscale?: boolean;
  /** Resize (stretching, no cropping) to [height, width], or to a square of this side. */
  size?: readonly [number, number] | number;
}

/** Decoded 8-bit pixels, channel-last as the image codecs deliver them. */
export interface RawImage {
  data: Uint8Array;
  channels: number;
  height: number;
  width: number;
}

export function resolveSize(owner: string, size: LoadImageOptions["size"]): [number, number] | undefined {
  if (size === undefined) return undefined;
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new ArgumentError(`${owner}: size must be a positive integer or [height, width] of positive integers, but got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/** Decodes any PNG/JPEG (or other format sharp reads) to 8-bit pixels: 1 channel or RGB, alpha dropped. */
export async function decodeImage(path: string, options: LoadImageOptions = {}): Promise<RawImage> {
  const size = resolveSize("loadImage", options.size);
  const sharp = await loadSharp();
  try {
    let pipeline = sharp(path).removeAlpha();
    pipeline = options.grayscale === true ? pipeline.greyscale() : pipeline.toColourspace("srgb");
    if (size !== undefined) pipeline = pipeline.resize(size[1], size[0], { fit: "fill" });
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), channels: info.channels, height: info.height, width: info.width };
  } catch (error) {
    throw new ImageError(`loadImage: cannot read image ${path}: ${(error as Error).message}`);
  }
}

/** Writes 8-bit channel-last pixels into `out` at `offset` as float32 [C, H, W] in [0, 1]. */
export function pixelsToCHW(image: RawImage, out: Float32Array, offset: number): void {
  const { data, channels, height, width } = image;
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const base = offset + c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = data[p * channels + c]! / 255;
  }
}

/**
 * Loads an image as a float32 Tensor [C, H, W] in [0, 1]: C is 1 with `grayscale`, else 3 (RGB);
 * `size` resizes to [height, width]. An unreadable or undecodable file is an ImageError naming it.
 */
export async function loadImage(path: string, options: LoadImageOptions = {}): Promise<Tensor> {
  const image = await decodeImage(path, options);
  const out = new Float32Array(image.channels * image.height * image.width);
  pixelsToCHW(image, out, 0);
  return tensor(out, { shape: [image.channels, image.height, image.width] });
}

export interface SaveImageOptions {
  /** Values mapped to black and white; anything outside is clamped. Default [0, 1]. */
  range?: readonly [number, number];
}

/** Saves a Tensor [C, H, W] (C = 1 or 3) or [H, W] as a PNG, atomically. */
export async function savePng(image: Tensor, path: string, options: SaveImageOptions = {}): Promise<void> {
  if (!(image instanceof Tensor)) throw new ArgumentError(`savePng: image must be a Tensor [C, H, W], but got ${typeof image}`);
  const shape = image.ndim === 2 ? [1, ...image.shape] : image.shape;
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3)) {
    throw new ShapeError(`savePng: expected an image of shape [1, H, W], [3, H, W] or [H, W], but got ${formatShape(image.shape)}`);
  }
  const [c, h, w] = shape as [number, number, number];
  const pixels = new Uint8Array(c * h * w);
  toPixels(image.toTypedArray(), 0, c, h, w, options.range ?? [0, 1], pixels, w, 0, 0, c);
  await writePng(pixels, w, h, c === 1 ? 1 : 3, path);
}

/**
 * Converts a float [c, h, w] image (from `srcOffset` in `src`) to 8-bit pixels, written channel-last
 * into `dst` (a canvas `dstWidth` pixels wide with `dstChannels` channels) at (top, left).
 * A 1-channel source fills every destination channel.
 */
export function toPixels(
  src: ArrayLike<number>,
  srcOffset: number,
  c: number,
  h: number,
  w: number,
  range: readonly [number, number],
  dst: Uint8Array,
  dstWidth: number,
  top: number,
  left: number,
  dstChannels: number,
  scale = 1,
): void {
  const [lo, hi] = range;
  if (!(hi > lo)) throw new ArgumentError(`image: range must be [low, high] with high > low, but got [${lo}, ${hi}]`);
  const k = 255 / (hi - lo);
  const plane = h * w;
  for (let y = 0; y < h * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < w * scale; x++) {
      const sx = Math.floor(x / scale);
      const d = ((top + y) * dstWidth + left + x) * dstChannels;
      for (let ch = 0; ch < dstChannels; ch++) {
        const v = src[srcOffset + (c === 1 ? 0 : ch) * plane + sy * w + sx]!;
        const byte = Math.round((v - lo) * k);
        dst[d + ch] = byte < 0 || Number.isNaN(byte) ? 0 : byte > 255 ? 255 : byte;
      }
    }
  }
}

/** Encodes channel-last 8-bit pixels (1 or 3 channels) as a PNG and writes it atomically. */
export async function writePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, path: string): Promise<void> {
  const sharp = await loadSharp();
  let pipeline = sharp(pixels, { raw: { width, height, channels } });
  if (channels === 1) pipeline = pipeline.toColourspace("b-w");
  const png = await pipeline.png().toBuffer();
  writeFileAtomic(path, png);
}

/** Renders an SVG document to a PNG file (atomically), e.g. a plot drawn as SVG. */
export async function saveSvgAsPng(svg: string, path: string): Promise<void> {
  const sharp = await loadSharp();
  let png: Buffer;
  try {
    png = await sharp(Buffer.from(svg)).png().toBuffer();
  } catch (error) {
    throw new ImageError(`saveSvgAsPng: cannot render the SVG for ${path}: ${(error as Error).message}`);
  }
  writeFileAtomic(path, png);
}

/** Escapes text for use inside SVG markup. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
