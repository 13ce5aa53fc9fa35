import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArgumentError, ShapeError, Tensor, tensor } from "@pico/core";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { gridLayout, saveImageGrid } from "./image-grid.js";

const dir = mkdtempSync(join(tmpdir(), "pico-grid-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n images [c, h, w]; image i has value (i + 1) / 10 in channel 0 and 1 - (i + 1) / 10 elsewhere. */
function batch(n: number, c: number, h: number, w: number): Tensor {
  const data = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) data.fill(ch === 0 ? (i + 1) / 10 : 1 - (i + 1) / 10, ((i * c + ch) * h) * w, ((i * c + ch + 1) * h) * w);
  }
  return tensor(data, { shape: [n, c, h, w] });
}

async function decode(path: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const meta = await sharp(path).metadata();
  const { data, info } = await (meta.channels === 1 ? sharp(path).greyscale() : sharp(path).removeAlpha()).raw().toBuffer({ resolveWithObject: true });
  expect(meta.format).toBe("png");
  expect(info.channels).toBe(meta.channels);
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe("saveImageGrid", () => {
  it("lays out single-channel images in rows of nrow with padding, as a 1-channel PNG", async () => {
    const path = join(dir, "grey.png");
    await saveImageGrid(batch(5, 1, 3, 4), path, { nrow: 2, padding: 1 });
    const png = await decode(path);
    expect([png.width, png.height, png.channels]).toEqual([11, 13, 1]);
    const at = (x: number, y: number): number => png.data[y * png.width + x]!;
    expect(at(0, 0)).toBe(0);
    // Image i sits at left 1 + (i % 2) * 5, top 1 + floor(i / 2) * 4.
    for (let i = 0; i < 5; i++) {
      const left = 1 + (i % 2) * 5;
      const top = 1 + Math.floor(i / 2) * 4;
      expect(at(left, top)).toBe(Math.round(((i + 1) / 10) * 255));
      expect(at(left + 3, top + 2)).toBe(Math.round(((i + 1) / 10) * 255));
      expect(at(left + 4, top)).toBe(0);
    }
    // The sixth cell is empty.
    expect(at(6, 9)).toBe(0);
  });

  it("writes RGB images channel by channel and upscales with scale", async () => {
    const path = join(dir, "rgb.png");
    await saveImageGrid(batch(2, 3, 2, 2), path, { padding: 0, scale: 3 });
    const png = await decode(path);
    expect([png.width, png.height, png.channels]).toEqual([12, 6, 3]);
    const px = (x: number, y: number): number[] => Array.from(png.data.subarray((y * 12 + x) * 3, (y * 12 + x) * 3 + 3));
    const byte = (v: number): number => Math.round(Math.fround(v) * 255);
    expect(px(5, 5)).toEqual([byte(0.1), byte(0.9), byte(0.9)]);
    expect(px(6, 0)).toEqual([byte(0.2), byte(0.8), byte(0.8)]);
  });

  it("draws captions under the cells in their colours", async () => {
    const path = join(dir, "labels.png");
    const n = 4;
    const options = { nrow: 4, scale: 2, labels: ["7", "2 (1)", "1", "0"], labelColors: ["white", "red", "white", "#00ff00"] };
    await saveImageGrid(batch(n, 1, 28, 28), path, options);
    const png = await decode(path);
    const layout = gridLayout(n, 28, 28, options);
    expect([png.width, png.height, png.channels]).toEqual([layout.width, layout.height, 3]);
    const strip = (i: number): number[][] => {
      const { top, left } = layout.cell(i);
      const out: number[][] = [];
      for (let y = top + 56; y < top + 56 + layout.labelHeight; y++) {
        for (let x = left; x < left + 56; x++) out.push(Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)));
      }
      return out;
    };
    const red = (p: number[]): boolean => p[0]! > 150 && p[1]! < 80 && p[2]! < 80;
    const white = (p: number[]): boolean => p[0]! > 150 && p[1]! > 150 && p[2]! > 150;
    const green = (p: number[]): boolean => p[1]! > 150 && p[0]! < 80;
    expect(strip(1).filter(red).length).toBeGreaterThan(10);
    expect(strip(1).filter(white).length).toBe(0);
    expect(strip(0).filter(white).length).toBeGreaterThan(5);
    expect(strip(0).filter(red).length).toBe(0);
    expect(strip(3).filter(green).length).toBeGreaterThan(5);
    // The images themselves are unchanged by the overlay.
    const { top, left } = layout.cell(1);
    expect(Array.from(png.data.subarray(((top + 10) * png.width + left + 10) * 3, ((top + 10) * png.width + left + 10) * 3 + 3))).toEqual([51, 51, 51]);
  });

  it("writes a title above the grid and fits long captions to their cell", async () => {
    const path = join(dir, "title.png");
    const options = { nrow: 2, scale: 2, labels: ["pred 7 / true 2", "pred 1"], labelColors: ["red", "white"], title: "What these are" };
    await saveImageGrid(batch(2, 1, 28, 28), path, options);
    const png = await decode(path);
    const layout = gridLayout(2, 28, 28, options);
    expect(layout.titleHeight).toBe(24);
    expect(layout.cell(0).top).toBe(24 + 2);
    expect([png.width, png.height, png.channels]).toEqual([layout.width, layout.height, 3]);
    const rows = (y0: number, y1: number, x0: number, x1: number, keep: (p: number[]) => boolean): number => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (keep(Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)))) n++;
      return n;
    };
    const white = (p: number[]): boolean => p[0]! > 150 && p[1]! > 150 && p[2]! > 150;
    const red = (p: number[]): boolean => p[0]! > 150 && p[1]! < 80 && p[2]! < 80;
    expect(rows(0, 24, 0, png.width, white)).toBeGreaterThan(20);
    // The long red caption stays inside its own cell: none of it spills into the next one.
    const { top, left } = layout.cell(1);
    expect(rows(top + 56, top + 56 + layout.labelHeight, left - 2, png.width, red)).toBe(0);
    expect(rows(top + 56, top + 56 + layout.labelHeight, 0, left - 2, red)).toBeGreaterThan(10);
  });

  it("refuses wrong shapes and mismatched labels", async () => {
    const path = join(dir, "bad.png");
    await expect(saveImageGrid(Tensor.zeros([2, 2, 3, 3]), path)).rejects.toThrow(ShapeError);
    await expect(saveImageGrid(Tensor.zeros([3, 3, 3]), path)).rejects.toThrow(/expected images of shape \[N, 1, H, W\] or \[N, 3, H, W\], but got \[3, 3, 3\]/);
    await expect(saveImageGrid(Tensor.zeros([2, 1, 3, 3]), path, { labels: ["a"] })).rejects.toThrow(/2 images need 2 labels, but got 1/);
    await expect(saveImageGrid(Tensor.zeros([2, 1, 3, 3]), path, { nrow: 0 })).rejects.toThrow(ArgumentError);
  });
});
