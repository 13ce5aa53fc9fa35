import { Dropout, Flatten, Linear, ReLU, Sequential, referenceCnn, resnet8, type Module } from "@pico/nn";
import type { ModelName } from "./args.js";

/** The reference network of DESIGN.md (see referenceCnn in @pico/nn). */
export function lenet(): Sequential {
  return referenceCnn();
}

/** A two-hidden-layer perceptron over the 784 pixels, with dropout. */
export function mlp(): Sequential {
  return new Sequential(new Flatten(), new Linear(784, 256), new ReLU(), new Dropout(0.2), new Linear(256, 128), new ReLU(), new Linear(128, 10));
}

/** ResNet-8 of He et al. (widths 16, 32, 64) on 1×28×28 images: 77,754 parameters (see ResNet in @pico/nn). */
export function resnet(): Module {
  return resnet8({ inChannels: 1, numClasses: 10 });
}

export function buildModel(name: ModelName): Module {
  return name === "mlp" ? mlp() : name === "resnet" ? resnet() : lenet();
}

/** Mean and standard deviation of MNIST's training pixels, used to normalise every input. */
export { MNIST_MEAN, MNIST_STD } from "@pico/data";
