import { CifarNet } from "@pico/nn";
import { Momentum } from "@pico/optim";
import { CIFAR_IMAGE_SHAPE, CIFAR_LEARNING_RATE, CIFAR_MOMENTUM } from "./cifar-network.js";
import { stateDictOf } from "./named-weight.js";
import type { NamedWeight } from "./named-weight.js";
import { PicoClassifier } from "./pico-classifier.js";

// Issue 11's CIFAR-shaped network as a Pico.ts user gets it: @pico/nn's CifarNet (a Sequential of
// standard layers, whose fusion patterns apply by themselves, and a residual block fused by
// fuseModules that ends with F.addRelu), with the workload's weights. Its BatchNorm's eps and momentum
// are PyTorch's defaults, as the other systems'.

/** Loads the workload's weights by name; BatchNorm's running statistics keep their initial 0 and 1. */
export function loadCifarWeights(model: CifarNet, weights: readonly NamedWeight[]): void {
  const dict = stateDictOf(weights);
  const { unexpectedKeys } = model.loadStateDict(dict, { strict: false });
  const parameterNames = new Set(model.namedParameters().map(([name]) => name));
  const missing = [...parameterNames].filter((name) => !Object.hasOwn(dict, name));
  if (unexpectedKeys.length > 0 || missing.length > 0) {
    throw new Error(`CIFAR network: the workload's weights do not match the model (missing ${missing.join(", ") || "none"}; unexpected ${unexpectedKeys.join(", ") || "none"})`);
  }
}

/** CifarNet with the workload's weights, trained by SGD with momentum. */
export class PicoCifarNetwork extends PicoClassifier<CifarNet, Momentum> {
  constructor(weights: readonly NamedWeight[]) {
    const model = new CifarNet();
    loadCifarWeights(model, weights);
    super(model, new Momentum(model.parameters(), { lr: CIFAR_LEARNING_RATE, momentum: CIFAR_MOMENTUM }), CIFAR_IMAGE_SHAPE);
  }
}
