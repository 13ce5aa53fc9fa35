import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { NoInkError } from "./errors.js";
import { MNIST } from "./mnist.js";
import { mnistDigitFromPixels, type PixelImage } from "./mnist-digit.js";
import { MNIST_MEAN, MNIST_STD } from "./mnist-normalization.js";

const test = new MNIST({ train: false });
/** MNIST test digit `i`: 28×28 bytes, light ink on black. */
const digit = (i: number): Uint8Array => test.images.slice(i * 784, (i + 1) * 784);
const raw = (image: PixelImage): Float32Array => mnistDigitFromPixels(image, { normalize: false });

/** A grey page of width×height with a digit (28×28 bytes) enlarged by `scale` (nearest) at (left, top). */
function page(pixels: Uint8Array, width: number, height: number, left: number, top: number, scale: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < 28 * scale; y++) for (let x = 0; x < 28 * scale; x++) out[(top + y) * width + left + x] = pixels[Math.floor(y / scale) * 28 + Math.floor(x / scale)]!;
  return out;
}

function centreOfMass(values: Float32Array): [number, number] {
  let [mass, x, y] = [0, 0, 0];
  for (let p = 0; p < 784; p++) {
    mass += values[p]!;
    x += values[p]! * (p % 28);
    y += values[p]! * Math.floor(p / 28);
  }
  return [x / mass, y / mass];
}

