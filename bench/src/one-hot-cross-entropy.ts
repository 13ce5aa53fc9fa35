import { tensor, type Tensor } from "@pico/core";

/** Class labels as one-hot rows [N, classes]: targets a captured training step reads as a tensor. */
export function oneHot(labels: readonly number[], classes = 10): Tensor {
  const data = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (data[i * classes + c] = 1));
  return tensor(data, { shape: [labels.length, classes] });
}

/**
 * Mean cross-entropy of logits [N, C] against one-hot targets, from tensor operators (logSoftmax times
 * the targets): CrossEntropyLoss reads class indices outside its Function, which a captured graph
 * cannot follow from one batch to the next.
 */
export function crossEntropyOneHot(logits: Tensor, targets: Tensor): Tensor {
  return logits.logSoftmax(1).mul(targets).sum().mul(-1 / logits.shape[0]!);
}
