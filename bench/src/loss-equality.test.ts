import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistImages } from "./mnist-batches.js";
import { PicoNetwork } from "./pico-network.js";
import { BATCH_SIZE, referenceWeights } from "./reference-network.js";
import { TfjsNetwork } from "./tfjs-network.js";
import { useTfjsBackend } from "./tfjs-setup.js";
import type { Batch } from "./workload.js";

describe("Pico.ts and TensorFlow.js compute the same network", () => {
  const weights = referenceWeights(0);
  const data = mnistImages({ train: true, count: BATCH_SIZE, seed: 0 });
  const batch: Batch = { size: BATCH_SIZE, images: data.images, labels: data.labels };
  let tfjs: TfjsNetwork;

  beforeAll(async () => {
    await useTfjsBackend("wasm");
    tfjs = new TfjsNetwork(weights);
  });
  afterAll(() => tfjs.dispose());

  it("gives the same loss on a real MNIST batch from the same weights (to 1e-4)", () => {
    const pico = new PicoNetwork(weights).loss(batch);
    const theirs = tfjs.loss(batch);
    expect(Number.isFinite(pico)).toBe(true);
    expect(pico).toBeGreaterThan(1.5);
    expect(Math.abs(pico - theirs)).toBeLessThan(1e-4);
  });

  it("gives the same logits for 100 test-set images", () => {
    const test = mnistImages({ train: false, count: 100 });
    const pico = new PicoNetwork(weights).predict(test.images, 100);
    const theirs = tfjs.predict(test.images, 100);
    expect(pico.length).toBe(100 * 10);
    let worst = 0;
    for (let i = 0; i < pico.length; i++) worst = Math.max(worst, Math.abs(pico[i]! - theirs[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it("detects different weights (the check can fail) and leaks no tfjs tensors", () => {
    const before = tf.memory().numTensors;
    const other = new PicoNetwork(referenceWeights(1)).loss(batch);
    expect(Math.abs(other - tfjs.loss(batch))).toBeGreaterThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });
});
