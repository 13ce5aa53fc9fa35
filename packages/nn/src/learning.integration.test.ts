import { Generator, Tensor, noGrad } from "@pico/core";
import { Adam, SGD, type Optimizer } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { CrossEntropyLoss, Linear, ReLU, Sequential } from "./index.js";
import type { Module } from "./module.js";
import { referenceCnn, syntheticDigits } from "./test-utils/reference-cnn.js";

interface Run {
  lossBefore: number;
  lossAfter: number;
  batchLosses: number[];
  parameters: Float32Array[];
}

/**
 * Everything random comes from one seed: the initial weights, the data and the order of the batches.
 * `flat` feeds the images as [N, 784] (for the MLP).
 */
function train(makeModel: (g: Generator) => Module, makeOptimizer: (m: Module) => Optimizer, seed: number, steps: number, batch: number, flat: boolean): Run {
  const generator = new Generator(seed);
  const model = makeModel(generator);
  const data = syntheticDigits(200, generator);
  const images = flat ? data.images.reshape([200, 784]) : data.images;
  const lossFn = new CrossEntropyLoss();
  const datasetLoss = (): number => noGrad(() => lossFn.forward(model.forward(images), data.labels).item());
  const optimizer = makeOptimizer(model);
  const lossBefore = datasetLoss();
  const order = Array.from({ length: 200 }, (_, i) => i);
  const batchLosses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const start = (step * batch) % 200;
    if (start === 0) generator.shuffle(order);
    const index = order.slice(start, start + batch);
    const x = gather(images, index);
    const y = gather(data.labels, index);
    optimizer.zeroGrad();
    const loss = lossFn.forward(model.forward(x), y);
    batchLosses.push(loss.item());
    loss.backward();
    optimizer.step();
  }
  return { lossBefore, lossAfter: datasetLoss(), batchLosses, parameters: model.parameters().map((p) => Float32Array.from(p.toTypedArray())) };
}

function gather(t: Tensor, index: number[]): Tensor {
  const row = t.size / t.shape[0]!;
  const out = Tensor.zeros([index.length, ...t.shape.slice(1)]);
  const src = t.toTypedArray();
  index.forEach((i, k) => out.data.data.set(src.subarray(i * row, (i + 1) * row), k * row));
  return out;
}

function expectIdentical(a: Run, b: Run): void {
  expect(b.batchLosses).toEqual(a.batchLosses);
  expect(b.lossAfter).toBe(a.lossAfter);
  expect(b.parameters.length).toBe(a.parameters.length);
  a.parameters.forEach((p, i) => expect(Buffer.from(b.parameters[i]!.buffer).equals(Buffer.from(p.buffer)), `parameter ${i} bitwise`).toBe(true));
}

describe("learning a small synthetic task", () => {
  const mlp = (g: Generator): Module => new Sequential(new Linear(784, 64, { generator: g }), new ReLU(), new Linear(64, 10, { generator: g }));

  it("an MLP (784 → 64 → 10, SGD 0.05) cuts the loss by 10× and repeats bitwise for the same seed", () => {
    const run = (): Run => train(mlp, (m) => new SGD(m.parameters(), { lr: 0.05 }), 7, 50, 20, true);
    const a = run();
    expect(a.lossAfter).toBeLessThan(a.lossBefore / 10);
    expectIdentical(a, run());
    const other = train(mlp, (m) => new SGD(m.parameters(), { lr: 0.05 }), 8, 50, 20, true);
    expect(other.batchLosses).not.toEqual(a.batchLosses);
  });

  it("the reference CNN of DESIGN.md (Adam 3e-3) cuts the loss by 10× and repeats bitwise for the same seed", () => {
    const run = (): Run => train(referenceCnn, (m) => new Adam(m.parameters(), { lr: 3e-3 }), 11, 20, 20, false);
    const a = run();
    expect(a.lossAfter).toBeLessThan(a.lossBefore / 10);
    expectIdentical(a, run());
  });
});
