import * as tf from "@tensorflow/tfjs-core";
import {
  CIFAR_BATCH_NORMS,
  CIFAR_BN_EPS,
  CIFAR_BN_MOMENTUM,
  CIFAR_CLASSIFIER,
  CIFAR_CONVS,
  CIFAR_IMAGE_SHAPE,
  CIFAR_LEARNING_RATE,
  CIFAR_MOMENTUM,
  CIFAR_NUM_CLASSES,
} from "./cifar-network.js";
import type { NamedWeight } from "./named-weight.js";
import { weightByName } from "./named-weight.js";
import type { Batch } from "./workload.js";

/** The kernels on the CIFAR-shaped network's backward path (tfjs names), beyond the reference network's. */
export const CIFAR_GRADIENT_KERNELS = ["FusedBatchNorm", "Mean", "Square", "Sub", "Reshape", "Cast", "Conv2D", "MaxPool", "Relu", "Add", "BatchMatMul"] as const;

interface ConvLayer {
  filter: tf.Variable<tf.Rank.R4>;
  bias: tf.Variable<tf.Rank.R1>;
}

interface BatchNormLayer {
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
  runningMean: tf.Variable<tf.Rank.R1>;
  runningVar: tf.Variable<tf.Rank.R1>;
}

/**
 * Issue 11's CIFAR-shaped network written with tfjs-core ops, as a TensorFlow.js user would: NHWC
 * activations, filters [kh, kw, in, out], 'same' padding, BatchNorm from `tf.moments` and
 * `tf.batchNorm` with PyTorch's running statistics (momentum 0.1, unbiased variance), SGD with
 * momentum 0.9 (`tf.train.momentum`, the same update as PyTorch's).
 */
export class TfjsCifarNetwork {
  private readonly convs: ConvLayer[];
  private readonly norms: BatchNormLayer[];
  private readonly fcW: tf.Variable<tf.Rank.R2>;
  private readonly fcB: tf.Variable<tf.Rank.R1>;
  private readonly optimizer: tf.MomentumOptimizer;

  constructor(weights: readonly NamedWeight[]) {
    const load = <R extends tf.Rank>(name: string, perm: number[] | null, trainable = true): tf.Variable<R> =>
      tf.tidy(() => {
        const w = weightByName(weights, name);
        const t = tf.tensor(w.data, w.shape, "float32");
        return tf.variable(perm === null ? t : tf.transpose(t, perm), trainable, `pico_${name}`) as tf.Variable<R>;
      });
    // Pico conv weight [out, in, kh, kw] -> tfjs filter [kh, kw, in, out]; Linear [out, in] -> [in, out].
    this.convs = CIFAR_CONVS.map((c) => ({ filter: load<tf.Rank.R4>(`${c.name}.weight`, [2, 3, 1, 0]), bias: load<tf.Rank.R1>(`${c.name}.bias`, null) }));
    this.norms = CIFAR_BATCH_NORMS.map((name, i) => {
      const channels = CIFAR_CONVS[i]!.outChannels;
      return {
        gamma: load<tf.Rank.R1>(`${name}.weight`, null),
        beta: load<tf.Rank.R1>(`${name}.bias`, null),
        runningMean: tf.variable(tf.zeros([channels]), false, `pico_${name}.running_mean`) as tf.Variable<tf.Rank.R1>,
        runningVar: tf.variable(tf.ones([channels]), false, `pico_${name}.running_var`) as tf.Variable<tf.Rank.R1>,
      };
    });
    this.fcW = load<tf.Rank.R2>(`${CIFAR_CLASSIFIER.name}.weight`, [1, 0]);
    this.fcB = load<tf.Rank.R1>(`${CIFAR_CLASSIFIER.name}.bias`, null);
    this.optimizer = tf.train.momentum(CIFAR_LEARNING_RATE, CIFAR_MOMENTUM);
  }

  get trainableVariables(): tf.Variable[] {
    return [...this.convs.flatMap((c) => [c.filter, c.bias]), ...this.norms.flatMap((n) => [n.gamma, n.beta]), this.fcW, this.fcB];
  }

  private convBn(x: tf.Tensor4D, layer: number, training: boolean): tf.Tensor4D {
    const conv = this.convs[layer]!;
    const norm = this.norms[layer]!;
    const y = tf.add(tf.conv2d(x, conv.filter, 1, "same"), conv.bias) as tf.Tensor4D;
    if (!training) return tf.batchNorm4d(y, norm.runningMean, norm.runningVar, norm.beta, norm.gamma, CIFAR_BN_EPS);
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    const count = y.size / y.shape[3];
    tf.tidy(() => {
      const m = CIFAR_BN_MOMENTUM;
      norm.runningMean.assign(tf.add(tf.mul(norm.runningMean, 1 - m), tf.mul(mean, m)));
      norm.runningVar.assign(tf.add(tf.mul(norm.runningVar, 1 - m), tf.mul(variance, (m * count) / (count - 1))));
    });
    return tf.batchNorm4d(y, mean as tf.Tensor1D, variance as tf.Tensor1D, norm.beta, norm.gamma, CIFAR_BN_EPS);
  }

  /** Logits [N, 10] for NCHW images [N, 3, 32, 32]. */
  forward(images: tf.Tensor4D, training: boolean): tf.Tensor2D {
    let x: tf.Tensor4D = tf.transpose(images, [0, 2, 3, 1]);
    x = tf.relu(this.convBn(x, 0, training));
    x = tf.relu(this.convBn(x, 1, training));
    x = tf.maxPool(x, 2, 2, "valid");
    x = tf.relu(this.convBn(x, 2, training));
    const h = tf.relu(this.convBn(x, 3, training));
    x = tf.relu(tf.add(x, this.convBn(h, 4, training))) as tf.Tensor4D;
    x = tf.maxPool(x, 2, 2, "valid");
    x = tf.relu(this.convBn(x, 5, training));
    const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, this.fcW), this.fcB);
  }

  private lossOf(batch: Batch, training: boolean): tf.Scalar {
    const images = tf.tensor4d(batch.images, [batch.size, ...CIFAR_IMAGE_SHAPE]);
    const labels = tf.oneHot(tf.tensor1d(batch.labels, "int32"), CIFAR_NUM_CLASSES);
    return tf.losses.softmaxCrossEntropy(labels, this.forward(images, training)) as tf.Scalar;
  }

  /** Mean cross-entropy of a batch in eval mode (running statistics), without training. */
  loss(batch: Batch): number {
    return tf.tidy(() => this.lossOf(batch, false).dataSync()[0]!);
  }

  /** One SGD-with-momentum step in training mode; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    return tf.tidy(() => this.optimizer.minimize(() => this.lossOf(batch, true), true, this.trainableVariables)!.dataSync()[0]!);
  }

  /** Logits in eval mode for a batch of NCHW images, read back into JavaScript. */
  predict(images: Float32Array, count: number): Float32Array {
    return tf.tidy(() => this.forward(tf.tensor4d(images, [count, ...CIFAR_IMAGE_SHAPE]), false).dataSync() as Float32Array);
  }

  dispose(): void {
    for (const v of [...this.trainableVariables, ...this.norms.flatMap((n) => [n.runningMean, n.runningVar])]) v.dispose();
    this.optimizer.dispose();
  }
}
