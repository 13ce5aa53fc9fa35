import { CIFAR_BATCH_SIZE, CIFAR_IMAGE_SHAPE, CIFAR_INFER_BATCH, CIFAR_NUM_CLASSES, cifarWeights } from "./cifar-network.js";
import { mnistImages } from "./mnist-batches.js";
import { BATCH_SIZE, IMAGE_SHAPE, referenceWeights } from "./reference-network.js";
import { syntheticImages } from "./synthetic-images.js";
import type { NetworkName, Workload } from "./workload.js";

export const REFERENCE_INFER_BATCH = 1000;
/** Distinct CIFAR batches in a workload; the workers go round them. */
export const CIFAR_DISTINCT_BATCHES = 10;

/**
 * The workload of a network: its seeded initial weights, and `numBatches` training batches (real
 * MNIST for the reference network, a seeded draw; synthetic images for the CIFAR-shaped one) plus
 * one inference batch.
 */
export function networkWorkload(network: NetworkName, seed: number, numBatches: number): Workload {
  if (network === "reference") {
    const train = mnistImages({ train: true, count: numBatches * BATCH_SIZE, seed });
    const test = mnistImages({ train: false, count: REFERENCE_INFER_BATCH });
    return {
      network,
      imageShape: [...IMAGE_SHAPE],
      weights: referenceWeights(seed),
      batchSize: BATCH_SIZE,
      numBatches,
      trainImages: train.images,
      trainLabels: train.labels,
      inferBatch: REFERENCE_INFER_BATCH,
      inferImages: test.images,
    };
  }
  const shape = [...CIFAR_IMAGE_SHAPE];
  const train = syntheticImages({ count: numBatches * CIFAR_BATCH_SIZE, shape, classes: CIFAR_NUM_CLASSES, seed, drawSeed: seed + 1 });
  const test = syntheticImages({ count: CIFAR_INFER_BATCH, shape, classes: CIFAR_NUM_CLASSES, seed, drawSeed: seed + 2 });
  return {
    network,
    imageShape: shape,
    weights: cifarWeights(seed),
    batchSize: CIFAR_BATCH_SIZE,
    numBatches,
    trainImages: train.images,
    trainLabels: train.labels,
    inferBatch: CIFAR_INFER_BATCH,
    inferImages: test.images,
  };
}
