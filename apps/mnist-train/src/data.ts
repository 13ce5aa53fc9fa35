import { DataLoader, MNIST, Subset, compose, normalize, randomAffine, type Dataset } from "@pico/data";
import { MNIST_MEAN, MNIST_STD } from "./models.js";

/** The MNIST split, optionally cut to its first `limit` images. */
export function mnistSplit(train: boolean, root: string | undefined, limit: number | undefined): { full: MNIST; dataset: Dataset } {
  const full = new MNIST({ root, train });
  if (limit === undefined || limit >= full.length) return { full, dataset: full };
  return { full, dataset: new Subset(full, Array.from({ length: limit }, (_, i) => i)) };
}

/** Random shifts of up to 2 pixels (0.07 · 28), rotations of up to 10 degrees and scaling by 0.9 to 1.1, from the global generator (seeded, saved in checkpoints). */
export const AUGMENTATION = { degrees: 10, translate: [0.07, 0.07], scale: [0.9, 1.1] } as const;

/**
 * Batches normalised the way every model here expects its input, augmented first when asked. With
 * `allocate` (train --replicas: DataParallel.batchBuffer), every batch is written into the one buffer it
 * makes, where the replicas read it without a copy; a batch is then valid until the next is drawn.
 */
export function loaderFor(dataset: Dataset, batchSize: number, shuffle: boolean, seed: number, augment = false, allocate?: (length: number) => Float32Array): DataLoader {
  const normalized = normalize(MNIST_MEAN, MNIST_STD);
  const transform = augment ? compose(randomAffine(AUGMENTATION), normalized) : normalized;
  return new DataLoader(dataset, { batchSize, shuffle, seed, transform, ...(allocate === undefined ? {} : { reuseBuffer: true, allocate }) });
}
