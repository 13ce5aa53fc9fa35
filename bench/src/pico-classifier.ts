import { noGrad, tensor } from "@pico/core";
import type { Tensor } from "@pico/core";
import { CrossEntropyLoss } from "@pico/nn";
import type { Module } from "@pico/nn";
import type { Optimizer } from "@pico/optim";
import type { Batch } from "./workload.js";

/**
 * A benchmark network as a Pico.ts user trains it: cross-entropy on the model's logits, then zeroGrad,
 * backward and the optimizer's step. PicoNetwork (the reference network, Adam) and PicoCifarNetwork
 * (issue 11's, SGD with momentum) give it their model, optimizer and image shape.
 */
export class PicoClassifier<M extends Module = Module, O extends Optimizer = Optimizer> {
  private readonly criterion = new CrossEntropyLoss();

  constructor(
    readonly model: M,
    readonly optimizer: O,
    private readonly imageShape: readonly number[],
  ) {}

  lossOf(batch: Batch): Tensor {
    const images = tensor(batch.images, { shape: [batch.size, ...this.imageShape] });
    const labels = tensor(Float32Array.from(batch.labels), { shape: [batch.size] });
    return this.criterion.forward(this.model.forward(images), labels);
  }

  /** Mean cross-entropy of a batch in eval mode (BatchNorm's running statistics), without training. */
  loss(batch: Batch): number {
    this.model.eval();
    return noGrad(() => this.lossOf(batch).item());
  }

  /** One optimizer step in training mode; returns the batch's loss before the step. */
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
    const logits = noGrad(() => this.model.forward(tensor(images, { shape: [count, ...this.imageShape] })));
    return Float32Array.from(logits.toTypedArray());
  }
}
