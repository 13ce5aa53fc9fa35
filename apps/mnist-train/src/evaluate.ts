import { noGrad, type Tensor } from "@pico/core";
import { CrossEntropyLoss, type Module } from "@pico/nn";
import type { DataLoader } from "@pico/data";

export interface Evaluation {
  /** Mean cross-entropy over the data set. */
  loss: number;
  accuracy: number;
  /** The predicted class of every sample, in data-set order. */
  predictions: Int32Array;
  labels: Int32Array;
}

/**
 * Runs the model over a loader (unshuffled) in eval mode without recording a graph; `forward`, when given,
 * computes a batch's logits instead of the model's own forward (train --replicas: by shards on every replica).
 */
export function evaluate(model: Module<[Tensor], Tensor>, loader: DataLoader, forward?: (inputs: Tensor) => Tensor): Evaluation {
  const n = loader.dataset.length;
  const predictions = new Int32Array(n);
  const labels = new Int32Array(n);
  const lossFn = new CrossEntropyLoss({ reduction: "sum" });
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  let at = 0;
  noGrad(() => {
    for (const [inputs, targets] of loader.batches(0)) {
      const logits = forward !== undefined ? forward(inputs) : model.forward(inputs);
      lossSum += lossFn.forward(logits, targets).item();
      const predicted = logits.argmax(1).toTypedArray();
      const truth = targets.toTypedArray();
      for (let i = 0; i < predicted.length; i++, at++) {
        predictions[at] = predicted[i]!;
        labels[at] = truth[i]!;
        if (predicted[i] === truth[i]) correct++;
      }
    }
  });
  if (wasTraining) model.train();
  return { loss: lossSum / Math.max(1, n), accuracy: correct / Math.max(1, n), predictions, labels };
}
