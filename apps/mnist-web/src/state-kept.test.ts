import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type Tensor, defaultGenerator, manualSeed, noGrad, tensor } from "@pico/core";
import { CrossEntropyLoss } from "@pico/nn";
import { dataParallel } from "@pico/nn/data-parallel";
import { expect, it } from "vitest";
import { buildModel } from "./models.js";
import { withStateKept } from "./state-kept.js";

const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);
const blank = (rows: number): [Tensor, Tensor] => [tensor(new Float32Array(rows * 28 * 28), { shape: [rows, 1, 28, 28] }), tensor(new Float32Array(rows), { shape: [rows] })];
const valuesOf = (buffers: readonly Tensor[]): number[][] => buffers.map((b) => Array.from(b.toTypedArray()));

it("withStateKept: the page's blank training step on 2 replicas leaves a trained resnet's running statistics, num_batches_tracked and gradients as they were", async () => {
  const dist = fileURLToPath(new URL("../../../packages/nn/dist/data-parallel/node.js", import.meta.url));
  if (!existsSync(dist)) throw new Error("the replicas load @pico/nn's dist, which is missing: run `pnpm turbo run build --filter=@pico/nn...` first");
  manualSeed(5);
  const model = buildModel("resnet");
  // A trained model's statistics: far from the blank batch's (mean 0, variance 0), and batches seen.
  const named = model.namedBuffers();
  expect(named.filter(([n]) => n.endsWith("running_var")).length).toBeGreaterThan(0);
  for (const [name, b] of named) {
    const v = b.data.data;
    for (let i = 0; i < v.length; i++) v[i] = name.endsWith("num_batches_tracked") ? 1234 : name.endsWith("running_var") ? 0.5 + ((i * 37) % 11) / 10 : ((i * 13) % 7) / 10 - 0.3;
    b.bumpVersion();
  }
  const buffers = named.map(([, b]) => b);
  const before = valuesOf(buffers);
  const first = model.parameters()[0]!;
  const grad = tensor(new Float32Array(first.size).fill(0.25), { shape: first.shape });
  first.grad = grad;
  const loss = new CrossEntropyLoss();
  const x = tensor(Float32Array.from({ length: 8 * 28 * 28 }, () => defaultGenerator.normal()), { shape: [8, 1, 28, 28] });
  const y = tensor([0, 1, 2, 3, 4, 5, 6, 7]);
  model.eval();
  const expected = noGrad(() => loss.forward(model.forward(x), y).item());

  const dp = await dataParallel(model, loss, { replicas: 2, worker: () => new Worker(replicaScript, { workerData: { model: "resnet" }, execArgv: [] }), stepTimeoutMs: 30_000 });
  try {
    model.train();
    withStateKept(model, () => dp.forwardBackward(...blank(64)));
    model.eval();
    expect(valuesOf(buffers)).toStrictEqual(before);
    expect(first.grad).toBe(grad);
    expect(Array.from(grad.toTypedArray())).toStrictEqual(new Array<number>(first.size).fill(0.25));
    expect(model.parameters().slice(1).every((p) => p.grad === null)).toBe(true);
    // Both replicas normalise with the statistics put back: the loss of the eval model before the step.
    expect(dp.forwardBackward(x, y).loss).toBeCloseTo(expected, 5);

    // Without it, the same step moves them (what the page did before).
    model.train();
    dp.forwardBackward(...blank(64));
    const after = valuesOf(buffers);
    const varAt = named.findIndex(([n]) => n.endsWith("running_var"));
    const countAt = named.findIndex(([n]) => n.endsWith("num_batches_tracked"));
    expect(after[varAt]![0]).toBeCloseTo(before[varAt]![0]! * 0.9, 5);
    expect(after[countAt]).toStrictEqual([1235]);
  } finally {
    await dp.close();
  }
});
