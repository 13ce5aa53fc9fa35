import { Generator } from "@pico/core";
import { MNIST } from "@pico/data";
import { IMAGE_SIZE, MNIST_MEAN, MNIST_STD } from "./reference-network.js";

/** Images in MNIST's training set (mnistImages refuses more). */
export const MNIST_TRAIN_IMAGES = 60_000;

export interface MnistBatches {
  /** Normalised images [count, 1, 28, 28]. */
  images: Float32Array;
  labels: Int32Array;
}

/** `count` images of real MNIST, normalised with DESIGN.md's mean and std: a seeded draw, or the first ones. */
export function mnistImages(options: { train: boolean; count: number; seed?: number; root?: string }): MnistBatches {
  const dataset = new MNIST(options.root === undefined ? { train: options.train } : { train: options.train, root: options.root });
  if (options.count > dataset.length) {
    throw new RangeError(`mnistImages: asked for ${options.count} images, but the set holds ${dataset.length}`);
  }
  const order = Int32Array.from({ length: dataset.length }, (_, i) => i);
  if (options.seed !== undefined) new Generator(options.seed).shuffle(order);
  const images = new Float32Array(options.count * IMAGE_SIZE);
  const labels = new Int32Array(options.count);
  for (let i = 0; i < options.count; i++) labels[i] = dataset.getInto(order[i]!, images, i * IMAGE_SIZE);
  const scale = 1 / MNIST_STD;
  for (let i = 0; i < images.length; i++) images[i] = (images[i]! - MNIST_MEAN) * scale;
  return { images, labels };
}
