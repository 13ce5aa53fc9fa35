import { Generator, Tensor, kernels, type FloatArray } from "@pico/core";
import { afterEach, describe, expect, it } from "vitest";
import type { AdamGroupOptions } from "./adam-family.js";
import { Adam } from "./adam.js";
import { AdamW } from "./adamw.js";
import { Momentum } from "./momentum.js";
import { SGD } from "./sgd.js";
import type { Optimizer, ParamGroup } from "./optimizer.js";

// Optimizer.step reads a .grad without taking it (peekGrad, so that zeroGrad recycles its array) only when
// the step provably keeps no gradient: kernels.stepKeepsNoGrad, which asks for the class's own
// `static stepKeepsNoGrad = true`; DataParallel splits by another promise, `splittableStep`
// (kernels.kernelOnlyStep). Code that may keep the gradient array it is given (a subclass that declares
// only splittableStep, an instance's own updateParameter, a user's optimizer kernel) must get an array no
// later backward writes into. loss_k = sum(c ⊙ (x_k W)), W [64, 64] (16 KB: pooled).

const N = 64;
const generator = new Generator(3);
const xs = [Tensor.randn([4, N], { generator }), Tensor.randn([4, N], { generator })];
const c = Tensor.randn([4, N], { generator });

/** Two steps; returns the array kept at step 0, what it held then, and W's .grad array after step 1's backward. */
function twoSteps(w: Tensor, optimizer: Optimizer, kept: FloatArray[]): { kept: FloatArray; before: Float32Array; next: FloatArray } {
  optimizer.zeroGrad();
  xs[0]!.matmul(w).mul(c).sum().backward();
  optimizer.step();
  const before = Float32Array.from(kept[0]!);
  optimizer.zeroGrad();
  xs[1]!.matmul(w).mul(c).sum().backward();
  return { kept: kept[0]!, before, next: kernels.peekGrad(w)!.data.data };
}

const weight = (): Tensor => Tensor.randn([N, N], { generator: new Generator(5), requiresGrad: true });

const family = kernels.optimizerKernels;
/** The backend that runs and its kernel before a test registers over it (restored after each test). */
const registered = { backend: family.resolve().backend, kernel: family.resolve().kernel };
const infoBefore = family.info();

