import { ArgumentError, Generator, Tensor, noGrad } from "@pico/core";
import { describe, expect, it } from "vitest";
import { BatchNormAddRelu } from "../functional/batch-norm-add-relu.js";
import { AddReLU } from "../layers/add-relu.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { ReLU } from "../layers/relu.js";
import { Module } from "../module.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { fuseModules, fusedGroups } from "./fuse-modules.js";
import { readAlone } from "./read-alone.js";

// A user's residual block ending with AddReLU, fused by fuseModules as [conv1, bn1, relu] and
// [conv2, bn2, addRelu] (the Conv2d → BatchNorm2d → AddReLU residual pattern), against the same block
// run module by module.

class Block extends Module {
  conv1 = new Conv2d(8, 8, 3, { padding: 1, generator: new Generator(1) });
  bn1 = new BatchNorm2d(8);
  relu = new ReLU();
  conv2 = new Conv2d(8, 8, 3, { padding: 1, generator: new Generator(2) });
  bn2 = new BatchNorm2d(8);
  addRelu = new AddReLU({ inplace: true });

  forward(x: Tensor): Tensor {
    const h = this.relu.call(this.bn1.call(this.conv1.call(x)));
    return this.addRelu.call(this.bn2.call(this.conv2.call(readAlone(h))), x);
  }
}

function block(): Block {
  const b = new Block();
  const gen = new Generator(5);
  noGrad(() => {
    for (const bn of [b.bn1, b.bn2]) {
      bn.running_mean!.data.data.forEach((_, i, a) => (a[i] = 0.2 * gen.normal()));
      bn.running_var!.data.data.forEach((_, i, a) => (a[i] = 0.5 + Math.abs(gen.normal())));
      bn.weight!.data.data.forEach((_, i, a) => (a[i] = 1 + 0.3 * gen.normal()));
    }
  });
  return b;
}

function run(b: Block, training: boolean): { out: Tensor; grads: number[][]; state: number[][] } {
  b.train(training);
  // x is another module's output, as in a network (so that AddReLU may write into bn2's output apart).
  const leaf = Tensor.randn([2, 8, 8, 8], { generator: new Generator(9), requiresGrad: true });
  const out = b.call(leaf.mul(1));
  out.mul(Tensor.randn(out.shape, { generator: new Generator(10) })).sum().backward();
  return { out, grads: [leaf, ...b.parameters()].map((p) => values(p.grad!)), state: Object.values(b.stateDict()).map(values) };
}

