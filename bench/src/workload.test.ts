import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Workload } from "./workload.js";
import { distinctBatches, readWorkload, trainBatch, writeWorkload } from "./workload.js";

const dir = mkdtempSync(join(tmpdir(), "pico-workload-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const IMAGE_SIZE = 3 * 2 * 5;

function sample(): Workload {
  const ramp = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.fround((i % 97) * scale - 1));
  return {
    network: "cifar",
    imageShape: [3, 2, 5],
    // A 3-element weight first, so the next block starts 4-byte aligned but not 8-byte aligned in the file.
    weights: [
      { name: "a.weight", shape: [3], data: ramp(3, 0.5) },
      { name: "b.weight", shape: [2, 5], data: ramp(10, 0.25) },
    ],
    batchSize: 2,
    numBatches: 3,
    trainImages: ramp(6 * IMAGE_SIZE, 0.01),
    trainLabels: Int32Array.from({ length: 6 }, (_, i) => (i * 7) % 10),
    inferBatch: 4,
    inferImages: ramp(4 * IMAGE_SIZE, -0.02),
  };
}

describe("workload file", () => {
  it("reads back bit-exact what was written, each block aligned in a buffer of its own", () => {
    const path = join(dir, "round-trip.bin");
    const w = sample();
    writeWorkload(path, w);
    const r = readWorkload(path);
    expect(r.weights.map((x) => [x.name, x.shape])).toEqual(w.weights.map((x) => [x.name, x.shape]));
    r.weights.forEach((x, i) => expect(x.data).toEqual(w.weights[i]!.data));
    expect([r.network, r.imageShape, r.batchSize, r.numBatches, r.inferBatch]).toEqual(["cifar", [3, 2, 5], 2, 3, 4]);
    expect(r.trainImages).toEqual(w.trainImages);
    expect(r.trainLabels).toEqual(w.trainLabels);
    expect(r.inferImages).toEqual(w.inferImages);
    for (const a of [r.trainImages, r.trainLabels, r.inferImages, ...r.weights.map((x) => x.data)]) expect(a.byteOffset % 4).toBe(0);
    expect(r.trainImages.buffer).toBe(r.inferImages.buffer);
    expect(trainBatch(r, 2).labels).toEqual(w.trainLabels.subarray(4, 6));
    expect(trainBatch(r, 1).images).toEqual(w.trainImages.subarray(2 * IMAGE_SIZE, 4 * IMAGE_SIZE));
  });

  it("rejects a file that is not a workload, and one cut short", () => {
    const bad = join(dir, "bad.bin");
    writeFileSync(bad, "NOTABENCH-and-more-bytes");
    expect(() => readWorkload(bad)).toThrow(/not a benchmark workload file \(bad magic\)/);
    writeFileSync(bad, "PICO");
    expect(() => readWorkload(bad)).toThrow(/bad magic/);
    const good = join(dir, "good.bin");
    writeWorkload(good, sample());
    const bytes = readFileSync(good);
    const cut = join(dir, "cut.bin");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 8));
    expect(() => readWorkload(cut)).toThrow(/holds \d+ bytes, but its header promises \d+/);
  });
});

describe("distinctBatches", () => {
  it("loads one batch a step up to all the set holds, which the steps then go round", () => {
    // MNIST's 60,000 training images hold 937 batches of 64: 3,100 steps go round them.
    expect([distinctBatches(400, 60_000, 64), distinctBatches(937, 60_000, 64), distinctBatches(3100, 60_000, 64), distinctBatches(0, 60_000, 64)]).toEqual([400, 937, 937, 1]);
    expect(() => distinctBatches(10, 63, 64)).toThrow("distinctBatches: 63 images hold no batch of 64");
  });
});