describe("Optimizer.step and a gradient its step keeps", () => {
  afterEach(() => {
    family.override(null);
    const { backend, kernel } = registered;
    if (family.resolve().kernel !== kernel && backend !== "custom") {
      // optimizer.ts registers "wasm" with these options (its threads option reports 1 while no threads run, the default).
      family.register(backend, kernel, backend === "wasm" ? { available: kernels.wasmAvailable } : {});
    }
    expect(family.resolve().kernel).toBe(kernel);
    expect(family.info()).toEqual(infoBefore);
  });

  it("an instance whose updateParameter is its own keeps step 0's gradient unchanged by step 1's backward", () => {
    const w = weight();
    const sgd = new SGD([w], { lr: 0.1 });
    const kept: FloatArray[] = [];
    const base = (sgd as unknown as { updateParameter: (...a: unknown[]) => void }).updateParameter.bind(sgd);
    (sgd as unknown as { updateParameter: (...a: unknown[]) => void }).updateParameter = (param, p, g, group) => {
      kept.push(g as FloatArray);
      base(param, p, g, group);
    };
    expect(kernels.kernelOnlyStep(sgd)).toBe(false);
    expect(kernels.stepKeepsNoGrad(sgd)).toBe(false);
    const r = twoSteps(w, sgd, kept);
    expect(Array.from(r.kept)).toEqual(Array.from(r.before));
    expect(r.next[0]).not.toBe(r.before[0]);
    expect(r.kept).not.toBe(r.next);
  });

  it("a user's optimizer kernel that keeps g sees step 0's gradient unchanged by step 1's backward", () => {
    const w = weight();
    const adam = new Adam([w], { lr: 0.1 });
    const kept: FloatArray[] = [];
    const base = kernels.optimizerKernels.resolve().kernel;
    kernels.optimizerKernels.override({
      sgd: (...a) => base.sgd(...a),
      adam: (p, g, ...rest) => {
        kept.push(g);
        base.adam(p, g, ...rest);
      },
    });
    expect(kernels.kernelOnlyStep(adam)).toBe(false);
    expect(kernels.stepKeepsNoGrad(adam)).toBe(false);
    const r = twoSteps(w, adam, kept);
    expect(Array.from(r.kept)).toEqual(Array.from(r.before));
    expect(r.kept).not.toBe(r.next);
  });

  it("a user's kernel put in with register over the backend that runs sees step 0's gradient unchanged by step 1's backward", () => {
    const w = weight();
    const adam = new Adam([w], { lr: 0.1 });
    const kept: FloatArray[] = [];
    const { backend, kernel: base } = family.resolve();
    expect(backend).not.toBe("custom");
    family.register(backend as kernels.KernelBackend, {
      sgd: (...a) => base.sgd(...a),
      adam: (p, g, ...rest) => {
        kept.push(g);
        base.adam(p, g, ...rest);
      },
    });
    expect(family.resolve().backend).toBe(backend);
    expect(kernels.kernelOnlyStep(adam)).toBe(false);
    expect(kernels.stepKeepsNoGrad(adam)).toBe(false);
    const r = twoSteps(w, adam, kept);
    expect(Array.from(r.kept)).toEqual(Array.from(r.before));
    expect(r.kept).not.toBe(r.next);
  });

  it("SGD, Momentum, Adam and AdamW as they are still step with the gradient unseen: its array is the next step's", () => {
    const makers = [
      (w: Tensor) => new SGD([w], { lr: 0.1 }),
      (w: Tensor) => new Momentum([w], { lr: 0.1, momentum: 0.9 }),
      (w: Tensor) => new Adam([w], { lr: 0.1 }),
      (w: Tensor) => new AdamW([w], { lr: 0.1 }),
    ];
    for (const make of makers) {
      const w = weight();
      const optimizer = make(w);
      // Both promises: DataParallel may split it, and its step keeps no gradient.
      expect(kernels.kernelOnlyStep(optimizer)).toBe(true);
      expect(kernels.stepKeepsNoGrad(optimizer)).toBe(true);
      const kept: FloatArray[] = [];
      optimizer.zeroGrad();
      xs[0]!.matmul(w).mul(c).sum().backward();
      kept.push(kernels.peekGrad(w)!.data.data);
      optimizer.step();
      const r = twoSteps(w, optimizer, kept);
      expect(r.next).toBe(r.kept);
    }
  });

  it("a subclass written before the two promises were split, declaring splittableStep and keeping g, keeps every step's gradient and steps as Adam does", () => {
    /** Keeps each gradient it is given (a logger, say): it may be split, but must get arrays no later step writes. */
    class KeepingAdam extends Adam {
      static override splittableStep = true;
      readonly kept: FloatArray[] = [];
      protected override updateParameter(param: Tensor, p: FloatArray, g: FloatArray, group: ParamGroup<AdamGroupOptions>): void {
        this.kept.push(g);
        super.updateParameter(param, p, g, group);
      }
    }
    /** The plain path: reads every .grad through the getter. */
    class PlainAdam extends Adam {}
    const w = weight();
    const plainW = weight();
    const keeping = new KeepingAdam([w], { lr: 0.1 });
    const plain = new PlainAdam([plainW], { lr: 0.1 });
    expect(kernels.kernelOnlyStep(keeping)).toBe(true);
    expect(kernels.stepKeepsNoGrad(keeping)).toBe(false);
    expect(kernels.stepKeepsNoGrad(plain)).toBe(false);
    const gradients: Float32Array[] = [];
    for (let k = 0; k < 4; k++) {
      const x = xs[k % 2]!.mul(k + 1);
      keeping.zeroGrad();
      x.matmul(w).mul(c).sum().backward();
      keeping.step();
      plain.zeroGrad();
      x.matmul(plainW).mul(c).sum().backward();
      gradients.push(Float32Array.from(plainW.grad!.data.data));
      plain.step();
    }
    // Every step's gradient, as it was, in an array of its own; the weights bit for bit the plain path's.
    expect(keeping.kept).toHaveLength(4);
    expect(new Set(keeping.kept).size).toBe(4);
    keeping.kept.forEach((g, k) => expect(Array.from(g)).toEqual(Array.from(gradients[k]!)));
    expect(Array.from(w.data.data)).toEqual(Array.from(plainW.data.data));
  });

  it("a class that declares only stepKeepsNoGrad steps with the gradient unseen but is not split", () => {
    class PeekingSGD extends SGD {
      static override splittableStep = false;
      static override stepKeepsNoGrad = true;
    }
    const w = weight();
    const optimizer = new PeekingSGD([w], { lr: 0.1 });
    expect(kernels.kernelOnlyStep(optimizer)).toBe(false);
    expect(kernels.stepKeepsNoGrad(optimizer)).toBe(true);
    const kept: FloatArray[] = [];
    optimizer.zeroGrad();
    xs[0]!.matmul(w).mul(c).sum().backward();
    kept.push(kernels.peekGrad(w)!.data.data);
    optimizer.step();
    const r = twoSteps(w, optimizer, kept);
    expect(r.next).toBe(r.kept);
  });
});
