import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CIFAR_IMAGE_SHAPE, CIFAR_NUM_CLASSES, cifarWeights } from "./cifar-network.js";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { syntheticImages } from "./synthetic-images.js";
import { TfjsCifarNetwork } from "./tfjs-cifar-network.js";
import { useTfjsBackend } from "./tfjs-setup.js";
import type { Batch } from "./workload.js";

describe("Pico.ts and TensorFlow.js compute the same CIFAR-shaped network", () => {
  const weights = cifarWeights(3);
  const data = syntheticImages({ count: 8, shape: [...CIFAR_IMAGE_SHAPE], classes: CIFAR_NUM_CLASSES, seed: 3, drawSeed: 4 });
  const batch: Batch = { size: 8, images: data.images, labels: data.labels };
  let tfjs: TfjsCifarNetwork;

  beforeAll(async () => {
    await useTfjsBackend("wasm");
    tfjs = new TfjsCifarNetwork(weights);
  });
  afterAll(() => tfjs.dispose());

  it("gives the same eval-mode loss and logits from the same weights", () => {
    const pico = new PicoCifarNetwork(weights);
    const loss = pico.loss(batch);
    expect(loss).toBeGreaterThan(1.5);
    expect(Math.abs(loss - tfjs.loss(batch))).toBeLessThan(5e-5);
    const a = pico.predict(data.images, 8);
    const b = tfjs.predict(data.images, 8);
    expect(a.length).toBe(80);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it("detects different weights and leaks no tfjs tensors", () => {
    const before = tf.memory().numTensors;
    const other = new PicoCifarNetwork(cifarWeights(4)).loss(batch);
    expect(Math.abs(other - tfjs.loss(batch))).toBeGreaterThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });
});
