import { Generator, Tensor, kernels, noGrad, tensor, tracer } from "@pico/core";
import { disableThreads, enableThreads } from "@pico/core/threads";
import { SGD } from "@pico/optim";
import { afterAll, describe, expect, it } from "vitest";
import { CrossEntropyLoss } from "./index.js";
import { CifarNet } from "./models/cifar-net.js";
import { ResNet } from "./models/resnet.js";

// On 2 threads the activations and gradients live in the threads' shared WebAssembly memory (core's
// resident storage): each step must give back every region it takes (buffer pool, backward's recycling,
// collected tensors), or the memory, which never shrinks, would grow step after step.

describe("resident storage over a training run on 2 threads", () => {
  afterAll(() => disableThreads());

  it("keeps the regions the CIFAR-shaped network's steps take and tracer.stats() flat", async () => {
    expect(await enableThreads(2)).toBe(true);
    const generator = new Generator(8);
    const model = new CifarNet({ generator });
    const x = Tensor.randn([4, 3, 32, 32], { generator });
    const y = tensor([0, 1, 2, 3]);
    const training = sgdSteps(model, x, y);
    const step = training.step;
    for (let i = 0; i < 4; i++) step();
    const baseline = tracer.stats();
    const start = kernels.residentStorageStats();
    expect(start.active).toBe(true);
    // After the forward, the activations saved for backward are resident: the first convolution's output alone is 4·32·32·32 floats.
    expect(training.during - start.takenBytes).toBeGreaterThan(4 * 32 * 32 * 32 * 4);
    for (let i = 0; i < 20; i++) {
      step();
      const now = kernels.residentStorageStats();
      expect(now.spanBytes, `regions' span after ${5 + i} steps`).toBe(start.spanBytes);
      expect(now.takenBytes, `bytes taken after ${5 + i} steps`).toBe(start.takenBytes);
    }
    expect(tracer.stats()).toEqual(baseline);
  });

  it("keeps the regions of a custom forward flat: ResNet's BasicBlocks give their intermediates back through backward", async () => {
    expect(await enableThreads(2)).toBe(true);
    const generator = new Generator(8);
    const model = new ResNet({ generator, inChannels: 3, depth: 8 });
    const x = Tensor.randn([8, 3, 32, 32], { generator });
    const y = tensor([0, 1, 2, 3, 4, 5, 6, 7]);
    const training = sgdSteps(model, x, y);
    const step = training.step;
    for (let i = 0; i < 3; i++) step();
    const start = kernels.residentStorageStats();
    // The stem's output alone is 8·16·32·32 floats; the forward holds the block's saved activations too.
    expect(training.during - start.takenBytes).toBeGreaterThan(4 * 8 * 16 * 32 * 32 * 4);
    const losses: number[] = [];
    for (let i = 0; i < 12; i++) {
      losses.push(step());
      const now = kernels.residentStorageStats();
      expect(now.takenBytes, `bytes taken after ${4 + i} steps`).toBe(start.takenBytes);
      expect(now.spanBytes, `regions' span after ${4 + i} steps`).toBe(start.spanBytes);
    }
    // It trains (the same batch again and again).
    expect(losses[11]!).toBeLessThan(losses[0]!);
    // Inference gives every intermediate back at once.
    model.eval();
    noGrad(() => model.forward(x));
    expect(kernels.residentStorageStats().takenBytes).toBe(start.takenBytes);
  });
});

/** SGD steps on (x, y): `step` returns the loss, `during` is the bytes resident after the last step's forward (the activations saved for backward). */
function sgdSteps(model: CifarNet | ResNet, x: Tensor, y: Tensor): { step(): number; during: number } {
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const lossFn = new CrossEntropyLoss();
  const training = {
    during: 0,
    step: (): number => {
      optimizer.zeroGrad();
      const loss = lossFn.forward(model.forward(x), y);
      training.during = kernels.residentStorageStats().takenBytes;
      loss.backward();
      optimizer.step();
      return loss.item();
    },
  };
  return training;
}
