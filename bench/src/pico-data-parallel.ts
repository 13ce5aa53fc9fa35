import { noGrad, tensor } from "@pico/core";
import { CrossEntropyLoss } from "@pico/nn";
import { type DataParallel, dataParallel } from "@pico/nn/data-parallel";
import type { NamedWeight } from "./named-weight.js";
import { PicoNetwork } from "./pico-network.js";
import { IMAGE_SHAPE } from "./reference-network.js";
import type { Batch } from "./workload.js";

/**
 * The reference network trained data-parallel: `replicas` copies (this thread and worker threads running
 * pico-replica.js), each step's batch cut into as many shards, the gradients combined on this thread,
 * where Adam steps as in PicoNetwork.
 */
export class PicoDataParallelNetwork {
  private constructor(
    private readonly network: PicoNetwork,
    private readonly dp: DataParallel,
  ) {}

  static async create(weights: readonly NamedWeight[], replicas: number): Promise<PicoDataParallelNetwork> {
    const network = new PicoNetwork(weights);
    const dp = await dataParallel(network.model, new CrossEntropyLoss(), { replicas, worker: new URL("./pico-replica.js", import.meta.url) });
    return new PicoDataParallelNetwork(network, dp);
  }

  /** Mean cross-entropy of a batch, without training (on this thread). */
  loss(batch: Batch): number {
    return this.network.loss(batch);
  }

  /** One Adam step on a batch by shards; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    this.network.model.train();
    this.network.optimizer.zeroGrad();
    const images = tensor(batch.images, { shape: [batch.size, ...IMAGE_SHAPE] });
    const labels = tensor(Float32Array.from(batch.labels), { shape: [batch.size] });
    const { loss } = this.dp.forwardBackward(images, labels);
    this.network.optimizer.step();
    return loss;
  }

  /** Logits for a batch of NCHW images, inferred by shards on every replica. */
  predict(images: Float32Array, count: number): Float32Array {
    this.network.model.eval();
    const logits = count < this.dp.replicas ? noGrad(() => this.network.model.forward(tensor(images, { shape: [count, ...IMAGE_SHAPE] }))) : this.dp.infer(tensor(images, { shape: [count, ...IMAGE_SHAPE] }));
    return Float32Array.from(logits.toTypedArray());
  }
}
