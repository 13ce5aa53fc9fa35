import { ArgumentError } from "@pico/core";
import { NoInkError } from "./errors.js";
import { MNIST_MEAN, MNIST_STD } from "./mnist-normalization.js";
import { fitPage, pageRow } from "./page-surface.js";

/**
 * Decoded 8-bit pixels, channel-last: 1 channel (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
 * A canvas's `ImageData` is one (4 channels); so is `RawImage` from `decodeImage`.
 */
export interface PixelImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Default 4, as in a canvas's ImageData. */
  channels?: number;
}

export interface MnistDigitOptions {
  /**
   * Subtract MNIST_MEAN and divide by MNIST_STD, as the trainer does with every training image
   * (default true). With false the values are MNIST's own: 0 for the page, up to 1 for the ink.
   */
  normalize?: boolean;
}

const SIDE = 28;
/** MNIST scaled each digit's bounding box to fit this square... */
const BOX = 20;
/** ...and placed its centre of mass on this pixel (measured: the training images average 14.0, 14.0). */
const CENTRE = 14;
/** Ink must stand this far (of the range 0..1) from the page, and twice the noise floor, or the picture counts as blank. */
export const MIN_INK_CONTRAST = 0.1;
/** Ink this many standard deviations of the page's noise above the page is taken as noise... */
const NOISE_FLOOR = 2;
/**
 * ...and pixels with at least BOX_THRESHOLD of the strongest stroke's ink above that, or NOISE_SIGMAS more
 * standard deviations on a noisy page (up to half the stroke), define the bounding box.
 */
const BOX_THRESHOLD = 0.1;
const NOISE_SIGMAS = 2;

/**
 * Turns a decoded picture of one digit into what an MNIST network was trained on: 28×28 float32 values,
 * light ink on a black page, the ink's bounding box scaled (aspect kept, area-averaged, or bilinear when
 * enlarged) to fit 20×20 and moved so that its centre of mass lies on pixel (14, 14), then normalised
 * with MNIST_MEAN / MNIST_STD unless `normalize` is false.
 *
 * Works on grey, grey + alpha, RGB or RGBA pixels of any size. The ink is on the side of the median
 * brightness that reaches further, so dark-on-light and light-on-dark give the same digit. The page is
 * fitted as a smooth surface (fitPage), so a photo lit unevenly (a gradient, a vignette) keeps a clean
 * page; under dark ink, ink is the share of the page's light it absorbs. The page's noise (JPEG, sensor)
 * is taken off and ink stretched so that the strongest stroke is 1, which absorbs grey paper and faint
 * pencil. Transparent pixels show a page that contrasts with the ink's colour, so a canvas export whose
 * strokes live only in the alpha channel reads as drawn. Pure computation, no I/O: runs in a browser as
 * well as in Node.
 *
 * Throws NoInkError when nothing departs from the page by MIN_INK_CONTRAST and 4 standard deviations of its noise
 * (blank, uniform, noisy or fully transparent pictures) and ArgumentError for pixels that do not match
 * their stated size.
 */
export function mnistDigitFromPixels(image: PixelImage, options: MnistDigitOptions = {}): Float32Array {
  const { width, height } = checkImage(image);
  const { ink, noise } = inkMap(image, width, height);
  const box = inkBox(ink, width, height, Math.min(0.5, Math.max(BOX_THRESHOLD, NOISE_SIGMAS * noise)));
  const scale = BOX / Math.max(box.width, box.height);
  const outWidth = Math.min(BOX, Math.max(1, Math.round(box.width * scale)));
  const outHeight = Math.min(BOX, Math.max(1, Math.round(box.height * scale)));
  const digit = resize(ink, width, box, outWidth, outHeight);
  const out = centreByMass(digit, outWidth, outHeight);
  if (options.normalize !== false) for (let i = 0; i < out.length; i++) out[i] = (out[i]! - MNIST_MEAN) / MNIST_STD;
  return out;
}

