import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MNIST } from "@pico/data";
import sharp from "sharp";

/** A picture file and the digit it shows. */
export interface Picture {
  path: string;
  digit: number;
}

/** The ways an MNIST test digit is saved, as a user's pictures would come. */
export const MNIST_FORMS = ["png-28", "png-280", "jpeg-inverted-300", "canvas-alpha-280"] as const;
export type MnistForm = (typeof MNIST_FORMS)[number];

/**
 * Writes test digits `first` .. `first + count - 1` of MNIST in every form: (a) the 28×28 PNG itself,
 * (b) enlarged to 280×280, (c) inverted (dark ink on white) at 300×300 as a JPEG, (d) a 280×280 RGBA PNG
 * whose pixels are all black and whose ink is only in the alpha channel, as a canvas exports a drawing.
 */
export async function writeMnistPictures(dir: string, first: number, count: number): Promise<{ indices: number[]; forms: Record<MnistForm, Picture[]> }> {
  const test = new MNIST({ train: false });
  const forms: Record<MnistForm, Picture[]> = { "png-28": [], "png-280": [], "jpeg-inverted-300": [], "canvas-alpha-280": [] };
  for (const form of MNIST_FORMS) mkdirSync(join(dir, form), { recursive: true });
  const indices = Array.from({ length: count }, (_, i) => first + i);
  await Promise.all(
    indices.map(async (index) => {
      const pixels = Buffer.from(test.images.subarray(index * 784, (index + 1) * 784));
      const digit = test.labels[index]!;
      const grey = (data: Buffer, side: number) => sharp(data, { raw: { width: side, height: side, channels: 1 } });
      const file = (form: MnistForm, ext: string): Picture => ({ path: join(dir, form, `${index}-${digit}.${ext}`), digit });

      const png28 = file("png-28", "png");
      await grey(pixels, 28).toColourspace("b-w").png().toFile(png28.path);
      const png280 = file("png-280", "png");
      await grey(pixels, 28).resize(280, 280).toColourspace("b-w").png().toFile(png280.path);
      const jpeg = file("jpeg-inverted-300", "jpg");
      await grey(Buffer.from(pixels.map((v) => 255 - v)), 28).resize(300, 300).toColourspace("b-w").jpeg({ quality: 75 }).toFile(jpeg.path);
      const canvas = file("canvas-alpha-280", "png");
      const { data: alpha, info } = await grey(pixels, 28).resize(280, 280).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 1) throw new Error(`expected one channel, got ${info.channels}`);
      const rgba = Buffer.alloc(280 * 280 * 4);
      for (let p = 0; p < 280 * 280; p++) rgba[p * 4 + 3] = alpha[p]!;
      await sharp(rgba, { raw: { width: 280, height: 280, channels: 4 } }).png().toFile(canvas.path);

      forms["png-28"][index - first] = png28;
      forms["png-280"][index - first] = png280;
      forms["jpeg-inverted-300"][index - first] = jpeg;
      forms["canvas-alpha-280"][index - first] = canvas;
    }),
  );
  return { indices, forms };
}

export const FONTS = ["DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"] as const;

/**
 * Typed digits 0-9 in each font, dark on light and light on dark, each at a different size and place
 * on a 240×180 page (so that scaling and centring are exercised), rendered from SVG text.
 */
export async function writeTypedDigits(dir: string): Promise<Record<string, Picture[]>> {
  mkdirSync(dir, { recursive: true });
  const sets: Record<string, Picture[]> = {};
  for (const font of FONTS) {
    for (const dark of [true, false]) {
      const name = `${font} ${dark ? "dark on light" : "light on dark"}`;
      sets[name] = await Promise.all(
        Array.from({ length: 10 }, async (_, digit) => {
          const size = 60 + 9 * digit;
          const x = 20 + 10 * digit;
          const y = 40 + size * 0.75 + 4 * (digit % 4);
          const [ink, page] = dark ? ["#141414", "#f4f1ea"] : ["#f0f0f0", "#202830"];
          const svg =
            `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="180"><rect width="240" height="180" fill="${page}"/>` +
            `<text x="${x}" y="${y}" font-family="${font}" font-size="${size}" fill="${ink}">${digit}</text></svg>`;
          const path = join(dir, `${font.replaceAll(" ", "-")}-${dark ? "dark" : "light"}-${digit}.png`);
          await sharp(Buffer.from(svg)).png().toFile(path);
          return { path, digit };
        }),
      );
    }
  }
  return sets;
}

