import { Generator, Tensor, compile, noGrad } from "@pico/core";
import { SGD } from "@pico/optim";
import { afterEach, describe, expect, it, vi } from "vitest";
import { normal } from "../init.js";
import { BatchNorm2d } from "../layers/batch-norm2d.js";
import { Conv2d } from "../layers/conv2d.js";
import { ReLU } from "../layers/relu.js";
import { Sequential } from "../layers/sequential.js";
import { Parameter } from "../parameter.js";
import { expectClose, values } from "../test-utils/tensors.js";
import { foldedBatchNorm } from "./folded-batch-norm.js";

type Pair = { conv: Conv2d; bn: BatchNorm2d; model: Sequential };

/** Conv2d → BatchNorm2d (→ ReLU) in float64, the BatchNorm's parameters and statistics away from their initial values. */
function build(relu: boolean, seed: number): Pair {
  const conv = new Conv2d(3, 4, 3, { padding: 1, dtype: "float64", generator: new Generator(seed) });
  const bn = new BatchNorm2d(4, { dtype: "float64" });
  const gen = new Generator(seed + 1);
  noGrad(() => {
    normal(bn.weight!, 1, 0.3, { generator: gen });
    normal(bn.bias!, 0, 0.2, { generator: gen });
    normal(bn.running_mean!, 0, 0.3, { generator: gen });
    bn.running_var!.data.data.forEach((_, i, a) => (a[i] = 0.5 + Math.abs(gen.normal())));
    bn.running_var!.bumpVersion();
  });
  const model = relu ? new Sequential(conv, bn, new ReLU()) : new Sequential(conv, bn);
  model.eval();
  return { conv, bn, model };
}

const input = (seed: number, dtype: "float32" | "float64" = "float64"): Tensor => Tensor.randn([2, 3, 5, 5], { dtype, generator: new Generator(seed) });

/** The model's output with every module on its own (the BatchNorm normalising with its running statistics). */
function unfused(model: Sequential, x: Tensor): number[] {
  Sequential.fusion = false;
  try {
    return values(noGrad(() => model.forward(x)));
  } finally {
    Sequential.fusion = true;
  }
}

/** The fused output (BatchNorm folded, from the cache when it is current) equals the unfused one. */
function expectFresh(model: Sequential, x: Tensor, what: string, atol = 1e-12): void {
  const fused = values(noGrad(() => model.forward(x)));
  expectClose(fused, unfused(model, x), what, atol, 1e-10);
}

afterEach(() => {
  Sequential.fusion = true;
  vi.restoreAllMocks();
});

