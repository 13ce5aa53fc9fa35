import { Generator, Tensor } from "@pico/core";

export { referenceCnn } from "../models/reference-cnn.js";

/**
 * A small 10-class image task: each class is a fixed coarse 7×7 pattern of ±1 blown up to 28×28,
 * and each sample adds Gaussian noise to its class's pattern. Returns images [n, 1, 28, 28] and
 * class indices [n] (classes in turn, so every batch of 10 holds each class once).
 */
export function syntheticDigits(n: number, generator: Generator, noise = 0.8): { images: Tensor; labels: Tensor } {
  const patterns = new Generator(20240611);
  const prototypes = Array.from({ length: 10 }, () => Float64Array.from({ length: 49 }, () => (patterns.random() < 0.5 ? -1 : 1)));
  const images = Tensor.zeros([n, 1, 28, 28]);
  const labels = Tensor.zeros([n]);
  const img = images.data.data;
  for (let s = 0; s < n; s++) {
    const c = s % 10;
    labels.data.data[s] = c;
    const proto = prototypes[c]!;
    for (let r = 0; r < 28; r++) {
      for (let q = 0; q < 28; q++) img[s * 784 + r * 28 + q] = proto[Math.floor(r / 4) * 7 + Math.floor(q / 4)]! + noise * generator.normal();
    }
  }
  return { images, labels };
}
