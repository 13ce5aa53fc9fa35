import { tensor } from "@pico/core";
import { saveImageGrid, type MNIST } from "@pico/data";
import type { Evaluation } from "../evaluate.js";

/** Cells in samples.png, and how many of them are kept for mistakes when the first ones have none. */
const COUNT = 64;
const MISTAKES = 8;

/**
 * The first test digits, each captioned with the model's prediction ("pred 7"); a mistake is red and
 * also gives the true digit ("pred 7 / true 2"). If the first digits hold few mistakes, the last cells
 * show later ones, so that the picture always shows what the model gets wrong.
 */
export async function saveSamples(path: string, test: MNIST, evaluation: Evaluation): Promise<void> {
  const { indices, labels, labelColors, mistakes } = sampleCells(evaluation);

  const images = new Float32Array(indices.length * 784);
  indices.forEach((index, k) => test.getInto(index, images, k * 784));
  await saveImageGrid(tensor(images, { shape: [indices.length, 1, 28, 28] }), path, {
    nrow: 8,
    scale: 4,
    labels,
    labelColors,
    title: sampleTitle(indices, mistakes),
  });
}

/** Which test digits samples.png shows, and the caption and caption colour of each. */
export function sampleCells(evaluation: Pick<Evaluation, "predictions" | "labels">): {
  indices: number[];
  labels: string[];
  labelColors: string[];
  mistakes: number;
} {
  const count = Math.min(COUNT, evaluation.predictions.length);
  const indices = Array.from({ length: count }, (_, i) => i);
  const wrong = (i: number): boolean => evaluation.predictions[i] !== evaluation.labels[i];
  const shown = indices.filter(wrong).length;
  const extra: number[] = [];
  for (let i = count; i < evaluation.predictions.length && extra.length < MISTAKES - shown; i++) if (wrong(i)) extra.push(i);
  indices.splice(count - extra.length, extra.length, ...extra);
  const labels = indices.map((i) => (wrong(i) ? `pred ${evaluation.predictions[i]} / true ${evaluation.labels[i]}` : `pred ${evaluation.predictions[i]}`));
  const labelColors = indices.map((i) => (wrong(i) ? "#ff5050" : "#e8e8e8"));
  return { indices, labels, labelColors, mistakes: indices.filter(wrong).length };
}

/** What the grid shows: the first test digits, plus later mistakes when some were added. */
export function sampleTitle(indices: readonly number[], mistakes: number): string {
  const later = indices.filter((index) => index >= indices.length).length;
  const first = indices.length - later;
  const which = later > 0 ? `The first ${first} test digits and ${later} later mistakes` : `The first ${first} test digits`;
  return `${which}, captioned with the prediction; ${mistakes} wrong (red, with the true digit)`;
}
