import { PicoError, noGrad, tensor } from "@pico/core";
import { mnistDigitFromImage } from "@pico/data";
import { loadModelFile } from "./model-file.js";

export interface PredictOptions {
  checkpoint: string;
  images: readonly string[];
  log: (line: string) => void;
  /** Where the line for a file that cannot be read goes (stderr in the CLI). */
  logError: (line: string) => void;
}

export type Prediction =
  | { path: string; top: { digit: number; probability: number }[] }
  /** A file that could not be read (missing, a folder, not an image, blank): the others are still predicted. */
  | { path: string; error: string };

/** Top-3 digits for each image file, read as MNIST digits by mnistDigitFromImage. */
export async function predictCommand(options: PredictOptions): Promise<Prediction[]> {
  const { model } = loadModelFile(options.checkpoint);
  model.eval();
  const results: Prediction[] = [];
  for (const path of options.images) {
    let pixels: Float32Array;
    try {
      pixels = await mnistDigitFromImage(path);
    } catch (error) {
      if (!(error instanceof PicoError)) throw error;
      const message = error.message.replace(/^mnistDigitFromImage: /, "");
      results.push({ path, error: message });
      options.logError(`mnist-train predict: ${message}`);
      continue;
    }
    const probabilities = noGrad(() => model.forward(tensor(pixels, { shape: [1, 1, 28, 28] })).softmax(1)).toTypedArray();
    const top = [...probabilities]
      .map((probability, digit) => ({ digit, probability }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, 3);
    results.push({ path, top });
    options.log(`${path}: ${top.map((t) => `${t.digit} (${(100 * t.probability).toFixed(1)}%)`).join(", ")}`);
  }
  return results;
}
