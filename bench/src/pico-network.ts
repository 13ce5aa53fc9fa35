import type { Sequential } from "@pico/nn";
import { referenceCnn } from "@pico/nn";
import { Adam } from "@pico/optim";
import { stateDictOf } from "./named-weight.js";
import type { NamedWeight } from "./named-weight.js";
import { PicoClassifier } from "./pico-classifier.js";
import { ADAM_BETAS, ADAM_EPS, IMAGE_SHAPE, LEARNING_RATE } from "./reference-network.js";

/** DESIGN.md's reference network, as @pico/nn ships it. */
export function referenceModel(): Sequential {
  return referenceCnn();
}

/** The reference network with the workload's weights, trained by Adam. */
export class PicoNetwork extends PicoClassifier<Sequential, Adam> {
  constructor(weights: readonly NamedWeight[]) {
    const model = referenceModel();
    model.loadStateDict(stateDictOf(weights));
    super(model, new Adam(model.parameters(), { lr: LEARNING_RATE, betas: [...ADAM_BETAS], eps: ADAM_EPS }), IMAGE_SHAPE);
  }
}