/** Width and height of the box around every pixel with any ink. */
function inkBoxSize(values: Float32Array): [number, number] {
  let [left, top, right, bottom] = [28, 28, -1, -1];
  for (let p = 0; p < 784; p++) {
    if (values[p]! > 0) {
      left = Math.min(left, p % 28);
      right = Math.max(right, p % 28);
      top = Math.min(top, Math.floor(p / 28));
      bottom = Math.max(bottom, Math.floor(p / 28));
    }
  }
  return [right - left + 1, bottom - top + 1];
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe("mnistDigitFromPixels", () => {
  it("gives MNIST's own 28x28 test digits back as they are (to 0.1 at every pixel for 99% of the first 3,000)", () => {
    let same = 0;
    for (let i = 0; i < 3000; i++) {
      const pixels = digit(i);
      const out = raw({ data: pixels, width: 28, height: 28, channels: 1 });
      if (maxDifference(out, Float32Array.from(pixels, (v) => v / 255)) < 0.1) same++;
    }
    expect(same).toBeGreaterThanOrEqual(0.99 * 3000);
  });

  it("normalises with MNIST_MEAN and MNIST_STD by default, as the trainer does", () => {
    const image = { data: digit(3), width: 28, height: 28, channels: 1 };
    const plain = raw(image);
    const normalised = mnistDigitFromPixels(image);
    for (let p = 0; p < 784; p++) expect(normalised[p]).toBeCloseTo((plain[p]! - MNIST_MEAN) / MNIST_STD, 5);
    expect(Math.min(...normalised)).toBeCloseTo(-MNIST_MEAN / MNIST_STD, 5);
  });

  it("scales the ink box of a digit anywhere on a large page to 20 px and puts its centre of mass on (14, 14)", () => {
    for (const [i, left, top, scale] of [
      [0, 5, 140, 6],
      [1, 300, 10, 9],
      [7, 120, 60, 4],
      [42, 0, 0, 8],
    ] as const) {
      const out = raw({ data: page(digit(i), 600, 400, left, top, scale), width: 600, height: 400, channels: 1 });
      const [x, y] = centreOfMass(out);
      expect(Math.abs(x - 14)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(y - 14)).toBeLessThanOrEqual(0.5);
      const [w, h] = inkBoxSize(out);
      expect(Math.max(w, h)).toBe(20);
      expect(Math.min(w, h)).toBeLessThanOrEqual(20);
    }
  });

  it("enlarges a digit smaller than 20 px (bilinear) to a 20 px box, keeping its aspect", () => {
    const data = new Uint8Array(40 * 30);
    for (let y = 10; y < 20; y++) for (let x = 3; x < 8; x++) data[y * 40 + x] = 255;
    const out = raw({ data, width: 40, height: 30, channels: 1 });
    expect(inkBoxSize(out)).toEqual([10, 20]);
    const [x, y] = centreOfMass(out);
    expect([Math.abs(x - 14), Math.abs(y - 14)].every((d) => d <= 0.5)).toBe(true);
    expect(out[14 * 28 + 14]).toBeCloseTo(1, 5);
  });

  it("reads dark ink on a light page exactly as light ink on a dark page", () => {
    for (const i of [0, 9, 123]) {
      const light = page(digit(i), 90, 70, 20, 5, 2);
      const dark = light.map((v) => 255 - v);
      expect(maxDifference(raw({ data: dark, width: 90, height: 70, channels: 1 }), raw({ data: light, width: 90, height: 70, channels: 1 }))).toBeLessThan(1e-5);
    }
  });

  it("reads colour as its luminance: grey RGB equals grey, blue ink on yellow paper equals black on white", () => {
    const grey = page(digit(5), 60, 60, 10, 8, 1).map((v) => 255 - v);
    const expected = raw({ data: grey, width: 60, height: 60, channels: 1 });
    const rgb = new Uint8Array(60 * 60 * 3).map((_, i) => grey[Math.floor(i / 3)]!);
    expect(raw({ data: rgb, width: 60, height: 60, channels: 3 })).toEqual(expected);
    const [paper, ink] = [[250, 235, 150], [20, 40, 160]] as const;
    const colour = new Uint8Array(60 * 60 * 3).map((_, i) => {
      const w = 1 - grey[Math.floor(i / 3)]! / 255;
      return Math.round((1 - w) * paper[i % 3]! + w * ink[i % 3]!);
    });
    expect(maxDifference(raw({ data: colour, width: 60, height: 60, channels: 3 }), expected)).toBeLessThan(0.02);
  });

  it("reads a canvas export whose ink is only in the alpha channel (RGBA, grey + alpha, black or white strokes)", () => {
    const ink = page(digit(11), 56, 56, 0, 0, 2);
    const expected = raw({ data: ink, width: 56, height: 56, channels: 1 });
    for (const stroke of [0, 255]) {
      const rgba = new Uint8ClampedArray(56 * 56 * 4).map((_, i) => (i % 4 === 3 ? ink[i >> 2]! : stroke));
      expect(maxDifference(raw({ data: rgba, width: 56, height: 56 }), expected)).toBeLessThan(1e-5);
      const greyAlpha = new Uint8Array(56 * 56 * 2).map((_, i) => (i % 2 === 1 ? ink[i >> 1]! : stroke));
      expect(maxDifference(raw({ data: greyAlpha, width: 56, height: 56, channels: 2 }), expected)).toBeLessThan(1e-5);
    }
  });

  it("stretches faint ink on grey paper and ignores JPEG-like noise", () => {
    const clean = raw({ data: page(digit(2), 84, 84, 0, 0, 3), width: 84, height: 84, channels: 1 });
    let seed = 7;
    const noise = (amplitude: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % (2 * amplitude + 1)) - amplitude;
    for (const [contrast, amplitude] of [
      [60, 6],
      [120, 20],
    ] as const) {
      const faint = page(digit(2), 84, 84, 0, 0, 3).map((v) => Math.round(200 - (v * contrast) / 255 + noise(amplitude)));
      const out = raw({ data: faint, width: 84, height: 84, channels: 1 });
      expect(inkBoxSize(out)).toEqual(inkBoxSize(clean));
      expect(maxDifference(out, clean)).toBeLessThan(0.3);
      const [x, y] = centreOfMass(out);
      expect([Math.abs(x - 14), Math.abs(y - 14)].every((d) => d <= 0.5)).toBe(true);
    }
  });

  it("reads a photo lit unevenly (a strong gradient, a vignette, noise) as the evenly lit picture", () => {
    const [width, height] = [160, 120];
    const clean = page(digit(8), width, height, 40, 10, 3).map((v) => 255 - v);
    const expected = raw({ data: clean, width, height, channels: 1 });
    const lights: [string, (u: number, v: number) => number][] = [
      ["gradient 0.3 to 1", (u, v) => 0.3 + 0.7 * (0.7 * u + 0.3 * v)],
      ["vignette", (u, v) => 1 - 0.9 * ((u - 0.5) ** 2 + (v - 0.5) ** 2)],
    ];
    let seed = 3;
    const noise = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 13) - 6;
    for (const [name, light] of lights) {
      const photo = Uint8ClampedArray.from(clean, (v, i) => Math.round(v * light((i % width) / width, Math.floor(i / width) / height) + noise()));
      const out = raw({ data: photo, width, height, channels: 1 });
      expect(inkBoxSize(out), name).toEqual(inkBoxSize(expected));
      let sum = 0;
      for (let p = 0; p < 784; p++) sum += Math.abs(out[p]! - expected[p]!);
      expect(sum / 784, name).toBeLessThan(0.03);
      const blank = Uint8ClampedArray.from({ length: width * height }, (_, i) => Math.round(240 * light((i % width) / width, Math.floor(i / width) / height) + noise()));
      expect(() => raw({ data: blank, width, height, channels: 1 }), `${name}, no digit`).toThrow(NoInkError);
    }
  });

  it("refuses a picture with no ink (blank, uniform, noisy blank, fully transparent) with a NoInkError", () => {
    const blanks: [string, PixelImage][] = [
      ["white page", { data: new Uint8Array(100 * 80).fill(255), width: 100, height: 80, channels: 1 }],
      ["uniform grey RGB", { data: new Uint8Array(30 * 30 * 3).fill(128), width: 30, height: 30, channels: 3 }],
      ["white page with noise", { data: new Uint8Array(64 * 64).map((_, i) => 250 - ((i * 7919) % 11)), width: 64, height: 64, channels: 1 }],
      ["noise of ±40 levels", { data: new Uint8Array(64 * 64).map((_, i) => 128 + ((i * 7919) % 81) - 40), width: 64, height: 64, channels: 1 }],
      ["transparent canvas", { data: new Uint8ClampedArray(20 * 20 * 4), width: 20, height: 20 }],
    ];
    for (const [name, image] of blanks) {
      expect(() => mnistDigitFromPixels(image), name).toThrow(NoInkError);
      expect(() => mnistDigitFromPixels(image), name).toThrow(/mnistDigitFromPixels: the picture has no ink: no pixel departs from the page by more than \d+\/255/);
    }
  });

  it("refuses pixels that do not match their size, channels or type, naming the argument", () => {
    expect(() => mnistDigitFromPixels({ data: new Uint8Array(10), width: 4, height: 4, channels: 1 })).toThrow(
      /mnistDigitFromPixels: a 4×4 picture with 1 channels has 16 values, but data holds 10/,
    );
    expect(() => mnistDigitFromPixels({ data: new Uint8Array(80), width: 4, height: 4, channels: 5 })).toThrow(/channels must be 1 \(grey\), 2 .* but got 5/);
    expect(() => mnistDigitFromPixels({ data: new Uint8Array(0), width: 0, height: 4, channels: 1 })).toThrow(ArgumentError);
    expect(() => mnistDigitFromPixels({ data: [1, 2, 3] as unknown as Uint8Array, width: 3, height: 1, channels: 1 })).toThrow(/data must be a Uint8Array .* but got Array/);
  });
});
