import { normalize } from "./transforms/normalize.js";

/**
 * Mean and standard deviation of the pixels of MNIST's 60,000 training images (values in [0, 1]), as
 * torchvision's examples use them: `normalize(MNIST_MEAN, MNIST_STD)` gives a network zero-mean,
 * unit-variance input.
 */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/**
 * The float32 value of each byte 0..255 of an MNIST image as MnistDigits reads it: scaled to [0, 1]
 * (byte / 255) and, with `normalized`, then through `normalize(MNIST_MEAN, MNIST_STD)`, the transform itself,
 * so that one look-up per pixel gives the bits of the two passes.
 */
export function mnistByteValues(normalized: boolean): Float32Array {
  const values = new Float32Array(256);
  for (let b = 0; b < 256; b++) values[b] = b / 255;
  if (normalized) normalize(MNIST_MEAN, MNIST_STD)(values, 0, [1, 256]);
  return values;
}