/** The sentence a NoInkError gives, after the name of the picture. */
export function noInkMessage(picture: string, contrast: number, required: number): string {
  const why = required > MIN_INK_CONTRAST ? ", four standard deviations of this picture's noise" : "";
  return (
    `${picture} has no ink: no pixel departs from the page by more than ${Math.round(255 * contrast)}/255 ` +
    `(a digit needs ${Math.round(255 * required)}/255${why}); it is blank, uniform or fully transparent`
  );
}

function checkImage(image: PixelImage): { width: number; height: number } {
  const { data, width, height } = image;
  const channels = image.channels ?? 4;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new ArgumentError(`mnistDigitFromPixels: data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels, but got ${describe(data)}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ArgumentError(`mnistDigitFromPixels: width and height must be positive integers, but got ${width}×${height}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new ArgumentError(`mnistDigitFromPixels: channels must be 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), but got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    throw new ArgumentError(
      `mnistDigitFromPixels: a ${width}×${height} picture with ${channels} channels has ${width * height * channels} values, but data holds ${data.length}`,
    );
  }
  return { width, height };
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value === "object" ? (value.constructor?.name ?? "an object") : typeof value;
}

/** Ink per pixel in [0, 1] (0 on the page, 1 at the strongest stroke) and the page's noise on that scale. */
function inkMap(image: PixelImage, width: number, height: number): { ink: Float32Array; noise: number } {
  const light = lightness(image);
  const { median, min, max } = spread(light);
  // The ink is on the side of the page that reaches further: dark strokes on light paper or the reverse.
  const darkInk = median - min > max - median;
  // Ink is measured from the page under it, a smooth surface, so that a photo lit unevenly keeps a page of zero ink.
  const { surface, noise: sigma } = fitPage(light, width, height, darkInk);
  // MNIST's page is exactly 0: the page's noise (up to NOISE_FLOOR sigmas) is taken off every pixel.
  const floor = NOISE_FLOOR * sigma;
  const ink = light;
  let contrast = 0;
  let peak = 0;
  for (let y = 0, i = 0; y < height; y++) {
    const row = pageRow(surface, y, width, height);
    for (let x = 0; x < width; x++, i++) {
      const u = (x + 0.5) / width - 0.5;
      const page = row.constant + u * (row.linear + u * row.square);
      const departure = darkInk ? page - light[i]! : light[i]! - page;
      if (departure > contrast) contrast = departure;
      // Under dark ink the page's brightness is the light falling there; ink is the share of it that ink absorbs.
      const v = departure <= floor ? 0 : darkInk ? (departure - floor) / Math.max(page, 1 / 255) : departure - floor;
      ink[i] = v;
      if (v > peak) peak = v;
    }
  }
  const required = Math.max(MIN_INK_CONTRAST, 2 * floor);
  if (!(contrast >= required)) throw new NoInkError(`mnistDigitFromPixels: ${noInkMessage("the picture", contrast, required)}`, contrast, required);
  for (let i = 0; i < ink.length; i++) ink[i]! /= peak;
  return { ink, noise: darkInk ? sigma / (Math.max(median, 1 / 255) * peak) : sigma / peak };
}

/** Luminance in [0, 1] (ITU-R 601 weights, as PIL and torchvision convert to grey), alpha composited. */
function lightness(image: PixelImage): Float32Array {
  const { data, width, height } = image;
  const channels = image.channels ?? 4;
  const n = width * height;
  const light = new Float32Array(n);
  const colour = channels >= 3;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    light[i] = colour ? (0.299 * data[p]! + 0.587 * data[p + 1]! + 0.114 * data[p + 2]!) / 255 : data[p]! / 255;
  }
  if (channels === 2 || channels === 4) {
    // Transparent pixels show a page that contrasts with the ink: white under dark strokes, black under light.
    let alphaSum = 0;
    let inkSum = 0;
    for (let i = 0, a = channels - 1; i < n; i++, a += channels) {
      alphaSum += data[a]!;
      inkSum += data[a]! * light[i]!;
    }
    const page = alphaSum > 0 && inkSum / alphaSum >= 0.5 ? 0 : 1;
    for (let i = 0, a = channels - 1; i < n; i++, a += channels) {
      const alpha = data[a]! / 255;
      light[i] = alpha * light[i]! + (1 - alpha) * page;
    }
  }
  return light;
}

/** Median (to 1/255), minimum and maximum. */
function spread(values: Float32Array): { median: number; min: number; max: number } {
  const histogram = new Uint32Array(256);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    histogram[(v * 255 + 0.5) | 0]!++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let seen = 0;
  let level = 0;
  while ((seen += histogram[level]!) * 2 < values.length) level++;
  return { median: level / 255, min, max };
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

function inkBox(ink: Float32Array, width: number, height: number, threshold: number): Box {
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0, p = y * width; x < width; x++, p++) {
      if (ink[p]! >= threshold) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        bottom = y;
      }
    }
  }
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/** For each output pixel along one axis, the source pixels it reads and their weights (summing to 1). */
function axisTaps(start: number, length: number, outLength: number): { index: number; weight: number }[][] {
  const ratio = length / outLength;
  const taps: { index: number; weight: number }[][] = [];
  for (let o = 0; o < outLength; o++) {
    const row: { index: number; weight: number }[] = [];
    if (ratio >= 1) {
      // Shrinking: the average over the source span this output pixel covers (partial pixels weighted).
      const from = o * ratio;
      const to = from + ratio;
      for (let i = Math.floor(from); i < Math.min(length, Math.ceil(to)); i++) {
        const overlap = Math.min(to, i + 1) - Math.max(from, i);
        if (overlap > 0) row.push({ index: start + i, weight: overlap / ratio });
      }
    } else {
      // Enlarging: bilinear between the two nearest source pixel centres.
      const centre = Math.min(length - 1, Math.max(0, (o + 0.5) * ratio - 0.5));
      const i = Math.min(length - 2, Math.floor(centre));
      if (i < 0) row.push({ index: start, weight: 1 });
      else row.push({ index: start + i, weight: 1 - (centre - i) }, { index: start + i + 1, weight: centre - i });
    }
    taps.push(row);
  }
  return taps;
}

/** The box's ink resampled to outWidth × outHeight, rows first then columns. */
function resize(ink: Float32Array, width: number, box: Box, outWidth: number, outHeight: number): Float32Array {
  const columns = axisTaps(box.left, box.width, outWidth);
  const rows = axisTaps(box.top, box.height, outHeight);
  const narrow = new Float32Array(box.height * outWidth);
  for (let y = 0; y < box.height; y++) {
    const source = (box.top + y) * width;
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const { index, weight } of columns[x]!) sum += weight * ink[source + index]!;
      narrow[y * outWidth + x] = sum;
    }
  }
  const out = new Float32Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (const { index, weight } of rows[y]!) {
      const from = (index - box.top) * outWidth;
      for (let x = 0; x < outWidth; x++) out[y * outWidth + x]! += weight * narrow[from + x]!;
    }
  }
  return out;
}

/** The digit pasted into 28×28, shifted by whole pixels so that its centre of mass lands on (14, 14). */
function centreByMass(digit: Float32Array, width: number, height: number): Float32Array {
  let mass = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = digit[y * width + x]!;
      mass += v;
      sumX += v * x;
      sumY += v * y;
    }
  }
  const dx = Math.round(CENTRE - sumX / mass);
  const dy = Math.round(CENTRE - sumY / mass);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < height; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= SIDE) continue;
    for (let x = 0; x < width; x++) {
      const tx = x + dx;
      if (tx >= 0 && tx < SIDE) out[ty * SIDE + tx] = digit[y * width + x]!;
    }
  }
  return out;
}
