import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from "@pico/nn";
import type { ModelName } from "./args.js";

/**
 * The reference network of DESIGN.md: Conv2d(1→8, 5×5) → ReLU → MaxPool 2×2 → Conv2d(8→16, 5×5) →
 * ReLU → MaxPool 2×2 → Flatten (256) → Linear(256→120) → ReLU → Linear(120→10).
 */
export function lenet(): Sequential {
  return new Sequential(
    new Conv2d(1, 8, 5),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(8, 16, 5),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(256, 120),
    new ReLU(),
    new Linear(120, 10),
  );
}

/** A two-hidden-layer perceptron over the 784 pixels, with dropout. */
export function mlp(): Sequential {
  return new Sequential(new Flatten(), new Linear(784, 256), new ReLU(), new Dropout(0.2), new Linear(256, 128), new ReLU(), new Linear(128, 10));
}

export function buildModel(name: ModelName): Sequential {
  return name === "mlp" ? mlp() : lenet();
}

/** Mean and standard deviation of MNIST's training pixels, used to normalise every input. */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;
