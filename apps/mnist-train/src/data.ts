import { DataLoader, MNIST, Subset, normalize, type Dataset } from "@pico/data";
import { MNIST_MEAN, MNIST_STD } from "./models.js";

/** The MNIST split, optionally cut to its first `limit` images. */
export function mnistSplit(train: boolean, root: string | undefined, limit: number | undefined): { full: MNIST; dataset: Dataset } {
  const full = new MNIST({ root, train });
  if (limit === undefined || limit >= full.length) return { full, dataset: full };
  return { full, dataset: new Subset(full, Array.from({ length: limit }, (_, i) => i)) };
}

/** Batches normalised the way every model here expects its input. */
export function loaderFor(dataset: Dataset, batchSize: number, shuffle: boolean, seed: number): DataLoader {
  return new DataLoader(dataset, { batchSize, shuffle, seed, transform: normalize(MNIST_MEAN, MNIST_STD) });
}
