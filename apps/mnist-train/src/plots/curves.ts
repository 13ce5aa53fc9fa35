import type { EpochMetrics } from "../metrics.js";
import { linePanel, svgDocument } from "./svg.js";

/** Loss (train and test) and test accuracy per epoch, side by side. */
export function curvesSvg(epochs: readonly EpochMetrics[]): string {
  const loss = linePanel(0, 0, 480, 320, "Loss", [
    { label: "train", color: "#1f77b4", values: epochs.map((e) => e.trainLoss) },
    { label: "test", color: "#d62728", values: epochs.map((e) => e.testLoss) },
  ]);
  const accuracy = linePanel(480, 0, 480, 320, "Accuracy", [
    { label: "train", color: "#1f77b4", values: epochs.map((e) => e.trainAccuracy) },
    { label: "test", color: "#d62728", values: epochs.map((e) => e.testAccuracy) },
  ]);
  return svgDocument(960, 320, loss + accuracy);
}
