import { tensor } from "@pico/core";
import { describeTorch, oracle } from "@pico/torch-oracle";
import { describe, expect, it } from "vitest";
import { SGD } from "./sgd.js";

const INPLACE = /one of the variables needed for gradient computation has been modified by an inplace operation/;

// Two layers: the second product saves w2 (its other factor needs a gradient), the first does not save w1 (x needs none).
function twoLayers() {
  const w1 = tensor([[0.5, -1], [2, 0.25]], { requiresGrad: true });
  const w2 = tensor([[1.5], [-0.5]], { requiresGrad: true });
  const x = tensor([[1, 2]]);
  const loss = x.matmul(w1).tanh().matmul(w2).square().sum();
  return { w1, w2, loss };
}

describe("an optimizer step writes parameters in place, as PyTorch's does", () => {
  it("bumps each updated parameter's version, so a retained graph that saved one cannot backpropagate with the new values", () => {
    const { w1, w2, loss } = twoLayers();
    loss.backward(undefined, { retainGraph: true });
    new SGD([w1, w2], { lr: 0.1 }).step();
    expect([w1.version, w2.version]).toEqual([1, 1]);
    expect(() => loss.backward()).toThrow(
      /^backward: one of the variables needed for gradient computation has been modified by an inplace operation: the float32 array of shape \[2, 1\] \(argument 1 of MatMul\) is at version 1; expected version 0 instead/,
    );
  });

  it("a graph that saved no updated parameter still backpropagates, as in torch", () => {
    const w = tensor([[0.5, -1], [2, 0.25]], { requiresGrad: true });
    const loss = tensor([[1, 2]]).matmul(w).square().sum();
    loss.backward(undefined, { retainGraph: true });
    new SGD([w], { lr: 0.1 }).step();
    loss.backward();
    // The gradient of the saved forward, twice: 2 * x^T (x w) with x w = [4.5, -0.5].
    expect(w.grad!.toArray()).toEqual([[18, -2], [36, -4]]);
  });
});

describeTorch("the same steps in torch", () => {
  it("raise the same error, and the same gradients where there is none", async () => {
    const setup = `
w1 = torch.tensor([[0.5, -1], [2, 0.25]], requires_grad=True)
w2 = torch.tensor([[1.5], [-0.5]], requires_grad=True)
x = torch.tensor([[1., 2.]])`;
    await expect(
      oracle().run({ code: `${setup}\nloss = (x @ w1).tanh().matmul(w2).square().sum()\nloss.backward(retain_graph=True)\ntorch.optim.SGD([w1, w2], lr=0.1).step()\nloss.backward()` }),
    ).rejects.toThrow(INPLACE);
    const r = await oracle().run({ code: `${setup}\nloss = (x @ w1).square().sum()\nloss.backward(retain_graph=True)\ntorch.optim.SGD([w1], lr=0.1).step()\nloss.backward()\nout = w1.grad` });
    expect([...r.tensor().data]).toEqual([18, -2, 36, -4]);
  });
});
