import * as tf from "@tensorflow/tfjs-core";
import type { NamedWeight } from "./named-weight.js";
import { weightByName } from "./named-weight.js";
import { ADAM_BETAS, ADAM_EPS, IMAGE_SHAPE, LEARNING_RATE, NUM_CLASSES } from "./reference-network.js";
import type { Batch } from "./workload.js";

/**
 * The reference network written with tfjs-core ops, as a TensorFlow.js user would: NHWC convolutions,
 * conv filters [kh, kw, in, out], dense kernels [in, out]. The activations are flattened in NCHW
 * (C, H, W) order so that the dense layer's weights are exactly Pico.ts's, transposed.
 */
export class TfjsNetwork {
  readonly conv1W: tf.Variable;
  readonly conv1B: tf.Variable;
  readonly conv2W: tf.Variable;
  readonly conv2B: tf.Variable;
  readonly fc1W: tf.Variable;
  readonly fc1B: tf.Variable;
  readonly fc2W: tf.Variable;
  readonly fc2B: tf.Variable;
  private readonly optimizer: tf.AdamOptimizer;

  constructor(weights: readonly NamedWeight[]) {
    const load = (name: string, perm: number[] | null): tf.Variable =>
      tf.tidy(() => {
        const w = weightByName(weights, name);
        const t = tf.tensor(w.data, w.shape, "float32");
        return tf.variable(perm === null ? t : tf.transpose(t, perm), true, `pico_${name}`);
      });
    // Pico conv weight [out, in, kh, kw] -> tfjs filter [kh, kw, in, out]; Linear [out, in] -> [in, out].
    this.conv1W = load("0.weight", [2, 3, 1, 0]);
    this.conv1B = load("0.bias", null);
    this.conv2W = load("3.weight", [2, 3, 1, 0]);
    this.conv2B = load("3.bias", null);
    this.fc1W = load("7.weight", [1, 0]);
    this.fc1B = load("7.bias", null);
    this.fc2W = load("9.weight", [1, 0]);
    this.fc2B = load("9.bias", null);
    this.optimizer = tf.train.adam(LEARNING_RATE, ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPS);
  }

  get variables(): tf.Variable[] {
    return [this.conv1W, this.conv1B, this.conv2W, this.conv2B, this.fc1W, this.fc1B, this.fc2W, this.fc2B];
  }

  /** Logits [N, 10] for NCHW images [N, 1, 28, 28]. */
  forward(images: tf.Tensor4D): tf.Tensor2D {
    const n = images.shape[0];
    const x = tf.transpose(images, [0, 2, 3, 1]);
    const h1 = convReluPool(x, this.conv1W, this.conv1B);
    const h2 = convReluPool(h1, this.conv2W, this.conv2B);
    const flat = tf.reshape(tf.transpose(h2, [0, 3, 1, 2]), [n, -1]);
    const h3 = tf.relu(tf.add(tf.matMul(flat, this.fc1W as tf.Tensor2D), this.fc1B));
    return tf.add(tf.matMul(h3, this.fc2W as tf.Tensor2D), this.fc2B);
  }

  private lossOf(batch: Batch): tf.Scalar {
    const images = tf.tensor4d(batch.images, [batch.size, ...IMAGE_SHAPE]);
    const labels = tf.oneHot(tf.tensor1d(batch.labels, "int32"), NUM_CLASSES);
    return tf.losses.softmaxCrossEntropy(labels, this.forward(images)) as tf.Scalar;
  }

  /** Mean cross-entropy of a batch, without training. */
  loss(batch: Batch): number {
    return tf.tidy(() => this.lossOf(batch).dataSync()[0]!);
  }

  /** One Adam step on a batch; returns the batch's loss before the step. */
  trainStep(batch: Batch): number {
    return tf.tidy(() => this.optimizer.minimize(() => this.lossOf(batch), true, this.variables)!.dataSync()[0]!);
  }

  /** Logits for a batch of NCHW images, read back into JavaScript. */
  predict(images: Float32Array, count: number): Float32Array {
    return tf.tidy(() => this.forward(tf.tensor4d(images, [count, ...IMAGE_SHAPE])).dataSync() as Float32Array);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.optimizer.dispose();
  }
}

function convReluPool(x: tf.Tensor4D, filter: tf.Variable, bias: tf.Variable): tf.Tensor4D {
  const activated = tf.relu(tf.add(tf.conv2d(x, filter as tf.Tensor4D, 1, "valid"), bias)) as tf.Tensor4D;
  return tf.maxPool(activated, 2, 2, "valid");
}
