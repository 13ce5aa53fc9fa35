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
