import { Generator } from "@pico/core";

export interface LabelledImages {
  /** Images [count, ...shape], roughly zero mean and unit variance. */
  images: Float32Array;
  labels: Int32Array;
}

/**
 * Seeded synthetic images that a network can learn from: each class has a fixed random template, and
 * an image of class c is `0.6 · template[c] + 0.8 · noise` (standard normal template and noise, so each
 * value has variance 1), with labels drawn uniformly. The templates depend on `seed` only, so a train
 * draw and a test draw with different `drawSeed`s share them.
 */
export function syntheticImages(options: { count: number; shape: readonly number[]; classes: number; seed: number; drawSeed: number }): LabelledImages {
  const { count, shape, classes, seed, drawSeed } = options;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`syntheticImages: count must be an integer >= 1, but got ${count}`);
  const size = shape.reduce((a, b) => a * b, 1);
  const templateGen = new Generator(seed);
  const templates = new Float32Array(classes * size);
  for (let i = 0; i < templates.length; i++) templates[i] = templateGen.normal();
  const gen = new Generator(drawSeed);
  const images = new Float32Array(count * size);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = gen.randint(classes);
    labels[n] = label;
    const template = label * size;
    const at = n * size;
    for (let i = 0; i < size; i++) images[at + i] = 0.6 * templates[template + i]! + 0.8 * gen.normal();
  }
  return { images, labels };
}
