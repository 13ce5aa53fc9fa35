import { ArgumentError, Generator, Tensor, noGrad } from "@pico/core";
import { describe, expect, it } from "vitest";
import { addRelu } from "../functional/add-relu.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { MaxPool2d } from "../layers/max-pool2d.js";
import { ReLU } from "../layers/relu.js";
import { Module } from "../module.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { fuseModules, fusedGroups, unfuseModules } from "./fuse-modules.js";

/** A user's residual block written as in PyTorch: y = relu(x + bn2(conv2(relu(bn1(conv1(x)))))). */
class Block extends Module {
  conv1 = this.registerModule("conv1", new Conv2d(4, 4, 3, { padding: 1, bias: false, generator: new Generator(1) }));
  bn1 = this.registerModule("bn1", new BatchNorm2d(4));
  relu1 = this.registerModule("relu1", new ReLU());
  conv2 = this.registerModule("conv2", new Conv2d(4, 4, 3, { padding: 1, bias: false, generator: new Generator(2) }));
  bn2 = this.registerModule("bn2", new BatchNorm2d(4));
  pool = this.registerModule("pool", new MaxPool2d(2));

  forward(x: Tensor): Tensor {
    const h = this.relu1.call(this.bn1.call(this.conv1.call(x)));
    return this.pool.call(addRelu(x, this.bn2.call(this.conv2.call(h))));
  }
}

function perturbed(): Block {
  const block = new Block();
  const gen = new Generator(5);
  noGrad(() => {
    for (const bn of [block.bn1, block.bn2]) {
      bn.running_mean!.data.data.forEach((_, i, a) => (a[i] = 0.2 * gen.normal()));
      bn.running_var!.data.data.forEach((_, i, a) => (a[i] = 0.5 + Math.abs(gen.normal())));
      bn.weight!.data.data.forEach((_, i, a) => (a[i] = 1 + 0.3 * gen.normal()));
    }
  });
  return block;
}

function run(block: Block, training: boolean): { out: number[]; grads: number[][]; state: Record<string, number[]> } {
  block.train(training);
  const x = Tensor.randn([2, 4, 6, 6], { generator: new Generator(9), requiresGrad: true });
  const y = block.call(x);
  y.mul(Tensor.randn(y.shape, { generator: new Generator(10) })).sum().backward();
  const grads = [x, ...block.parameters()].map((p) => Array.from(p.grad!.toTypedArray()));
  return { out: values(y), grads, state: Object.fromEntries(Object.entries(block.stateDict()).map(([k, v]) => [k, values(v)])) };
}

describe("fuseModules", () => {
  const groups = [["conv1", "bn1", "relu1"], ["conv2", "bn2"]];

  for (const training of [true, false]) {
    it(`a user's residual block, ${training ? "training" : "evaluation"}: output, gradients and state dict equal the unfused block's`, () => {
      const plain = run(perturbed(), training);
      const block = fuseModules(perturbed(), groups);
      const keys = Object.keys(block.stateDict());
      const fused = run(block, training);
      expect(Object.keys(fused.state)).toEqual(keys);
      expect(Object.keys(fused.state)).toEqual(Object.keys(plain.state));
      expectClose(fused.out, plain.out, "output", 1e-5, 1e-4);
      fused.grads.forEach((g, i) => expectClose(g, plain.grads[i]!, `gradient ${i}`, 1e-4, 1e-3));
      for (const key of keys) expectClose(fused.state[key]!, plain.state[key]!, key, 1e-6, 1e-5);
    });
  }

  it("fusedGroups lists the groups; unfuseModules restores each module's own forward", () => {
    const block = fuseModules(perturbed(), groups);
    expect(fusedGroups(block)).toEqual(groups);
    unfuseModules(block);
    expect(fusedGroups(block)).toEqual([]);
    expect(Object.prototype.hasOwnProperty.call(block.conv1, "forward")).toBe(false);
    const x = Tensor.randn([1, 4, 6, 6], { generator: new Generator(3) });
    const y = block.conv1.call(x);
    expect(values(block.relu1.call(y))).toEqual(values(y.relu()));
  });

  it("a fused group's member called on an unrelated tensor runs its own forward", () => {
    const block = fuseModules(perturbed(), groups);
    block.eval();
    const x = Tensor.randn([1, 4, 3, 3], { generator: new Generator(4) });
    expect(values(block.relu1.call(x))).toEqual(values(x.relu()));
  });

  it("calling a group's modules out of order throws, naming the module due", () => {
    const block = fuseModules(perturbed(), groups);
    const y = block.conv1.call(Tensor.randn([1, 4, 6, 6], { generator: new Generator(4) }));
    expect(() => block.relu1.call(y)).toThrow("fuseModules: relu1 was called on the output of the fused group [\"conv1\",\"bn1\",\"relu1\"] when bn1 was due");
  });

  it("refuses unknown names, runs that are no pattern and modules fused twice", () => {
    expect(() => fuseModules(new Block(), [["conv1", "bn9"]])).toThrow(/fuseModules: the model has no submodule "bn9" \(its submodules: conv1, bn1, relu1, conv2, bn2, pool\)/);
    expect(() => fuseModules(new Block(), [["bn1", "conv2"]])).toThrow(/group \["bn1","conv2"\] is BatchNorm2d → Conv2d, which is not a fusion pattern; the patterns are: Conv2d → BatchNorm2d → ReLU → MaxPool2d; Conv2d → BatchNorm2d → ReLU;/);
    expect(() => fuseModules(new Block(), [["conv1"]])).toThrow(ArgumentError);
    const block = fuseModules(new Block(), [["conv2", "bn2"]]);
    expect(() => fuseModules(block, [["conv2", "bn2"]])).toThrow('fuseModules: module "conv2" is already in a fused group');
  });
});