/** One pen stroke per digit on a 280×280 canvas, drawn the way people write them. */
const STROKES: readonly string[] = [
  "M 140 38 C 60 40, 62 240, 140 242 C 218 240, 220 40, 140 38 Z",
  "M 162 40 L 128 242",
  "M 78 92 C 86 22, 212 22, 202 100 C 196 150, 104 188, 70 242 L 218 238",
  "M 78 62 C 128 18, 222 40, 190 110 C 176 134, 150 138, 122 140 C 232 140, 222 252, 142 246 C 112 244, 90 236, 74 220",
  "M 172 242 L 170 40 L 66 172 L 222 170",
  "M 204 44 L 104 46 L 92 130 C 152 100, 222 130, 212 186 C 202 246, 122 256, 80 226",
  "M 192 50 C 120 38, 70 130, 80 190 C 90 252, 192 252, 196 190 C 200 130, 110 128, 84 176",
  "M 68 50 L 212 50 L 118 242",
  "M 140 140 C 60 112, 80 40, 140 40 C 200 40, 220 112, 140 140 C 52 170, 72 246, 140 246 C 210 246, 230 170, 140 140 Z",
  "M 196 102 C 192 36, 88 40, 86 100 C 82 152, 182 160, 196 102 L 182 242",
];

/**
 * Hand-drawn-style digits: pen strokes 22 px wide on a 280×280 canvas, as (1) a transparent canvas export
 * (black ink only in alpha), (2) dark ink on a light page, (3) light ink on a dark page.
 */
export async function writeDrawnDigits(dir: string): Promise<Record<string, Picture[]>> {
  mkdirSync(dir, { recursive: true });
  const styles = { "drawn, transparent canvas": ["none", "#000000"], "drawn, dark on light": ["#ffffff", "#1a1a1a"], "drawn, light on dark": ["#000000", "#ffffff"] } as const;
  const sets: Record<string, Picture[]> = {};
  for (const [name, [page, ink]] of Object.entries(styles)) {
    sets[name] = await Promise.all(
      STROKES.map(async (stroke, digit) => {
        const svg =
          `<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><rect width="280" height="280" fill="${page}"/>` +
          `<path d="${stroke}" fill="none" stroke="${ink}" stroke-width="22" stroke-linecap="round" stroke-linejoin="round"/></svg>`;
        const path = join(dir, `${name.replace(/[ ,]+/g, "-")}-${digit}.png`);
        await sharp(Buffer.from(svg)).png().toFile(path);
        return { path, digit };
      }),
    );
  }
  return sets;
}

/**
 * Typed digits as a phone would photograph them: dark ink on paper under uneven light (a gradient from 35%
 * to 100% across the page and a vignette), sensor noise of ±10 levels, saved as a JPEG.
 */
export async function writePhotographedDigits(dir: string): Promise<Record<string, Picture[]>> {
  mkdirSync(dir, { recursive: true });
  const [width, height] = [320, 240];
  const light = (u: number, v: number): number => (0.35 + 0.65 * (0.8 * u + 0.2 * v)) * (1 - 0.6 * ((u - 0.5) ** 2 + (v - 0.5) ** 2));
  const sets: Record<string, Picture[]> = {};
  for (const font of ["DejaVu Sans", "DejaVu Serif"]) {
    sets[`${font}, photographed (uneven light, noise, JPEG)`] = await Promise.all(
      Array.from({ length: 10 }, async (_, digit) => {
        const svg =
          `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#f2efe6"/>` +
          `<text x="${70 + 8 * digit}" y="${180 - 3 * digit}" font-family="${font}" font-size="${150 - 4 * digit}" fill="#1e1e28">${digit}</text></svg>`;
        const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        let seed = digit + 1;
        const photo = Uint8ClampedArray.from(data, (v, i) => {
          const p = Math.floor(i / 3);
          return Math.round(v * light((p % width) / width, Math.floor(p / width) / height) + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 21) - 10);
        });
        const path = join(dir, `${font.replaceAll(" ", "-")}-photo-${digit}.jpg`);
        await sharp(Buffer.from(photo.buffer), { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toFile(path);
        return { path, digit };
      }),
    );
  }
  return sets;
}
