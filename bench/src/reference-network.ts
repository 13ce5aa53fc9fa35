import { Generator } from "@pico/core";

/** One parameter of the reference network, in Pico.ts (PyTorch) layout and naming. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

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
export const REFERENCE_PARAMETERS: readonly { name: string; shape: number[]; fanIn: number }[] = [
  { name: "0.weight", shape: [8, 1, 5, 5], fanIn: 25 },
  { name: "0.bias", shape: [8], fanIn: 25 },
  { name: "3.weight", shape: [16, 8, 5, 5], fanIn: 200 },
  { name: "3.bias", shape: [16], fanIn: 200 },
  { name: "7.weight", shape: [120, 256], fanIn: 256 },
  { name: "7.bias", shape: [120], fanIn: 256 },
  { name: "9.weight", shape: [10, 120], fanIn: 120 },
  { name: "9.bias", shape: [10], fanIn: 120 },
];

/**
 * PyTorch's default initialisation (kaiming-uniform with a = sqrt(5), which gives the bound
 * 1/sqrt(fanIn) for weights and biases alike), drawn from one seeded generator so that both
 * systems start from exactly the same numbers.
 */
export function referenceWeights(seed: number): NamedWeight[] {
  const gen = new Generator(seed);
  return REFERENCE_PARAMETERS.map(({ name, shape, fanIn }) => {
    const bound = 1 / Math.sqrt(fanIn);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = (gen.random() * 2 - 1) * bound;
    return { name, shape: [...shape], data };
  });
}

export function weightByName(weights: readonly NamedWeight[], name: string): NamedWeight {
  const found = weights.find((w) => w.name === name);
  if (found === undefined) {
    throw new Error(`reference network: no weight named "${name}" (have ${weights.map((w) => w.name).join(", ")})`);
  }
  return found;
}
