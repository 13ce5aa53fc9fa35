import { tensor, type Tensor } from "@pico/core";

/** Class labels as one-hot rows [N, classes]: targets a captured training step reads as a tensor. */
export function oneHot(labels: readonly number[], classes = 10): Tensor {
  const data = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (data[i * classes + c] = 1));
  return tensor(data, { shape: [labels.length, classes] });
}

/**
 * Mean cross-entropy of logits [N, C] against one-hot targets, from tensor operators (logSoftmax times
 * the targets): the loss the bench's compiled training step has been measured with (CrossEntropyLoss
 * on class indices compiles too; compiled-training.test.ts checks both).
 */
export function crossEntropyOneHot(logits: Tensor, targets: Tensor): Tensor {
  return logits.logSoftmax(1).mul(targets).sum().mul(-1 / logits.shape[0]!);
}
