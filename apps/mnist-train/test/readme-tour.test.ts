import { describe, expect, it } from "vitest";
import { tensor, Tensor, noGrad, manualSeed, tracer } from "@pico/core";
import { Sequential, Conv2d, ReLU, MaxPool2d, Flatten, Linear, CrossEntropyLoss } from "@pico/nn";
import { Adam } from "@pico/optim";

// The tour in the root README, line for line, so that it stays true.
describe("README tour", () => {
  it("runs as written", () => {
    manualSeed(0);
    const a = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = a.mul(a).add(a).sum();
    y.backward();
    expect(a.grad!.toArray()).toEqual([[3, 5], [7, 9]]);
    const model = new Sequential(new Conv2d(1, 8, 5), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 12 * 12, 10));
    const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    const loss = new CrossEntropyLoss().forward(model.forward(Tensor.randn([4, 1, 28, 28])), tensor([3, 1, 4, 1]));
    optimizer.zeroGrad(); loss.backward(); optimizer.step();
    const before = tracer.stats();
    const logits = noGrad(() => model.forward(Tensor.randn([1, 1, 28, 28])));
    expect(logits.shape).toEqual([1, 10]);
    expect(logits.requiresGrad).toBe(false);
    expect(tracer.stats()).toEqual(before);
  });
});
