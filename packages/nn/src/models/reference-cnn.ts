import type { Generator } from "@pico/core";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";

/**
 * The reference network of Pico.ts (the trainer's default model and the benchmark's workload):
 * a LeNet-style CNN from 1×28×28 images to 10 logits, 35,474 parameters.
 * Conv2d(1→8, 5×5) → ReLU → MaxPool 2×2 → Conv2d(8→16, 5×5) → ReLU → MaxPool 2×2 → Flatten (256)
 * → Linear(256→120) → ReLU → Linear(120→10). Weights are drawn from `generator` (default: the global one).
 */
export function referenceCnn(generator?: Generator): Sequential {
  const options = generator === undefined ? {} : { generator };
  return new Sequential(
    new Conv2d(1, 8, 5, options),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(8, 16, 5, options),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(256, 120, options),
    new ReLU(),
    new Linear(120, 10, options),
  );
}
