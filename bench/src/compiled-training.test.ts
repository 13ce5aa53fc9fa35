import { Generator, Tensor, compile, countTypedArrays, tensor, tracer } from "@pico/core";
import { CrossEntropyLoss, resnet8, type Module } from "@pico/nn";
import { Adam, SGD } from "@pico/optim";
import { describe, expect, it } from "vitest";
import { crossEntropyOneHot, oneHot } from "./one-hot-cross-entropy.js";
import { referenceModel } from "./pico-network.js";

// A training step captured and replayed (compile with backward: forward, loss, backward into the
// parameters' .grad; the optimizer steps as usual): the same losses and weights as eager training,
// bit for bit, over several Adam steps on new batches. The loss is cross-entropy on one-hot targets
// (logSoftmax times the targets), and CrossEntropyLoss on class indices, which its Function takes as
// an input so that the replay reads each batch's labels.

const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

function batches(count: number, size: number, image: number[], seed: number): { x: Tensor; y: Tensor }[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, () => ({
    x: Tensor.randn([size, ...image], { generator: g }),
    y: oneHot(Array.from({ length: size }, () => Math.floor(g.random() * 10))),
  }));
}

/** Losses and final weights of `steps` Adam steps, eagerly or through the compiled step. */
function train(make: () => Module, image: number[], compiled: boolean): { losses: number[]; weights: number[]; arrays: number; recorded: number } {
  const model = make();
  model.train();
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const data = batches(4, 8, image, 3);
  const step = compiled
    ? compile({ call: (x: Tensor, y: Tensor) => crossEntropyOneHot(model.call(x) as Tensor, y), namedParameters: () => model.namedParameters() }, [data[0]!.x, data[0]!.y], { backward: true })
    : null;
  const losses: number[] = [];
  let arrays = 0;
  let recorded = 0;
  for (const [i, { x, y }] of data.entries()) {
    optimizer.zeroGrad();
    const before = tracer.stats().funcs;
    const run = (): void => {
      if (step !== null) losses.push(step(x, y).item());
      else {
        const loss = crossEntropyOneHot(model.call(x) as Tensor, y);
        loss.backward();
        losses.push(loss.item());
      }
    };
    if (i === data.length - 1) arrays = countTypedArrays(run).arrays;
    else run();
    recorded = Math.max(recorded, tracer.stats().funcs - before);
    optimizer.step();
  }
  const weights = model.parameters().flatMap((p) => Array.from(p.toTypedArray()));
  return { losses, weights, arrays, recorded };
}

/** The model with weights drawn from a generator of its own (referenceModel draws from the global one). */
function seeded(model: Module, seed: number): Module {
  const g = new Generator(seed);
  for (const p of model.parameters()) p.data.data.set(Tensor.randn(p.shape, { generator: g }).mul(0.1).toTypedArray());
  return model;
}

describe("a compiled training step (compile with backward)", () => {
  const networks: [string, () => Module, number[]][] = [
    ["reference network", () => seeded(referenceModel(), 5), [1, 28, 28]],
    ["ResNet-8 (BatchNorm in training mode, residual blocks)", () => resnet8({ widths: [4, 8, 8], generator: new Generator(4) }), [1, 12, 12]],
  ];
  for (const [name, make, image] of networks) {
    it(`${name}: eager training's losses and weights bit for bit over 4 Adam steps`, () => {
      const eager = train(make, image, false);
      const replayed = train(make, image, true);
      expect(bits(replayed.losses)).toEqual(bits(eager.losses));
      expect(bits(replayed.weights)).toEqual(bits(eager.weights));
      // Nothing recorded for autograd, and no more typed arrays per step than eager (whose gradients the same pool recycles).
      expect(replayed.recorded).toBe(0);
      expect(replayed.arrays).toBeLessThanOrEqual(eager.arrays);
    });
  }

  it("reference network with CrossEntropyLoss on class indices: eager's losses and weights bit for bit over 3 SGD steps on new batches", () => {
    const g = new Generator(7);
    const data = Array.from({ length: 3 }, () => ({
      x: Tensor.randn([8, 1, 28, 28], { generator: g }),
      y: tensor(Array.from({ length: 8 }, () => Math.floor(g.random() * 10))),
    }));
    const run = (compiled: boolean): { losses: number[]; weights: number[] } => {
      const model = seeded(referenceModel(), 5);
      const criterion = new CrossEntropyLoss();
      const optimizer = new SGD(model.parameters(), { lr: 0.1 });
      const forward = (x: Tensor, y: Tensor): Tensor => criterion.call(model.call(x) as Tensor, y);
      const step = compiled ? compile({ call: forward, namedParameters: () => model.namedParameters() }, [data[0]!.x, data[0]!.y], { backward: true }) : null;
      const losses = data.map(({ x, y }) => {
        optimizer.zeroGrad();
        let loss: number;
        if (step !== null) loss = step(x, y).item();
        else {
          const l = forward(x, y);
          l.backward();
          loss = l.item();
        }
        optimizer.step();
        return loss;
      });
      return { losses, weights: model.parameters().flatMap((p) => Array.from(p.toTypedArray())) };
    };
    const eager = run(false);
    const replayed = run(true);
    expect(new Set(eager.losses).size).toBe(3);
    expect(bits(replayed.losses)).toEqual(bits(eager.losses));
    expect(bits(replayed.weights)).toEqual(bits(eager.weights));
  });
});
