import { Generator, Tensor, noGrad, tracer } from "@pico/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Sequential } from "../layers/sequential.js";
import { CifarNet, CifarResidualBlock } from "./cifar-net.js";

describe("CifarResidualBlock", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const mode of ["train", "eval"] as const) {
    // Evaluation folds both BatchNorms, leaving one inner activation; training also has both convolutions' outputs.
    const inner = mode === "eval" ? 1 : 3;
    it(`${mode}, x=[2,8,6,6]: under noGrad hands its ${inner} inner activation(s) back to the buffer pool (not x, not the output), same output as with gradients`, () => {
      const block = new CifarResidualBlock(8, { generator: new Generator(4) });
      if (mode === "eval") block.eval();
      const x = Tensor.randn([2, 8, 6, 6], { generator: new Generator(5) });
      const withGrad = block.forward(x).toTypedArray();
      const recycle = vi.spyOn(tracer, "recycle");
      const y = noGrad(() => block.forward(x));
      const given = recycle.mock.calls.map(([a]) => a);
      expect(given.length).toBe(inner);
      expect(new Set(given.map((a) => a.buffer)).size).toBe(inner);
      for (const a of given) {
        expect(a.length).toBe(2 * 8 * 6 * 6);
        expect(a.buffer === x.data.data.buffer || a.buffer === y.data.data.buffer).toBe(false);
      }
      expect(Array.from(y.toTypedArray())).toEqual(Array.from(withGrad));
    });
  }

  it("with gradients recycles nothing itself (backward still needs its activations)", () => {
    const block = new CifarResidualBlock(8, { generator: new Generator(4) });
    const recycle = vi.spyOn(tracer, "recycle");
    block.forward(Tensor.randn([2, 8, 6, 6], { generator: new Generator(5), requiresGrad: true })).sum().backward();
    expect(recycle).not.toHaveBeenCalled();
  });
});

describe("CifarNet", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("eval, x=[2,3,8,8]: under noGrad hands the features' output (and the block's activation) back to the pool, same logits", () => {
    const model = new CifarNet({ generator: new Generator(6) });
    model.eval();
    const x = Tensor.randn([2, 3, 8, 8], { generator: new Generator(7) });
    const withGrad = Array.from(model.forward(x).toTypedArray());
    const recycle = vi.spyOn(tracer, "recycle");
    const logits = noGrad(() => model.forward(x));
    const sizes = recycle.mock.calls.map(([a]) => a.length);
    // The features' output [2, 128, 2, 2] and the residual block's inner [2, 64, 4, 4], among the Sequential's own.
    expect(sizes).toContain(2 * 128 * 2 * 2);
    expect(sizes).toContain(2 * 64 * 4 * 4);
    expect(Array.from(logits.toTypedArray())).toEqual(withGrad);
  });
});

describe("CifarNet training: recycling of the residual block's boundaries, its activations and both convolutions' outputs", () => {
  afterEach(() => {
    Sequential.recycling = true;
  });

  const x = Tensor.randn([4, 3, 16, 16], { generator: new Generator(12) });

  /** `steps` steps of forward, backward and an in-place SGD update; the outputs and gradients of every step. */
  function train(model: CifarNet, steps: number): number[][] {
    const trace: number[][] = [];
    for (let i = 0; i < steps; i++) {
      model.zeroGrad();
      const y = model.forward(x.mul(1 + i / 8));
      trace.push(Array.from(y.toTypedArray()));
      y.square().sum().backward();
      for (const p of model.parameters()) {
        const g = p.grad!.toTypedArray();
        trace.push(Array.from(g));
        const w = p.data.data;
        for (let k = 0; k < w.length; k++) w[k]! -= 1e-3 * g[k]!;
      }
    }
    return trace;
  }

  /** The lengths of the Float32Arrays of at least 16 KB (what the buffer pool takes) created while `fn` runs. */
  function freshFloat32Lengths(fn: () => void): number[] {
    const lengths: number[] = [];
    const original = globalThis.Float32Array;
    globalThis.Float32Array = new Proxy(original, {
      construct(target, args, newTarget) {
        const made = Reflect.construct(target, args, newTarget === globalThis.Float32Array ? target : newTarget) as Float32Array;
        if (!(args[0] instanceof ArrayBuffer) && made.byteLength >= 16 * 1024) lengths.push(made.length);
        return made;
      },
    });
    try {
      fn();
    } finally {
      globalThis.Float32Array = original;
    }
    return lengths;
  }

  it("gives the same outputs and gradients bit for bit with Sequential recycling off and on", () => {
    Sequential.recycling = false;
    const off = train(new CifarNet({ generator: new Generator(13) }), 3);
    Sequential.recycling = true;
    expect(train(new CifarNet({ generator: new Generator(13) }), 3)).toEqual(off);
  });

  it("allocates no activation afresh once warm: every new array of 16 KB or more is a gradient of a parameter", () => {
    const model = new CifarNet({ generator: new Generator(14) });
    train(model, 2);
    const lengths = freshFloat32Lengths(() => train(model, 2));
    const parameterSizes = new Set(model.parameters().map((p) => p.size));
    // The activations here: 4x32x16x16, 4x32x8x8, 4x64x8x8 (the block's input, inner, convolution and output), 4x128x4x4.
    expect(lengths.filter((n) => !parameterSizes.has(n))).toEqual([]);
  });

  it("keeps the output a caller holds, the input and output of a block called directly, and every activation through retainGraph", () => {
    const model = new CifarNet({ generator: new Generator(15) });
    const y = model.forward(x);
    y.sum().backward(undefined, { retainGraph: true });
    const first = model.parameters().map((p) => Array.from(p.grad!.toTypedArray()));
    const block = model.features.at(10) as CifarResidualBlock;
    const h = Tensor.randn([4, 64, 8, 8], { generator: new Generator(16) });
    const hSnap = Array.from(h.toTypedArray());
    const out = block.forward(h);
    const outSnap = Array.from(out.toTypedArray());
    const ySnap = Array.from(y.toTypedArray());
    model.zeroGrad();
    // Steps in between take every recycled array from the pool and overwrite it.
    for (let i = 0; i < 3; i++) model.forward(x.mul(2)).sum().backward();
    model.zeroGrad();
    y.sum().backward();
    expect(model.parameters().map((p) => Array.from(p.grad!.toTypedArray()))).toEqual(first);
    expect(Array.from(y.toTypedArray())).toEqual(ySnap);
    expect(Array.from(h.toTypedArray())).toEqual(hSnap);
    expect(Array.from(out.toTypedArray())).toEqual(outSnap);
  });
});
