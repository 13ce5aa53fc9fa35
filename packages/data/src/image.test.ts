import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ShapeError, tensor } from "@pico/core";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { ImageError } from "./errors.js";
import { loadImage, savePng, saveSvgAsPng } from "./image.js";

const dir = mkdtempSync(join(tmpdir(), "pico-image-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a w x h RGB PNG whose pixel (x, y) is (10x, 20y, 200). */
async function rgbPng(name: string, w: number, h: number, alpha = false): Promise<string> {
  const c = alpha ? 4 : 3;
  const px = Buffer.alloc(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      px.set(alpha ? [10 * x, 20 * y, 200, 128] : [10 * x, 20 * y, 200], (y * w + x) * c);
    }
  }
  const path = join(dir, name);
  await sharp(px, { raw: { width: w, height: h, channels: c } }).png().toFile(path);
  return path;
}

describe("loadImage", () => {
  it("loads a colour PNG of odd size as [3, H, W] in [0, 1], channel-first", async () => {
    const path = await rgbPng("rgb.png", 5, 3);
    const t = await loadImage(path);
    expect(t.shape).toEqual([3, 3, 5]);
    expect(t.dtype).toBe("float32");
    const v = t.toTypedArray();
    // Channel 0 at (y=2, x=4) is 40; channel 1 at (y=2, x=4) is 40; channel 2 is 200 everywhere.
    expect(v[0 * 15 + 2 * 5 + 4]).toBeCloseTo(40 / 255, 6);
    expect(v[1 * 15 + 2 * 5 + 4]).toBeCloseTo(40 / 255, 6);
    expect(v[1 * 15 + 1 * 5 + 0]).toBeCloseTo(20 / 255, 6);
    expect(v[2 * 15 + 7]).toBeCloseTo(200 / 255, 6);
  });

  it("drops the alpha channel", async () => {
    const t = await loadImage(await rgbPng("rgba.png", 3, 2, true));
    expect(t.shape).toEqual([3, 2, 3]);
  });

  it("converts to one channel with grayscale, and a grey file to RGB without it", async () => {
    const grey = join(dir, "grey.png");
    await sharp(Buffer.from([0, 51, 102, 153, 204, 255, 17]), { raw: { width: 7, height: 1, channels: 1 } }).toColourspace("b-w").png().toFile(grey);
    const g = await loadImage(grey, { grayscale: true });
    expect(g.shape).toEqual([1, 1, 7]);
    expect(Array.from(g.toTypedArray(), (v) => Math.round(v * 255))).toEqual([0, 51, 102, 153, 204, 255, 17]);
    const rgb = await loadImage(grey);
    expect(rgb.shape).toEqual([3, 1, 7]);
    expect(Math.round(rgb.toTypedArray()[7 + 3]! * 255)).toBe(153);
    const fromColour = await loadImage(await rgbPng("c2g.png", 4, 4), { grayscale: true });
    expect(fromColour.shape).toEqual([1, 4, 4]);
  });

  it("resizes with size [h, w] or a square side, JPEG included", async () => {
    const jpg = join(dir, "photo.jpg");
    await sharp({ create: { width: 37, height: 23, channels: 3, background: { r: 250, g: 250, b: 250 } } }).jpeg().toFile(jpg);
    const t = await loadImage(jpg, { size: [28, 14], grayscale: true });
    expect(t.shape).toEqual([1, 28, 14]);
    for (const v of t.toTypedArray()) expect(v).toBeGreaterThan(0.95);
    expect((await loadImage(jpg, { size: 9 })).shape).toEqual([3, 9, 9]);
  });

  it("names the path of a missing or undecodable file", async () => {
    const missing = join(dir, "missing.png");
    await expect(loadImage(missing)).rejects.toThrow(ImageError);
    await expect(loadImage(missing)).rejects.toThrow(`loadImage: cannot read image ${missing}`);
    const junk = join(dir, "junk.png");
    writeFileSync(junk, "this is not a picture");
    await expect(loadImage(junk)).rejects.toThrow(new RegExp(`cannot read image ${junk}: .*unsupported image format`));
    await expect(loadImage(junk, { size: [0, 3] })).rejects.toThrow(/size must be a positive integer/);
  });
});

describe("savePng", () => {
  it("round-trips a single-channel image as a 1-channel PNG", async () => {
    const path = join(dir, "one.png");
    const values = [0, 0.2, 0.4, 0.6, 0.8, 1];
    await savePng(tensor([[values.slice(0, 3), values.slice(3)]]), path);
    const meta = await sharp(path).metadata();
    expect([meta.format, meta.channels, meta.width, meta.height]).toEqual(["png", 1, 3, 2]);
    const { data } = await sharp(path).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(Array.from(data)).toEqual(values.map((v) => Math.round(v * 255)));
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("writes RGB, clamps values outside the range, and takes [H, W]", async () => {
    const rgb = join(dir, "rgb-out.png");
    await savePng(tensor([[[2]], [[-1]], [[0.5]]]), rgb);
    const { data, info } = await sharp(rgb).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data)).toEqual([255, 0, 128]);
    const hw = join(dir, "hw.png");
    await savePng(tensor([[-1, 1]]), hw, { range: [-1, 1] });
    expect(Array.from(await sharp(hw).greyscale().raw().toBuffer())).toEqual([0, 255]);
    await expect(savePng(tensor([[[[1]]]]), hw)).rejects.toThrow(ShapeError);
  });

  it("renders an SVG to PNG", async () => {
    const path = join(dir, "plot.png");
    await saveSvgAsPng(`<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="#ff0000"/></svg>`, path);
    const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([20, 10]);
    expect(Array.from(data.subarray(0, 3))).toEqual([255, 0, 0]);
    await expect(saveSvgAsPng("<svg", path)).rejects.toThrow(/saveSvgAsPng: cannot render the SVG/);
  });
});
