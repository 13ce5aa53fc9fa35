import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Generator, Tensor, manualSeed } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BatchNorm1d } from "../layers/batch-norm1d.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { Flatten } from "../layers/flatten.js";
import { Linear } from "../layers/linear.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { CrossEntropyLoss } from "../losses/cross-entropy-loss.js";
import type { DataParallel } from "./data-parallel.js";
import { dataParallel } from "./node.js";

// Synchronized BatchNorm against PyTorch in float64: a data-parallel step of a conv + BatchNorm network
// on 2 replicas (shards of 7 and 8 rows) gives torch's loss, output, gradients and running statistics
// for the whole batch of 15 on one process. The replicas (test-utils/replica.mjs) load @pico/nn's dist.

const replicaScript = new URL("./test-utils/replica.mjs", import.meta.url);

/** test-utils/replica.mjs's batchNormNet with nothing between the convolutions, in float64. */
function batchNormNet(): Sequential {
  return new Sequential(
    new Conv2d(1, 4, 5), new BatchNorm2d(4), new ReLU(), new MaxPool2d(4), new Sequential(),
    new Conv2d(4, 8, 3), new BatchNorm2d(8), new ReLU(), new Flatten(), new Linear(128, 16), new BatchNorm1d(16), new ReLU(), new Linear(16, 10),
  ).to("float64");
}

const TORCH_NET = `nn.Sequential(nn.Conv2d(1, 4, 5), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(4), nn.Sequential(),
    nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(128, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10)).double()`;

describeTorch("DataParallel's synchronized BatchNorm vs torch on the whole batch (float64)", () => {
  let dp: DataParallel;
  const model = (manualSeed(5), batchNormNet());
  beforeAll(async () => {
    const dist = fileURLToPath(new URL("../../dist/data-parallel/statistics-exchange.js", import.meta.url));
    const src = fileURLToPath(new URL("./statistics-exchange.ts", import.meta.url));
    if (!existsSync(dist) || statSync(dist).mtimeMs < statSync(src).mtimeMs) {
      throw new Error("the data-parallel replicas load @pico/nn's dist, which is missing or older than src/data-parallel: run `pnpm turbo run build --filter=@pico/nn...` first");
    }
    const worker = () => new Worker(replicaScript, { workerData: { model: "batch-norm-float64" }, execArgv: [] });
    dp = await dataParallel(model, new CrossEntropyLoss(), { replicas: 2, worker, stepTimeoutMs: 30_000 });
  });
  afterAll(async () => dp?.close());

  it("a step on 2 replicas: loss, output, every parameter's gradient, running statistics and num_batches_tracked", async () => {
    const g = new Generator(9);
    const x = Tensor.randn([15, 1, 28, 28], { dtype: "float64", generator: g }).mul(2).add(0.5);
    const labels = new Tensor(Tensor.zeros([15]).data);
    labels.data.data.set(Array.from({ length: 15 }, (_, i) => (i * 7) % 10));
    const initial = model.stateDict();
    const r = await oracle().run({
      inputs: { sd: initial, x, labels },
      code: `m = ${TORCH_NET}
m.load_state_dict(sd)
m.train()
y = m(x)
loss = F.cross_entropy(y, labels.long())
loss.backward()
grads = {k: p.grad for k, p in m.named_parameters()}
state = m.state_dict()
value = loss.item()`,
      outputs: ["value", "y", "grads", "state"],
    });
    model.train();
    const step = dp.forwardBackward(x, labels);
    expect(Math.abs(step.loss - r.number("value"))).toBeLessThan(1e-12);
    const close = (mine: ArrayLike<number>, theirs: ArrayLike<number>, what: string): void => {
      expect(mine.length, what).toBe(theirs.length);
      let scale = 0;
      for (let i = 0; i < theirs.length; i++) scale = Math.max(scale, Math.abs(theirs[i]!));
      let worst = 0;
      // A convolution's bias ahead of BatchNorm has a gradient of 0 in theory (rounding noise on both sides): the floor keeps that a pass.
      for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - theirs[i]!) / Math.max(Math.abs(theirs[i]!) + scale, 1e-3));
      expect(worst, what).toBeLessThan(1e-10);
    };
    close(step.output.toTypedArray(), r.tensor("y").data, "output");
    const grads = r.tensors("grads");
    for (const [name, p] of model.namedParameters()) close(p.grad!.toTypedArray(), grads.get(name)!.data, `gradient of ${name}`);
    const state = r.tensors("state");
    for (const [name, b] of model.namedBuffers()) close(b.toTypedArray(), state.get(name)!.data, `${name} after the step`);
    expect(model.namedBuffers().find(([name]) => name === "6.num_batches_tracked")![1].item()).toBe(1);
  });
});
