import { noGrad, tensor } from "@pico/core";
import { decodeImage } from "@pico/data";
import sharp from "sharp";
import { loadModelFile } from "./model-file.js";
import { MNIST_MEAN, MNIST_STD } from "./models.js";

export interface PredictOptions {
  checkpoint: string;
  images: readonly string[];
  log: (line: string) => void;
}

export interface Prediction {
  path: string;
  top: { digit: number; probability: number }[];
}

/** Top-3 digits for each image file. */
export async function predictCommand(options: PredictOptions): Promise<Prediction[]> {
  const { model } = loadModelFile(options.checkpoint);
  model.eval();
  const results: Prediction[] = [];
  for (const path of options.images) {
    const pixels = await toMnistDigit(path);
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

/**
 * Turns any picture of a digit into what the network was trained on: grey, white ink on black,
 * the ink's bounding box scaled to fit 20×20 and centred by its centre of mass in 28×28, then normalised.
 */
export async function toMnistDigit(path: string): Promise<Float32Array> {
  const image = await decodeImage(path, { grayscale: true });
  const { width, height } = image;
  const grey = new Float32Array(width * height);
  let mean = 0;
  for (let i = 0; i < grey.length; i++) mean += grey[i] = image.data[i]! / 255;
  mean /= grey.length;
  // Most of a digit picture is background: a bright mean means dark ink on a light page.
  if (mean > 0.5) for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i]!;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of grey) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const range = hi - lo || 1;
  for (let i = 0; i < grey.length; i++) grey[i] = (grey[i]! - lo) / range;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x]! > 0.25) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  const out = new Float32Array(784);
  if (x1 >= 0) {
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const crop = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = Math.round(255 * grey[(y0 + y) * width + x0 + x]!);
    const scale = 20 / Math.max(w, h);
    const tw = Math.max(1, Math.round(w * scale));
    const th = Math.max(1, Math.round(h * scale));
    const small = await sharp(crop, { raw: { width: w, height: h, channels: 1 } }).resize(tw, th, { fit: "fill" }).raw().toBuffer();
    let mass = 0;
    let cx = 0;
    let cy = 0;
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const v = small[y * tw + x]!;
        mass += v;
        cx += v * x;
        cy += v * y;
      }
    }
    const ox = Math.round(14 - (mass ? cx / mass : tw / 2));
    const oy = Math.round(14 - (mass ? cy / mass : th / 2));
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const tx = x + ox;
        const ty = y + oy;
        if (tx >= 0 && tx < 28 && ty >= 0 && ty < 28) out[ty * 28 + tx] = small[y * tw + x]! / 255;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i]! - MNIST_MEAN) / MNIST_STD;
  return out;
}
