import { noGrad, tensor } from "@pico/core";
import type { Tensor } from "@pico/core";
import { CrossEntropyLoss, Sequential, referenceCnn } from "@pico/nn";
import { Adam } from "@pico/optim";
import type { NamedWeight } from "./named-weight.js";
import { ADAM_BETAS, ADAM_EPS, IMAGE_SHAPE, LEARNING_RATE } from "./reference-network.js";
import type { Batch } from "./workload.js";

/** DESIGN.md's reference network, as @pico/nn ships it. */
export function referenceModel(): Sequential {
  return referenceCnn();
}

export class PicoNetwork {
  readonly model = referenceModel();
  private readonly criterion = new CrossEntropyLoss();
  readonly optimizer: Adam;

  constructor(weights: readonly NamedWeight[]) {
    const dict: Record<string, Tensor> = {};
    for (const w of weights) dict[w.name] = tensor(w.data, { shape: w.shape });
    this.model.loadStateDict(dict);
    this.optimizer = new Adam(this.model.parameters(), { lr: LEARNING_RATE, betas: [...ADAM_BETAS], eps: ADAM_EPS });
  }

  lossOf(batch: Batch): Tensor {
    const images = tensor(batch.images, { shape: [batch.size, ...IMAGE_SHAPE] });
    const labels = tensor(Float32Array.from(batch.labels), { shape: [batch.size] });
    return this.criterion.forward(this.model.forward(images), labels);
  }

  /** Mean cross-entropy of a batch, without training. */
  loss(batch: Batch): number {
    return noGrad(() => this.lossOf(batch).item());
  }

  /** One Adam step on a batch; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    this.model.train();
    this.optimizer.zeroGrad();
    const loss = this.lossOf(batch);
    const value = loss.item();
    loss.backward();
    this.optimizer.step();
    return value;
  }

  /** Logits for a batch of NCHW images. */
  predict(images: Float32Array, count: number): Float32Array {
    this.model.eval();
    const logits = noGrad(() => this.model.forward(tensor(images, { shape: [count, ...IMAGE_SHAPE] })));
    return Float32Array.from(logits.toTypedArray());
  }
}
