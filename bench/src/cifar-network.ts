import type { NamedWeight, ParameterSpec } from "./named-weight.js";
import { initialWeights } from "./named-weight.js";

/**
 * Issue 11's CIFAR-shaped network, in PyTorch notation:
 * `Conv2d(3,32,3,p=1) BN ReLU Conv2d(32,32,3,p=1) BN ReLU MaxPool2d(2) Conv2d(32,64,3,p=1) BN ReLU`,
 * a residual block `y = ReLU(x + BN(Conv2d(64,64,3,p=1)(ReLU(BN(Conv2d(64,64,3,p=1)(x))))))`,
 * `MaxPool2d(2) Conv2d(64,128,3,p=1) BN ReLU`, mean over H and W, `Linear(128,10)`.
 * Every system builds it as `features` (a Sequential; the block is its module 10, with children
 * conv1, bn1, relu, conv2, bn2) followed by `classifier`, so the parameter names are the same everywhere.
 */
export const CIFAR_IMAGE_SHAPE = [3, 32, 32] as const;
export const CIFAR_NUM_CLASSES = 10;
export const CIFAR_BATCH_SIZE = 64;
export const CIFAR_INFER_BATCH = 256;
export const CIFAR_LEARNING_RATE = 0.01;
export const CIFAR_MOMENTUM = 0.9;
export const CIFAR_BN_EPS = 1e-5;
/** PyTorch's BatchNorm momentum: weight of each batch in the running statistics. */
export const CIFAR_BN_MOMENTUM = 0.1;

/** A 3x3 convolution with padding 1 and bias (PyTorch's default), as named in the model. */
export interface CifarConv {
  name: string;
  inChannels: number;
  outChannels: number;
  /** Spatial size of its input and output (padding 1 keeps it). */
  size: number;
}

export const CIFAR_CONVS: readonly CifarConv[] = [
  { name: "features.0", inChannels: 3, outChannels: 32, size: 32 },
  { name: "features.3", inChannels: 32, outChannels: 32, size: 32 },
  { name: "features.7", inChannels: 32, outChannels: 64, size: 16 },
  { name: "features.10.conv1", inChannels: 64, outChannels: 64, size: 16 },
  { name: "features.10.conv2", inChannels: 64, outChannels: 64, size: 16 },
  { name: "features.12", inChannels: 64, outChannels: 128, size: 8 },
];

/** The BatchNorm2d after each convolution, in the same order. */
export const CIFAR_BATCH_NORMS: readonly string[] = ["features.1", "features.4", "features.8", "features.10.bn1", "features.10.bn2", "features.13"];

export const CIFAR_CLASSIFIER = { name: "classifier", inFeatures: 128, outFeatures: CIFAR_NUM_CLASSES } as const;

/** Parameters in the order torch's and Pico's `named_parameters()` list them. */
export const CIFAR_PARAMETERS: readonly ParameterSpec[] = [
  ...CIFAR_CONVS.flatMap((conv, i): ParameterSpec[] => {
    const fanIn = conv.inChannels * 9;
    const bn = CIFAR_BATCH_NORMS[i]!;
    return [
      { name: `${conv.name}.weight`, shape: [conv.outChannels, conv.inChannels, 3, 3], init: { kind: "uniform", fanIn } },
      { name: `${conv.name}.bias`, shape: [conv.outChannels], init: { kind: "uniform", fanIn } },
      { name: `${bn}.weight`, shape: [conv.outChannels], init: { kind: "ones" } },
      { name: `${bn}.bias`, shape: [conv.outChannels], init: { kind: "zeros" } },
    ];
  }),
  { name: `${CIFAR_CLASSIFIER.name}.weight`, shape: [CIFAR_CLASSIFIER.outFeatures, CIFAR_CLASSIFIER.inFeatures], init: { kind: "uniform", fanIn: CIFAR_CLASSIFIER.inFeatures } },
  { name: `${CIFAR_CLASSIFIER.name}.bias`, shape: [CIFAR_CLASSIFIER.outFeatures], init: { kind: "uniform", fanIn: CIFAR_CLASSIFIER.inFeatures } },
];

/** PyTorch's default initialisation of the CIFAR-shaped network, from one seeded generator. */
export function cifarWeights(seed: number): NamedWeight[] {
  return initialWeights(CIFAR_PARAMETERS, seed);
}
