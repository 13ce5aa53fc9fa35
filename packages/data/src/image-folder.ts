import { readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { tensor } from "@pico/core";
import { type Dataset, type Sample, checkIndex } from "./dataset.js";
import { DatasetError } from "./errors.js";
import { type LoadImageOptions, type RawImage, decodeImage, pixelsToCHW, resolveSize } from "./image.js";
import type { Transform } from "./transforms/transform.js";

export interface ImageFolderOptions extends LoadImageOptions {
  /** Applied in place to each image ([C, H, W] in [0, 1]) as it is read. */
  transform?: Transform;
  /** File extensions taken as images (lower case, with the dot). Default .png, .jpg, .jpeg. */
  extensions?: readonly string[];
}

const DEFAULT_EXTENSIONS = [".png", ".jpg", ".jpeg"];
const PARALLEL_DECODES = 8;

/**
 * Images sorted into one sub-folder per class (`root/cat/1.png`, `root/dog/a.jpg`), like torchvision's
 * ImageFolder: classes are the sub-folder names in sorted order, targets their indices. Decoding is
 * asynchronous (sharp), so the folder is read once by `ImageFolder.load`; samples are then served
 * synchronously from memory. When every image has the same shape (always, with `size`), the data set
 * has a `sampleShape` and batches without per-sample allocation.
 */
export class ImageFolder implements Dataset {
  readonly length: number;
  readonly sampleShape?: readonly number[];
  readonly getInto?: (i: number, out: Float32Array, offset: number) => number;

  private constructor(
    readonly root: string,
    readonly classes: readonly string[],
    readonly classToIdx: Readonly<Record<string, number>>,
    /** [file path, class index] per sample, in order. */
    readonly samples: ReadonlyArray<readonly [string, number]>,
    private readonly images: readonly RawImage[],
    readonly transform: Transform | undefined,
  ) {
    this.length = samples.length;
    const first = images[0];
    if (first !== undefined && images.every((im) => im.channels === first.channels && im.height === first.height && im.width === first.width)) {
      this.sampleShape = [first.channels, first.height, first.width];
      this.getInto = (i, out, offset) => {
        checkIndex("ImageFolder.getInto", i, this.length);
        return this.fill(i, out, offset);
      };
    }
  }

  /** Lists and decodes every image under `root`. */
  static async load(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    resolveSize("ImageFolder", options.size);
    const extensions = (options.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase());
    let entries: string[];
    try {
      entries = readdirSync(root);
    } catch (error) {
      throw new DatasetError(`ImageFolder: cannot read folder ${root}: ${(error as Error).message}`);
    }
    const classes = entries.filter((name) => statSync(join(root, name)).isDirectory()).sort();
    if (classes.length === 0) throw new DatasetError(`ImageFolder: ${root} has no sub-folders; expected one sub-folder of images per class`);
    const classToIdx: Record<string, number> = {};
    const samples: [string, number][] = [];
    const empty: string[] = [];
    classes.forEach((cls, idx) => {
      classToIdx[cls] = idx;
      const dir = join(root, cls);
      const files = readdirSync(dir)
        .filter((f) => extensions.includes(extname(f).toLowerCase()) && statSync(join(dir, f)).isFile())
        .sort();
      if (files.length === 0) empty.push(cls);
      for (const f of files) samples.push([join(dir, f), idx]);
    });
    if (empty.length > 0) {
      throw new DatasetError(`ImageFolder: no ${extensions.join("/")} files in the class folder(s) ${empty.join(", ")} of ${root}`);
    }
    const images: RawImage[] = new Array<RawImage>(samples.length);
    for (let start = 0; start < samples.length; start += PARALLEL_DECODES) {
      const chunk = samples.slice(start, start + PARALLEL_DECODES);
      const decoded = await Promise.all(chunk.map(([path]) => decodeImage(path, options)));
      decoded.forEach((im, k) => (images[start + k] = im));
    }
    return new ImageFolder(root, classes, classToIdx, samples, images, options.transform);
  }

  get(i: number): Sample {
    checkIndex("ImageFolder.get", i, this.length);
    const im = this.images[i]!;
    const out = new Float32Array(im.channels * im.height * im.width);
    const target = this.fill(i, out, 0);
    return { input: tensor(out, { shape: [im.channels, im.height, im.width] }), target };
  }

  private fill(i: number, out: Float32Array, offset: number): number {
    const im = this.images[i]!;
    pixelsToCHW(im, out, offset);
    if (this.transform !== undefined) this.transform(out, offset, this.sampleShape ?? [im.channels, im.height, im.width]);
    return this.samples[i]![1];
  }
}
