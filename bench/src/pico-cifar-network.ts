import { noGrad, tensor } from "@pico/core";
import type { Tensor } from "@pico/core";
import { BatchNorm2d, Conv2d, CrossEntropyLoss, Linear, MaxPool2d, Module, ReLU, Sequential } from "@pico/nn";
import { Momentum } from "@pico/optim";
import { CIFAR_BN_EPS, CIFAR_BN_MOMENTUM, CIFAR_IMAGE_SHAPE, CIFAR_LEARNING_RATE, CIFAR_MOMENTUM } from "./cifar-network.js";
import type { NamedWeight } from "./named-weight.js";
import type { Batch } from "./workload.js";

function conv3x3(inChannels: number, outChannels: number): Conv2d {
  return new Conv2d(inChannels, outChannels, 3, { padding: 1 });
}

function batchNorm(channels: number): BatchNorm2d {
  return new BatchNorm2d(channels, { eps: CIFAR_BN_EPS, momentum: CIFAR_BN_MOMENTUM });
}

/** `y = ReLU(x + BN(Conv(ReLU(BN(Conv(x))))))`, written as torchvision writes its BasicBlock. */
export class ResidualBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu = new ReLU();
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  constructor(channels: number) {
    super();
    this.conv1 = conv3x3(channels, channels);
    this.bn1 = batchNorm(channels);
    this.conv2 = conv3x3(channels, channels);
    this.bn2 = batchNorm(channels);
  }

  forward(x: Tensor): Tensor {
    const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    return this.relu.forward(x.add(this.bn2.forward(this.conv2.forward(h))));
  }
}

/** Issue 11's CIFAR-shaped network as a Pico.ts user writes it: a Sequential of standard layers and a residual block. */
export class CifarNet extends Module {
  readonly features = new Sequential(
    conv3x3(3, 32),
    batchNorm(32),
    new ReLU(),
    conv3x3(32, 32),
    batchNorm(32),
    new ReLU(),
    new MaxPool2d(2),
    conv3x3(32, 64),
    batchNorm(64),
    new ReLU(),
    new ResidualBlock(64),
    new MaxPool2d(2),
    conv3x3(64, 128),
    batchNorm(128),
    new ReLU(),
  );
  readonly classifier = new Linear(128, 10);

  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x).mean([2, 3]));
  }
}

/** Loads the workload's weights by name; BatchNorm's running statistics keep their initial 0 and 1. */
export function loadCifarWeights(model: CifarNet, weights: readonly NamedWeight[]): void {
  const dict: Record<string, Tensor> = {};
  for (const w of weights) dict[w.name] = tensor(w.data, { shape: w.shape });
  const { unexpectedKeys } = model.loadStateDict(dict, { strict: false });
  const parameterNames = new Set(model.namedParameters().map(([name]) => name));
  const missing = [...parameterNames].filter((name) => !Object.hasOwn(dict, name));
  if (unexpectedKeys.length > 0 || missing.length > 0) {
    throw new Error(`CIFAR network: the workload's weights do not match the model (missing ${missing.join(", ") || "none"}; unexpected ${unexpectedKeys.join(", ") || "none"})`);
  }
}

export class PicoCifarNetwork {
  readonly model = new CifarNet();
  private readonly criterion = new CrossEntropyLoss();
  readonly optimizer: Momentum;

  constructor(weights: readonly NamedWeight[]) {
    loadCifarWeights(this.model, weights);
    this.optimizer = new Momentum(this.model.parameters(), { lr: CIFAR_LEARNING_RATE, momentum: CIFAR_MOMENTUM });
  }

  lossOf(batch: Batch): Tensor {
    const images = tensor(batch.images, { shape: [batch.size, ...CIFAR_IMAGE_SHAPE] });
    const labels = tensor(Float32Array.from(batch.labels), { shape: [batch.size] });
    return this.criterion.forward(this.model.forward(images), labels);
  }

  /** Mean cross-entropy of a batch in eval mode (running statistics), without training. */
  loss(batch: Batch): number {
    this.model.eval();
    return noGrad(() => this.lossOf(batch).item());
  }

  /** One SGD-with-momentum step in training mode; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    this.model.train();
    this.optimizer.zeroGrad();
    const loss = this.lossOf(batch);
    const value = loss.item();
    loss.backward();
    this.optimizer.step();
    return value;
  }

  /** Logits in eval mode for a batch of NCHW images. */
  predict(images: Float32Array, count: number): Float32Array {
    this.model.eval();
    const logits = noGrad(() => this.model.forward(tensor(images, { shape: [count, ...CIFAR_IMAGE_SHAPE] })));
    return Float32Array.from(logits.toTypedArray());
  }
}
