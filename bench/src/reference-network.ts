import type { NamedWeight, ParameterSpec } from "./named-weight.js";
import { initialWeights } from "./named-weight.js";

export const IMAGE_SHAPE = [1, 28, 28] as const;
export const IMAGE_SIZE = 28 * 28;
export const NUM_CLASSES = 10;
export const BATCH_SIZE = 64;
export const LEARNING_RATE = 1e-3;
export const ADAM_BETAS = [0.9, 0.999] as const;
export const ADAM_EPS = 1e-8;
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/**
 * The parameters of DESIGN.md's reference network, named as in
 * `Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear)`.
 */
export const REFERENCE_PARAMETERS: readonly ParameterSpec[] = [
  { name: "0.weight", shape: [8, 1, 5, 5], init: { kind: "uniform", fanIn: 25 } },
  { name: "0.bias", shape: [8], init: { kind: "uniform", fanIn: 25 } },
  { name: "3.weight", shape: [16, 8, 5, 5], init: { kind: "uniform", fanIn: 200 } },
  { name: "3.bias", shape: [16], init: { kind: "uniform", fanIn: 200 } },
  { name: "7.weight", shape: [120, 256], init: { kind: "uniform", fanIn: 256 } },
  { name: "7.bias", shape: [120], init: { kind: "uniform", fanIn: 256 } },
  { name: "9.weight", shape: [10, 120], init: { kind: "uniform", fanIn: 120 } },
  { name: "9.bias", shape: [10], init: { kind: "uniform", fanIn: 120 } },
];

/** PyTorch's default initialisation of the reference network, from one seeded generator. */
export function referenceWeights(seed: number): NamedWeight[] {
  return initialWeights(REFERENCE_PARAMETERS, seed);
}
