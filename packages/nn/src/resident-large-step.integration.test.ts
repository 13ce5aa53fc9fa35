import { Generator, Tensor, kernels, onFastPathWarning, tensor, type FastPathWarning } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { afterAll, describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "./index.js";
import { ResNet } from "./models/resnet.js";

// A step may need more of the threads' shared memory than resident storage lets pile up between steps
// (160 MiB): ResNet-20 at batch 128 on CIFAR shapes does, and gives it all back in its backward pass.

describe("a training step larger than resident storage's between-step budget (2 threads)", () => {
  const warnings: FastPathWarning[] = [];
  afterAll(async () => {
    onFastPathWarning(null);
    await disableThreads();
  });

  it("ResNet-20 at batch 128 stays resident through its step, gives the regions back and gets no warning", async () => {
    expect(await enableThreads(2)).toBe(true);
    onFastPathWarning((w) => warnings.push(w));
    const generator = new Generator(1);
    const model = new ResNet({ generator, inChannels: 3, depth: 20 });
    const lossFn = new CrossEntropyLoss();
    const x = Tensor.randn([128, 3, 32, 32], { generator });
    const y = tensor(Array.from({ length: 128 }, (_, i) => i % 10));
    const before = kernels.residentStorageStats().takenBytes;
    const logits = model.forward(x);
    const during = kernels.residentStorageStats().takenBytes;
    const loss = lossFn.forward(logits, y);
    loss.backward();
    const after = kernels.residentStorageStats().takenBytes;
    // The activations saved for backward pass the 160 MiB budget (198 MiB measured); every array stayed resident (a fallback
    // to ordinary arrays always warns), and backward gave the regions back.
    expect(during - before).toBeGreaterThan(160 * 1024 * 1024);
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
    expect(Number.isFinite(loss.item())).toBe(true);
    expect(warnings).toEqual([]);
  });
});
