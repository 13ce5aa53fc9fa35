import { ArgumentError, tensor } from "@pico/core";
import { type Dataset, type Sample, checkIndex } from "./dataset.js";
import { DatasetError, IdxFormatError } from "./errors.js";
import type { IdxArray } from "./idx-bytes.js";
import { mnistByteValues } from "./mnist-normalization.js";
import type { Transform } from "./transforms/transform.js";

export interface MnistDigitsOptions {
  /**
   * Read the images normalised as `normalize(MNIST_MEAN, MNIST_STD)` makes them, the same bits, in one
   * look-up per pixel instead of a second pass (default false: values in [0, 1]); before `transform`.
   */
  normalize?: boolean;
  /** Applied in place to each image ([1, 28, 28], values in [0, 1], or normalised) as it is read. */
  transform?: Transform;
  /** How errors name the images (default "images"), e.g. the file they came from. */
  imagesName?: string;
  /** How errors name the labels (default "labels"). */
  labelsName?: string;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const SCALE = mnistByteValues(false);
/** The normalised byte table, made on first use (MnistDigits with normalize). */
let normalizedValues: Float32Array | null = null;

/**
 * MNIST-format digits decoded from IDX bytes (readIdxBuffer), in any runtime: images as float32
 * [1, 28, 28] in [0, 1], labels as integers 0..9. The whole set stays in memory as bytes; images are
 * converted to floats only when read, straight into the DataLoader's batch buffer.
 */
export class MnistDigits implements Dataset {
  readonly length: number;
  readonly sampleShape: readonly number[] = [1, SIDE, SIDE];
  /** Every image's pixels, 784 bytes per image, row-major. */
  readonly images: Uint8Array;
  /** Every image's label. */
  readonly labels: Uint8Array;
  readonly transform: Transform | undefined;
  /** Whether images are read normalised (see MnistDigitsOptions.normalize). */
  readonly normalized: boolean;
  /** The value each byte is read as. */
  private readonly values: Float32Array;
  readonly classes: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

  constructor(images: IdxArray, labels: IdxArray, options: MnistDigitsOptions = {}) {
    const { imagesName = "images", labelsName = "labels" } = options;
    if (images.dtype !== "ubyte" || images.shape.length !== 3 || images.shape[1] !== SIDE || images.shape[2] !== SIDE) {
      throw new IdxFormatError(
        `MNIST: ${imagesName} must hold ubyte images of shape [N, 28, 28], but holds ${images.dtype} of shape [${images.shape.join(", ")}]`,
      );
    }
    if (labels.dtype !== "ubyte" || labels.shape.length !== 1) {
      throw new IdxFormatError(`MNIST: ${labelsName} must hold ubyte labels of shape [N], but holds ${labels.dtype} of shape [${labels.shape.join(", ")}]`);
    }
    if (images.shape[0] !== labels.shape[0]) {
      throw new DatasetError(`MNIST: ${imagesName} holds ${images.shape[0]} images but ${labelsName} holds ${labels.shape[0]} labels`);
    }
    this.images = images.data as Uint8Array;
    this.labels = labels.data as Uint8Array;
    const bad = this.labels.findIndex((l) => l > 9);
    if (bad >= 0) throw new DatasetError(`MNIST: ${labelsName}: label ${bad} is ${this.labels[bad]}, but digits are 0..9`);
    this.length = labels.shape[0]!;
    this.transform = options.transform;
    const { normalize = false } = options;
    if (typeof normalize !== "boolean") throw new ArgumentError(`MNIST: normalize must be true or false, but got ${String(normalize)}`);
    this.normalized = normalize;
    this.values = normalize ? (normalizedValues ??= mnistByteValues(true)) : SCALE;
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
    const values = this.values;
    for (let p = 0; p < PIXELS; p++) out[offset + p] = values[images[base + p]!]!;
    if (this.transform !== undefined) this.transform(out, offset, this.sampleShape);
    return this.labels[i]!;
  }
}
