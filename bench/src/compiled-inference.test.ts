import { Generator, Tensor, compile, countTypedArrays, noGrad } from "@pico/core";
import { CifarNet, resnet8, type Module } from "@pico/nn";
import { describe, expect, it } from "vitest";
import { referenceModel } from "./pico-network.js";

// The benchmark's networks compiled (the captured graph replayed on planned buffers): the same bits as
// eager inference, new images of the traced shape replayed, and no typed array made per call.

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.toTypedArray()).buffer));

function trained(model: Module, seed: number): Module {
  // Running statistics away from 0 / 1, so that BatchNorm's evaluation path is not the identity.
  const g = new Generator(seed);
  for (const [name, t] of model.namedBuffers()) {
    if (name.endsWith("running_mean")) t.data.data.forEach((_, i, d) => (d[i] = g.normal() * 0.1));
    if (name.endsWith("running_var")) t.data.data.forEach((_, i, d) => (d[i] = 0.5 + g.random()));
  }
  model.eval();
  return model;
}

const networks: [string, () => Module, number[]][] = [
  ["reference network", () => trained(referenceModel(), 0), [1, 28, 28]],
  ["ResNet-8", () => trained(resnet8({ generator: new Generator(1) }), 1), [1, 28, 28]],
  ["CIFAR network", () => trained(new CifarNet({ generator: new Generator(2) }), 2), [3, 32, 32]],
];

describe("compiled inference of the benchmark networks", () => {
  for (const [name, make, image] of networks) {
    it(`${name}: bit for bit eager's outputs at batch 1 and 3, with no typed array made per call`, () => {
      const model = make();
      for (const batch of [1, 3]) {
        const compiled = compile(model, Tensor.randn([batch, ...image], { generator: new Generator(10) }));
        for (const seed of [11, 12]) {
          const x = Tensor.randn([batch, ...image], { generator: new Generator(seed) });
          expect(bits(compiled(x))).toEqual(bits(noGrad(() => model.call(x) as Tensor)));
        }
        const x = Tensor.randn([batch, ...image], { generator: new Generator(13) });
        expect(countTypedArrays(() => { for (let i = 0; i < 20; i++) compiled(x); })).toEqual({ arrays: 0, bytes: 0 });
        expect(compiled.session.plan.allocating).toEqual([]);
      }
    });
  }
});
