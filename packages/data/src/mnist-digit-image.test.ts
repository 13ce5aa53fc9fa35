import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError, NoInkError } from "./errors.js";
import { MNIST } from "./mnist.js";
import { mnistDigitFromPixels } from "./mnist-digit.js";
import { mnistDigitFromImage } from "./mnist-digit-image.js";
import { MNIST_STD } from "./mnist-normalization.js";

const dir = mkdtempSync(join(tmpdir(), "mnist-digit-image-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const test = new MNIST({ train: false });
/** MNIST test digit 4 (a 4), enlarged to 112×112 on a page of 150×130: light ink on black. */
const SIDE = [150, 130] as const;
const ink = new Uint8Array(SIDE[0] * SIDE[1]);
for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) ink[(y + 9) * SIDE[0] + x + 30] = test.images[4 * 784 + (y >> 2) * 28 + (x >> 2)]!;
const expected = mnistDigitFromPixels({ data: ink, width: SIDE[0], height: SIDE[1], channels: 1 });
const grey = (data: Uint8Array, channels: 1 | 2 | 3 | 4 = 1) => sharp(data, { raw: { width: SIDE[0], height: SIDE[1], channels } });

/** Largest and mean difference, in units of [0, 1] pixel values (the outputs are normalised by MNIST_STD). */
function differences(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let [max, sum] = [0, 0];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) * MNIST_STD;
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe("mnistDigitFromImage", () => {
  beforeAll(async () => {
    await grey(ink).toColourspace("b-w").png().toFile(join(dir, "grey.png"));
    await grey(ink).toColourspace("srgb").png().toFile(join(dir, "rgb.png"));
    await grey(ink).toColourspace("grey16").png().toFile(join(dir, "grey-16-bit.png"));
    await grey(ink).toColourspace("b-w").png().toFile(join(dir, "grey.png"));
    await grey(ink.map((v) => 255 - v))
      .toColourspace("b-w")
      .jpeg({ quality: 70 })
      .toFile(join(dir, "inverted.jpg"));
    const canvas = new Uint8Array(SIDE[0] * SIDE[1] * 4).map((_, i) => (i % 4 === 3 ? ink[i >> 2]! : 0));
    await grey(canvas, 4).png().toFile(join(dir, "canvas.png"));
    await grey(new Uint8Array(SIDE[0] * SIDE[1]).fill(255)).toColourspace("b-w").jpeg().toFile(join(dir, "blank.jpg"));
    writeFileSync(join(dir, "hello.png"), "hello");
    mkdirSync(join(dir, "a-folder.png"));
  });

  it("reads grey, 16-bit grey and RGB PNGs exactly as their pixels (one-channel files are not scrambled)", async () => {
    expect(await mnistDigitFromImage(join(dir, "grey.png"))).toEqual(expected);
    expect(await mnistDigitFromImage(join(dir, "grey-16-bit.png"))).toEqual(expected);
    expect(await mnistDigitFromImage(join(dir, "rgb.png"))).toEqual(expected);
  });

  it("reads an inverted JPEG and a transparent canvas PNG (ink only in alpha) as the same digit", async () => {
    // JPEG's ringing can move the faint edge of the ink box by a source pixel, which shifts the digit by a fraction of one.
    expect(differences(await mnistDigitFromImage(join(dir, "inverted.jpg")), expected).mean).toBeLessThan(0.04);
    expect(differences(await mnistDigitFromImage(join(dir, "canvas.png")), expected).max).toBeLessThan(1e-6);
  });

  it("reads the bytes of a file as the file, and applies a photo's EXIF orientation", async () => {
    expect(await mnistDigitFromImage(readFileSync(join(dir, "grey.png")))).toEqual(expected);
    // Stored turned a quarter to the left, with orientation 6 saying "turn right to display".
    const stored = await sharp(join(dir, "grey.png")).rotate(-90).toColourspace("b-w").png().toBuffer();
    const tagged = await sharp(stored).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    expect(differences(await mnistDigitFromImage(tagged), expected).mean).toBeLessThan(0.02);
  });

  it("names the file and what is wrong with it: missing, a folder, not an image, blank", async () => {
    await expect(mnistDigitFromImage(join(dir, "missing.png"))).rejects.toThrow(new ImageError(`mnistDigitFromImage: cannot read ${join(dir, "missing.png")}: no such file`));
    await expect(mnistDigitFromImage(join(dir, "a-folder.png"))).rejects.toThrow(new ImageError(`mnistDigitFromImage: ${join(dir, "a-folder.png")} is a folder, not an image`));
    await expect(mnistDigitFromImage(join(dir, "hello.png"))).rejects.toThrow(ImageError);
    await expect(mnistDigitFromImage(join(dir, "hello.png"))).rejects.toThrow(`mnistDigitFromImage: cannot decode ${join(dir, "hello.png")} as an image (`);
    await expect(mnistDigitFromImage(join(dir, "blank.jpg"))).rejects.toThrow(NoInkError);
    await expect(mnistDigitFromImage(join(dir, "blank.jpg"))).rejects.toThrow(`mnistDigitFromImage: ${join(dir, "blank.jpg")} has no ink`);
  });
});