describe("foldedBatchNorm: the fold kept per Conv2d → BatchNorm2d pair", () => {
  it("folds once and reuses the weight and bias while nothing changes", () => {
    const { conv, bn, model } = build(true, 1);
    const x = input(2);
    const first = noGrad(() => foldedBatchNorm(conv, bn));
    expect(noGrad(() => foldedBatchNorm(conv, bn))).toBe(first);
    const sqrt = vi.spyOn(Tensor.prototype, "sqrt");
    for (let k = 0; k < 5; k++) expectFresh(model, x, `call ${k}`);
    expect(sqrt).not.toHaveBeenCalled();
    expect(noGrad(() => foldedBatchNorm(conv, bn))).toBe(first);
  });

  it("folds anew after an optimizer step, with a graph (evaluation in grad mode) whose gradients are the unfused modules'", () => {
    const { conv, bn, model } = build(true, 3);
    const x = input(4);
    expectFresh(model, x, "before");
    const opt = new SGD(model.parameters(), { lr: 0.5 });
    const y = model.forward(x);
    const weights = Tensor.randn(y.shape, { dtype: "float64", generator: new Generator(5) });
    y.mul(weights).sum().backward();
    const fusedGrads = model.parameters().map((p) => values(p.grad!));
    model.zeroGrad();
    Sequential.fusion = false;
    model.forward(x).mul(weights).sum().backward();
    Sequential.fusion = true;
    model.parameters().forEach((p, i) => expectClose(values(p.grad!), fusedGrads[i]!, `gradient ${i}`, 1e-11, 1e-9));
    opt.step();
    expect(conv.weight.version).toBeGreaterThan(0);
    expectFresh(model, x, "after the step");
    expect(values(bn.weight!)).not.toEqual(values(build(true, 3).bn.weight!));
  });

  it("folds anew after loadStateDict", () => {
    const { model } = build(false, 6);
    const other = build(false, 7).model;
    const x = input(8);
    expectFresh(model, x, "before");
    model.loadStateDict(other.stateDict());
    expectFresh(model, x, "after loading");
    expectClose(values(noGrad(() => model.forward(x))), values(noGrad(() => other.forward(x))), "as the loaded model", 1e-12, 1e-10);
  });

  it("folds anew after a training-mode forward moved the running statistics, and after train() and eval()", () => {
    const { bn, model } = build(true, 9);
    const x = input(10);
    expectFresh(model, x, "before");
    const mean = values(bn.running_mean!);
    model.train();
    noGrad(() => model.forward(input(11)));
    model.eval();
    expect(values(bn.running_mean!)).not.toEqual(mean);
    expectFresh(model, x, "after training");
    model.train();
    model.eval();
    expectFresh(model, x, "after a switch with no forward");
  });

  it("folds anew after a direct in-place edit of a weight (init function, or a write followed by bumpVersion)", () => {
    const { conv, bn, model } = build(true, 12);
    const x = input(13);
    expectFresh(model, x, "before");
    noGrad(() => normal(conv.weight, 0, 1, { generator: new Generator(14) }));
    expectFresh(model, x, "after init.normal");
    bn.weight!.data.data[1] = -2;
    bn.weight!.bumpVersion();
    expectFresh(model, x, "after a direct write");
    bn.running_var!.data.data[2] = 9;
    bn.running_var!.bumpVersion();
    expectFresh(model, x, "after a direct write to the running variance");
  });

  it("folds anew after eps changes, a parameter or buffer is replaced or removed, or the dtype changes", () => {
    const { conv, bn, model } = build(false, 15);
    const x = input(16);
    expectFresh(model, x, "before");
    (bn as { eps: number }).eps = 0.25;
    expectFresh(model, x, "after eps");
    conv.weight = new Parameter(Tensor.randn(conv.weight.shape, { dtype: "float64", generator: new Generator(17) }));
    expectFresh(model, x, "after replacing the conv weight");
    bn.bias = new Parameter(Tensor.full([4], 0.7, { dtype: "float64" }));
    expectFresh(model, x, "after replacing the BatchNorm bias");
    conv.bias = null;
    expectFresh(model, x, "after removing the conv bias");
    bn.registerBuffer("running_mean", Tensor.full([4], -0.4, { dtype: "float64" }));
    expectFresh(model, x, "after replacing the running mean");
  });

  it("folds anew after to(dtype), which replaces every array, even where the new arrays' versions equal the old ones'", () => {
    const conv = new Conv2d(3, 4, 3, { padding: 1, generator: new Generator(20) });
    const bn = new BatchNorm2d(4);
    const model = new Sequential(conv, bn).eval();
    const versions = (): number[] => [conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var].map((t) => t!.version);
    const before = versions();
    expect(noGrad(() => foldedBatchNorm(conv, bn)).weight.dtype).toBe("float32");
    model.to("float64");
    // A version counts the writes into one buffer: the converted buffers start again from 0.
    conv.weight.bumpVersion();
    conv.bias!.bumpVersion();
    expect(versions()).toEqual(before);
    expect(noGrad(() => foldedBatchNorm(conv, bn)).weight.dtype).toBe("float64");
    expectFresh(model, input(21), "in float64");
  });

  it("is not used while a trace records: a compiled model follows a step, and loadStateDict into frozen parameters", () => {
    const { model } = build(true, 18);
    const x = input(19);
    expectFresh(model, x, "eager, which keeps the fold");
    const compiled = noGrad(() => compile((t: Tensor) => model.forward(t), x));
    expectClose(values(compiled(x)), unfused(model, x), "compiled", 1e-12, 1e-10);
    const opt = new SGD(model.parameters(), { lr: 0.3 });
    model.forward(x).sum().backward();
    opt.step();
    expectClose(values(compiled(x)), unfused(model, x), "compiled after the step", 1e-12, 1e-10);
    // Frozen parameters: the fold is a constant to eager calls, but a trace must still record it.
    const frozen = build(true, 22).model;
    for (const p of frozen.parameters()) p.requiresGrad = false;
    expectFresh(frozen, x, "frozen, eager");
    const compiledFrozen = compile((t: Tensor) => frozen.forward(t), x);
    frozen.loadStateDict(build(true, 23).model.stateDict());
    expectClose(values(compiledFrozen(x)), unfused(frozen, x), "compiled frozen model after loadStateDict", 1e-12, 1e-10);
  });
  it("keeps one fold per pair: a replaced fold and the fold of collected modules are garbage", async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, "run vitest with --expose-gc (see vitest.config.ts)").toBeTypeOf("function");
    let pair: Pair | null = build(true, 30);
    const x = input(31);
    const first = new WeakRef(noGrad(() => foldedBatchNorm(pair!.conv, pair!.bn)).weight);
    pair.conv.weight.bumpVersion();
    for (let k = 0; k < 3; k++) noGrad(() => pair!.model.forward(x));
    const second = new WeakRef(noGrad(() => foldedBatchNorm(pair!.conv, pair!.bn)).weight);
    const collected = async (): Promise<void> => {
      // A WeakRef's target lives at least until the end of the job that made or read it.
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc!();
    };
    await collected();
    expect(first.deref()).toBeUndefined();
    expect(second.deref()).toBeDefined();
    pair = null;
    await collected();
    expect(second.deref()).toBeUndefined();
  });
});
