import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CIFAR_IMAGE_SHAPE, CIFAR_NUM_CLASSES, cifarWeights } from "./cifar-network.js";
import { measure } from "./measure.js";
import { PicoCifarNetwork } from "./pico-cifar-network.js";
import { TORCH_PYTHON, runSystem } from "./spawn-worker.js";
import { syntheticImages } from "./synthetic-images.js";
import type { Workload } from "./workload.js";
import { writeWorkload } from "./workload.js";

const torchFound = spawnSync(TORCH_PYTHON, ["-c", "import torch"]).status === 0;
// CI installs torch (.ci/run): there a missing torch is a failure, not a skip.
const runTorch = torchFound || process.env["CI"] !== undefined;
if (!runTorch) console.log(`torch-equality.test.ts: skipped, ${TORCH_PYTHON} cannot import torch (apt-get install -y python3-torch)`);

const dir = mkdtempSync(join(tmpdir(), "pico-torch-equality-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small CIFAR workload (batch 16) so that a few training steps stay quick. */
function smallCifarWorkload(): Workload {
  const shape = [...CIFAR_IMAGE_SHAPE];
  const batchSize = 16;
  const numBatches = 3;
  const train = syntheticImages({ count: batchSize * numBatches, shape, classes: CIFAR_NUM_CLASSES, seed: 5, drawSeed: 6 });
  const test = syntheticImages({ count: 8, shape, classes: CIFAR_NUM_CLASSES, seed: 5, drawSeed: 7 });
  return {
    network: "cifar",
    imageShape: shape,
    weights: cifarWeights(5),
    batchSize,
    numBatches,
    trainImages: train.images,
    trainLabels: train.labels,
    inferBatch: 8,
    inferImages: test.images,
  };
}

describe.runIf(runTorch)("the CIFAR-shaped network in Pico.ts and in the PyTorch worker", () => {
  it("gives the same loss at every step of SGD with momentum, and after it in eval mode", { timeout: 120_000 }, async () => {
    expect(torchFound, `${TORCH_PYTHON} cannot import torch; CI must install python3-torch`).toBe(true);
    const workload = smallCifarWorkload();
    const path = join(dir, "cifar.bin");
    writeWorkload(path, workload);
    const plan = { warmupSteps: 3, trainSteps: 1, inferCount: 8, inferReps: 1 };
    const torch = await runSystem({ system: "torch", threads: 1 }, path, plan);
    const pico = measure(new PicoCifarNetwork(workload.weights), workload, plan);

    expect(torch.stepLosses).toHaveLength(4);
    expect(pico.stepLosses).toHaveLength(4);
    expect(pico.firstLoss).toBeGreaterThan(1.5);
    expect(Math.abs(pico.firstLoss - torch.firstLoss)).toBeLessThan(5e-5);
    pico.stepLosses.forEach((loss, i) => expect(Math.abs(loss - torch.stepLosses[i]!)).toBeLessThan(5e-5));
    // Training moved the weights: the losses are not all the same number.
    expect(Math.max(...pico.stepLosses) - Math.min(...pico.stepLosses)).toBeGreaterThan(1e-3);
    expect(Math.abs(pico.lossAfterTraining - torch.lossAfterTraining)).toBeLessThan(5e-5);
    expect(Math.abs(pico.inferChecksum - torch.inferChecksum)).toBeLessThan(1e-3);
  });
});
