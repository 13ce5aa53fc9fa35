import { noGrad, tensor } from "@pico/core";
import type { Tensor } from "@pico/core";
import { CifarNet, CrossEntropyLoss } from "@pico/nn";
import { Momentum } from "@pico/optim";
import { CIFAR_IMAGE_SHAPE, CIFAR_LEARNING_RATE, CIFAR_MOMENTUM } from "./cifar-network.js";
import type { NamedWeight } from "./named-weight.js";
import type { Batch } from "./workload.js";

// Issue 11's CIFAR-shaped network as a Pico.ts user gets it: @pico/nn's CifarNet (a Sequential of
// standard layers, whose fusion patterns apply by themselves, and a residual block fused by
// fuseModules that ends with F.addRelu), with the workload's weights. Its BatchNorm's eps and momentum
// are PyTorch's defaults, as the other systems'.

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
