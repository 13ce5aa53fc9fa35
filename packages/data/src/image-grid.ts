import { ArgumentError, ShapeError, Tensor, formatShape } from "@pico/core";
import { loadSharp } from "./sharp-loader.js";
import { writeFileAtomic } from "./atomic-write.js";
import { ImageError } from "./errors.js";
import { escapeXml, toPixels, writePng } from "./image.js";

export interface ImageGridOptions {
  /** Images per row (as in torchvision's make_grid). Default 8. */
  nrow?: number;
  /** Pixels between cells and around the grid. Default 2. */
  padding?: number;
  /** Integer upscaling of every image (nearest neighbour), so that small digits stay legible. Default 1. */
  scale?: number;
  /** Values mapped to black and white; anything outside is clamped. Default [0, 1]. */
  range?: readonly [number, number];
  /** One caption per image, drawn under it. */
  labels?: readonly string[];
  /** One CSS colour per caption (e.g. "red" for a mistake); default white. */
  labelColors?: readonly string[];
  /** A line of text above the grid, saying what the images and captions are. */
  title?: string;
}

/** The geometry saveImageGrid uses, exposed so callers (and tests) can find each cell. */
export interface GridLayout {
  columns: number;
  rows: number;
  width: number;
  height: number;
  cellWidth: number;
  cellHeight: number;
  labelHeight: number;
  /** Pixels above the first row taken by the title (0 without one). */
  titleHeight: number;
  /** Top-left corner of image i. */
  cell(i: number): { top: number; left: number };
}

export function gridLayout(n: number, h: number, w: number, options: ImageGridOptions = {}): GridLayout {
  const { nrow = 8, padding = 2, scale = 1 } = options;
  for (const [name, v, min] of [["nrow", nrow, 1], ["padding", padding, 0], ["scale", scale, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new ArgumentError(`saveImageGrid: ${name} must be an integer >= ${min}, but got ${v}`);
  }
  const columns = Math.max(1, Math.min(nrow, n));
  const rows = Math.max(1, Math.ceil(n / columns));
  const imageH = h * scale;
  const imageW = w * scale;
  const labelHeight = options.labels === undefined ? 0 : Math.max(12, Math.round(imageH * 0.4));
  const cellWidth = imageW + padding;
  const cellHeight = imageH + labelHeight + padding;
  const titleHeight = options.title === undefined ? 0 : 24;
  return {
    columns,
    rows,
    width: columns * cellWidth + padding,
    height: titleHeight + rows * cellHeight + padding,
    cellWidth,
    cellHeight,
    labelHeight,
    titleHeight,
    cell: (i) => ({ top: titleHeight + padding + Math.floor(i / columns) * cellHeight, left: padding + (i % columns) * cellWidth }),
  };
}

/**
 * Saves a batch of images [N, C, H, W] (C = 1 or 3) as one PNG grid, atomically. With `labels`, each
 * image gets its caption underneath (drawn as an SVG overlay, coloured by `labelColors`) and the PNG
 * is RGB (likewise with a `title` line above the grid); otherwise a 1-channel batch gives a greyscale PNG.
 */
export async function saveImageGrid(images: Tensor, path: string, options: ImageGridOptions = {}): Promise<void> {
  if (!(images instanceof Tensor)) throw new ArgumentError(`saveImageGrid: images must be a Tensor [N, C, H, W], but got ${typeof images}`);
  if (images.ndim !== 4 || (images.shape[1] !== 1 && images.shape[1] !== 3)) {
    throw new ShapeError(`saveImageGrid: expected images of shape [N, 1, H, W] or [N, 3, H, W], but got ${formatShape(images.shape)}`);
  }
  const [n, c, h, w] = images.shape as [number, number, number, number];
  const { labels, labelColors } = options;
  if (labels !== undefined && labels.length !== n) {
    throw new ArgumentError(`saveImageGrid: ${n} images need ${n} labels, but got ${labels.length}`);
  }
  if (labelColors !== undefined && labelColors.length !== n) {
    throw new ArgumentError(`saveImageGrid: ${n} images need ${n} label colours, but got ${labelColors.length}`);
  }
  const layout = gridLayout(n, h, w, options);
  const channels = c === 3 || labels !== undefined || options.title !== undefined ? 3 : 1;
  const pixels = new Uint8Array(layout.width * layout.height * channels);
  const src = images.toTypedArray();
  const scale = options.scale ?? 1;
  for (let i = 0; i < n; i++) {
    const { top, left } = layout.cell(i);
    toPixels(src, i * c * h * w, c, h, w, options.range ?? [0, 1], pixels, layout.width, top, left, channels, scale);
  }
  if (labels === undefined && options.title === undefined) {
    await writePng(pixels, layout.width, layout.height, channels, path);
    return;
  }
  // Captions fit their cell: at most 80% of the caption row's height, and narrow enough for the longest one.
  const longest = Math.max(1, ...(labels ?? []).map((label) => label.length));
  const fontSize = Math.max(6, Math.min(Math.round(layout.labelHeight * 0.8), Math.floor((w * scale) / (0.62 * longest))));
  const texts = (labels ?? []).map((label, i) => {
    const { top, left } = layout.cell(i);
    const x = left + (w * scale) / 2;
    const y = top + h * scale + layout.labelHeight / 2;
    const fill = escapeXml(labelColors?.[i] ?? "white");
    return `<text x="${x}" y="${y}" fill="${fill}" font-size="${fontSize}" font-family="DejaVu Sans, Arial, sans-serif" text-anchor="middle" dominant-baseline="central">${escapeXml(label)}</text>`;
  });
  if (options.title !== undefined) {
    const titleSize = Math.min(14, Math.max(8, Math.floor(layout.width / (0.58 * Math.max(1, options.title.length)))));
    texts.push(
      `<text x="${layout.width / 2}" y="${layout.titleHeight / 2 + 1}" fill="white" font-size="${titleSize}" font-family="DejaVu Sans, Arial, sans-serif" text-anchor="middle" dominant-baseline="central">${escapeXml(options.title)}</text>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}">${texts.join("")}</svg>`;
  const sharp = await loadSharp();
  let png: Buffer;
  try {
    const drawn = await sharp(pixels, { raw: { width: layout.width, height: layout.height, channels } })
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Compositing adds an alpha channel; the grid itself is opaque.
    png = await sharp(drawn.data, { raw: { width: drawn.info.width, height: drawn.info.height, channels: drawn.info.channels } })
      .removeAlpha()
      .png()
      .toBuffer();
  } catch (error) {
    throw new ImageError(`saveImageGrid: cannot draw the labels for ${path}: ${(error as Error).message}`);
  }
  writeFileAtomic(path, png);
}
