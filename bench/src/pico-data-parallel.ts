import { noGrad, tensor } from "@pico/core";
import { CrossEntropyLoss } from "@pico/nn";
import { type DataParallel, dataParallel } from "@pico/nn/data-parallel";
import { CIFAR_IMAGE_SHAPE } from "./cifar-network.js";
import type { NamedWeight } from "./named-weight.js";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { PicoNetwork } from "./pico-network.js";
import { IMAGE_SHAPE } from "./reference-network.js";
import type { Batch, NetworkName } from "./workload.js";

/**
 * A network trained data-parallel: `replicas` copies (this thread and worker threads running
 * pico-replica.js), each step's batch cut into as many shards, the gradients summed and the optimizer's
 * update made by all of them (DataParallel.trainStep), with the optimizer of PicoNetwork (reference, Adam) or
 * PicoCifarNetwork (cifar, SGD with momentum; its BatchNorm layers' statistics synchronized across the
 * replicas by DataParallel).
 */
export class PicoDataParallelNetwork {
  private constructor(
    private readonly network: PicoNetwork | PicoCifarNetwork,
    private readonly dp: DataParallel,
    private readonly imageShape: readonly number[],
  ) {}

  static async create(name: NetworkName, weights: readonly NamedWeight[], replicas: number): Promise<PicoDataParallelNetwork> {
    const network = name === "cifar" ? new PicoCifarNetwork(weights) : new PicoNetwork(weights);
    const worker = new URL("./pico-replica.js", import.meta.url);
    const dp = await dataParallel(network.model, new CrossEntropyLoss(), { replicas, worker, workerData: { network: name } });
    return new PicoDataParallelNetwork(network, dp, name === "cifar" ? CIFAR_IMAGE_SHAPE : IMAGE_SHAPE);
  }

  /** Mean cross-entropy of a batch, without training (on this thread, as the network's own loss). */
  loss(batch: Batch): number {
    return this.network.loss(batch);
  }

  /** One optimizer step on a batch by shards; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    this.network.model.train();
    this.network.optimizer.zeroGrad();
    const images = tensor(batch.images, { shape: [batch.size, ...this.imageShape] });
    const labels = tensor(Float32Array.from(batch.labels), { shape: [batch.size] });
    // forwardBackward then dp.step(optimizer), in one command: each replica updates the slices of the gradients it summed.
    return this.dp.trainStep(images, labels, this.network.optimizer).loss;
  }

  /** Logits (eval mode) for a batch of NCHW images, inferred by shards on every replica. */
  predict(images: Float32Array, count: number): Float32Array {
    this.network.model.eval();
    const input = tensor(images, { shape: [count, ...this.imageShape] });
    const logits = count < this.dp.replicas ? noGrad(() => this.network.model.forward(input)) : this.dp.infer(input);
    return Float32Array.from(logits.toTypedArray());
  }
}
