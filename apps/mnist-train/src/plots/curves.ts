import type { EpochMetrics, StepSeries } from "../metrics.js";
import { linePanel, svgDocument, type Point } from "./svg.js";

const BLUE = "#1f77b4";
const RED = "#d62728";
const GREEN = "#2ca02c";

/**
 * Training curves over the run, x in epochs: the loss of every batch (faint) with its moving average
 * and the test loss after each epoch; the training accuracy of the batches (moving average) and the test
 * accuracy after each epoch; the learning rate of every batch.
 */
export function curvesSvg(epochs: readonly EpochMetrics[], steps: StepSeries): string {
  const perEpoch = Math.max(1, steps.stepsPerEpoch);
  const lastX = Math.max(epochs.length, steps.loss.length / perEpoch, 1);
  const at = (values: readonly number[]): Point[] => values.map((y, i) => ({ x: (i + 1) / perEpoch, y }));
  const window = Math.max(1, Math.round(perEpoch / 20));
  const smoothed = movingAverage(steps.loss, window);
  const epochPoints = (pick: (e: EpochMetrics) => number): Point[] => epochs.map((e) => ({ x: e.epoch, y: pick(e) }));
  const percent = (v: number): string => `${(100 * v).toFixed(2)}%`;

  const loss = linePanel(0, 0, 420, 340, {
    title: "Loss",
    xLabel: "epoch",
    legendRows: 2,
    xRange: [0, lastX],
    yBounds: [0, Infinity],
    yFrom: 0,
    yMaxHint: Math.max(percentile(steps.loss, 0.98), ...smoothed, ...epochs.map((e) => e.testLoss)),
    formatValue: (v) => v.toFixed(3),
    series: [
      ...(window > 1
        ? [
            { label: "train, each batch", color: BLUE, points: at(steps.loss), width: 1, opacity: 0.3 },
            { label: `train, mean of ${window}`, color: BLUE, points: at(smoothed), width: 2 },
          ]
        : [{ label: "train, each batch", color: BLUE, points: at(steps.loss), width: 1.5 }]),
      { label: "test", color: RED, points: epochPoints((e) => e.testLoss), markers: true, labelLast: true },
    ],
  });
  const accuracy = linePanel(420, 0, 420, 340, {
    title: "Accuracy",
    xLabel: "epoch",
    legendRows: 2,
    xRange: [0, lastX],
    yBounds: [0, 1],
    formatValue: percent,
    series: [
      window > 1
        ? { label: `train, mean of ${window}`, color: BLUE, points: at(movingAverage(steps.accuracy, window)), width: 2 }
        : { label: "train, each batch", color: BLUE, points: at(steps.accuracy), width: 1.5 },
      { label: "test", color: RED, points: epochPoints((e) => e.testAccuracy), markers: true, labelLast: true },
    ],
  });
  const lr = linePanel(840, 0, 420, 340, {
    title: "Learning rate",
    xLabel: "epoch",
    legendRows: 2,
    xRange: [0, lastX],
    yBounds: [0, Infinity],
    yFrom: 0,
    series: [{ label: "lr of every batch", color: GREEN, points: at(steps.lr) }],
  });
  return svgDocument(1260, 340, loss + accuracy + lr);
}

/** Mean of the last `window` values at each position (fewer at the start). */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