describe("Conv2d → BatchNorm2d → AddReLU (fuseModules)", () => {
  const groups = [["conv1", "bn1", "relu"], ["conv2", "bn2", "addRelu"]];

  for (const training of [true, false]) {
    it(`${training ? "training" : "evaluation"}: output, gradients and state equal the unfused block's`, () => {
      const plain = run(block(), training);
      const fusedBlock = fuseModules(block(), groups);
      expect(fusedGroups(fusedBlock)).toEqual(groups);
      const fused = run(fusedBlock, training);
      // Training normalises, adds and rectifies in one operator (BatchNormAddRelu); evaluation folds bn2 into conv2.
      expect(fused.out.creator!.fn === BatchNormAddRelu).toBe(training);
      expectClose(values(fused.out), values(plain.out), "output", 1e-5, 1e-4);
      fused.grads.forEach((g, i) => expectClose(g, plain.grads[i]!, `gradient ${i}`, 1e-4, 1e-3));
      fused.state.forEach((s, i) => expectClose(s, plain.state[i]!, `state ${i}`, 1e-6, 1e-5));
    });
  }

  it("runs nothing until AddReLU has the residual; out of order throws; the modules alone on other tensors run as themselves", () => {
    const b = fuseModules(block(), groups);
    const x = Tensor.randn([2, 8, 8, 8], { generator: new Generator(3) });
    const standIn = b.conv2.call(x);
    expect(() => b.addRelu.call(standIn, x)).toThrow(ArgumentError);
    expect(() => b.addRelu.call(standIn, x)).toThrow("fuseModules: addRelu was called on the output of the fused group");
    const y = Tensor.randn([2, 8, 8, 8], { generator: new Generator(4) });
    expect(values(b.addRelu.call(y.mul(1), x))).toEqual(values(y.add(x).relu()));
    expect(() => fuseModules(block(), [["conv2", "addRelu"]])).toThrow(/Conv2d → BatchNorm2d → AddReLU/);
  });

  /** The block's end written addRelu(identity, out): relu(a + b) is symmetric, so the fused group takes its output as either operand. */
  class IdentityFirst extends Block {
    // Not in place: writing relu(x + out) into x would overwrite what conv1 saved for its backward.
    override addRelu = new AddReLU();
    override forward(x: Tensor): Tensor {
      const h = this.relu.call(this.bn1.call(this.conv1.call(x)));
      return this.addRelu.call(x, this.bn2.call(this.conv2.call(h)));
    }
  }

  function identityFirst(): IdentityFirst {
    const b = new IdentityFirst();
    b.loadStateDict(block().stateDict());
    return b;
  }

  for (const training of [true, false]) {
    it(`${training ? "training" : "evaluation"}: addRelu(identity, out) gives the unfused block's output and gradients, the block's input with or without grad`, () => {
      for (const requiresGrad of [true, false]) {
        const runOnce = (b: IdentityFirst): number[][] => {
          b.train(training);
          const x = Tensor.randn([2, 8, 8, 8], { generator: new Generator(9), requiresGrad });
          const out = b.call(x);
          out.mul(Tensor.randn(out.shape, { generator: new Generator(10) })).sum().backward();
          return [values(out), ...b.parameters().map((p) => values(p.grad!)), ...(requiresGrad ? [values(x.grad!)] : [])];
        };
        const plain = runOnce(identityFirst());
        const fused = runOnce(fuseModules(identityFirst(), groups));
        fused.forEach((v, i) => expectClose(v, plain[i]!, `requiresGrad ${requiresGrad}, result ${i}`, 1e-4, 1e-3));
      }
    });
  }
});

describe("Conv2d → BatchNorm2d → AddReLU (fuseModules): bn2's output before AddReLU has run", () => {
  /** A downsampling block's end (conv2 4 → 6 channels, stride 2; the residual through a 1×1 convolution), whose forward may read bn2's output. */
  class Downsample extends Module {
    conv2 = new Conv2d(4, 6, 3, { padding: 1, stride: 2, generator: new Generator(2) });
    bn2 = new BatchNorm2d(6);
    down = new Conv2d(4, 6, 1, { stride: 2, generator: new Generator(3) });
    addRelu = new AddReLU();
    seen: number[] = [];
    constructor(readonly read: "shape" | "values" | "only") {
      super();
    }
    forward(x: Tensor): Tensor {
      const y = this.bn2.call(this.conv2.call(x));
      this.seen = [...y.shape, y.ndim, y.size];
      if (this.read === "only") return y;
      const out = this.addRelu.call(y, this.down.call(x));
      // A feature tap: bn2's output read besides the AddReLU's.
      return this.read === "values" ? out.add(y.mul(0.5)) : out;
    }
  }
  const x = (): Tensor => Tensor.randn([3, 4, 7, 7], { generator: new Generator(9) });
  const fused = (read: Downsample["read"]): Downsample => fuseModules(new Downsample(read), [["conv2", "bn2", "addRelu"]]);

  it("has the shape the modules would give it, and the group's output is the unfused block's", () => {
    const plain = new Downsample("shape");
    const plainOut = plain.call(x());
    const b = fused("shape");
    const out = b.call(x());
    expect(b.seen).toEqual([3, 6, 4, 4, 4, 3 * 6 * 4 * 4]);
    expect(b.seen).toEqual(plain.seen);
    expectClose(values(out), values(plainOut), "output", 1e-5, 1e-4);
  });

  it("refuses any read of its values, naming fuseModules, the group and the rule", () => {
    const rule = /^fuseModules: the output of bn2 in the fused residual group \["conv2","bn2","addRelu"\] was read \(its values\) .*may only be passed to addRelu/;
    expect(() => fused("values").call(x())).toThrow(ArgumentError);
    expect(() => fused("values").call(x())).toThrow(rule);
    const early = fused("only").call(x());
    expect(() => early.toArray()).toThrow(rule);
    expect(() => early.add(1)).toThrow(rule);
  });
});
