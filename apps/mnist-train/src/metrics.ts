/** What one epoch of training measured; metrics.json holds one per epoch. */
export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
  lr: number;
}

/** Every training batch of the run so far, in order (epochs that were resumed included). */
export interface StepSeries {
  /** Batches per epoch, so that step i belongs to epoch floor(i / stepsPerEpoch) + 1. */
  stepsPerEpoch: number;
  loss: number[];
  /** Share of each batch's images classified correctly (before its optimizer step). */
  accuracy: number[];
  lr: number[];
}

/** What each field of metrics.json means; written into the file itself, so that it explains itself. */
export const METRICS_FIELDS = {
  runId: "identifies the run; every checkpoint of the run carries the same id",
  config: "the settings the run trains with (also stored in every checkpoint; --resume takes them from there)",
  "epochs[].epoch": "1-based number of the epoch",
  "epochs[].trainLoss": "mean cross-entropy over the epoch's training batches, each measured before its optimizer step (dropout on)",
  "epochs[].trainAccuracy": "share of the epoch's training images classified correctly, measured like trainLoss",
  "epochs[].testLoss": "mean cross-entropy on the test set after the epoch (eval mode)",
  "epochs[].testAccuracy": "share of the test images classified correctly after the epoch, in [0, 1]",
  "epochs[].imagesPerSecond": "training images per second of wall-clock time in the epoch (testing excluded)",
  "epochs[].seconds": "wall-clock seconds of training in the epoch (testing excluded)",
  "epochs[].lr": "learning rate (parameter group 0) that the epoch's last batch was trained with, as set by the schedule",
  "steps.stepsPerEpoch": "batches per epoch",
  "steps.loss": "training loss of every batch, in order (batch i is in epoch floor(i / stepsPerEpoch) + 1)",
  "steps.accuracy": "share of every batch's images classified correctly, measured like steps.loss, in order",
  "steps.lr": "learning rate every batch was trained with (parameter group 0), in order",
} as const;

/** The contents of metrics.json. */
export interface MetricsFile<C> {
  fields: typeof METRICS_FIELDS;
  runId: string;
  config: C;
  epochs: EpochMetrics[];
  steps: StepSeries;
}

/** Rounds to 6 significant digits: plenty for a plot, and a third of the JSON. */
export function compact(value: number): number {
  return Number(value.toPrecision(6));
}
