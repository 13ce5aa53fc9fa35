import { ArgumentError, ShapeError, Tensor, manualSeed, noGrad, tensor } from "@pico/core";
import { describe, expect, it } from "vitest";
import { Adam } from "./adam.js";
import { AdamW } from "./adamw.js";
import { Momentum } from "./momentum.js";
import type { Optimizer, OptimizerStateDict } from "./optimizer.js";
import { SGD } from "./sgd.js";
import { quadratic } from "./test-utils/quadratic.js";

/** Two float32 parameters and a loss coupling them, so the run depends on every element. */
function model(): { params: Tensor[]; backward: () => void } {
  manualSeed(7);
  const w = Tensor.randn([3, 4], { requiresGrad: true });
  const b = Tensor.randn([4], { requiresGrad: true });
  const x = Tensor.randn([5, 3]);
  const t = Tensor.randn([5, 4]);
  return { params: [w, b], backward: () => x.matmul(w).add(b).tanh().sub(t).square().mean().backward() };
}

function train(opt: Optimizer, backward: () => void, steps: number): void {
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    backward();
    opt.step();
  }
}

// [name, build, stateful]: a stateful optimizer resumed without its state takes a different path.
const builders: Array<[string, (params: Tensor[]) => Optimizer, boolean]> = [
  ["SGD", (p) => new SGD(p, { lr: 0.05, weightDecay: 0.01 }), false],
  ["Momentum nesterov", (p) => new Momentum(p, { lr: 0.05, nesterov: true, weightDecay: 0.01 }), true],
  ["Momentum dampening", (p) => new Momentum(p, { lr: 0.05, dampening: 0.3 }), true],
  ["Adam amsgrad", (p) => new Adam(p, { lr: 0.01, weightDecay: 0.01, amsgrad: true }), true],
  ["AdamW", (p) => new AdamW([{ params: [p[0]!] }, { params: [p[1]!], lr: 0.02, weightDecay: 0 }], { lr: 0.01 }), true],
];

describe("Optimizer state dicts", () => {
  it.each(builders)("%s: 5 steps, save, 5 more equals a fresh optimizer loaded after 5 steps, bitwise", (_, build, stateful) => {
    const a = model();
    const optA = build(a.params);
    train(optA, a.backward, 5);
    const saved = optA.stateDict();
    const snapshot = a.params.map((p) => p.toTypedArray().slice());
    train(optA, a.backward, 5);

    const b = model();
    noGrad(() => b.params.forEach((p, i) => p.data.data.set(snapshot[i]!)));
    const optB = build(b.params);
    optB.loadStateDict(saved);
    train(optB, b.backward, 5);
    a.params.forEach((p, i) => expect(b.params[i]!.toTypedArray()).toEqual(p.toTypedArray()));

    if (stateful) {
      const c = model();
      noGrad(() => c.params.forEach((p, i) => p.data.data.set(snapshot[i]!)));
      train(build(c.params), c.backward, 5);
      expect(c.params[0]!.toTypedArray()).not.toEqual(a.params[0]!.toTypedArray());
    }
  });

  it("stateDict is a copy: later steps do not change it, and loading does not alias it", () => {
    const { params, backward } = model();
    const opt = new Adam(params, { lr: 0.01 });
    train(opt, backward, 2);
    const saved = opt.stateDict();
    const expAvg = (saved.state[0]!["expAvg"] as Tensor).toTypedArray().slice();
    train(opt, backward, 1);
    expect((saved.state[0]!["expAvg"] as Tensor).toTypedArray()).toEqual(expAvg);
    expect(saved.state[0]!["step"]).toBe(2);

    opt.loadStateDict(saved);
    (saved.state[0]!["expAvg"] as Tensor).data.data.fill(123);
    (saved.paramGroups[0]!["betas"] as number[])[0] = 0.5;
    expect((opt.stateDict().state[0]!["expAvg"] as Tensor).toTypedArray()).toEqual(expAvg);
    expect(opt.paramGroups[0]!.betas).toEqual([0.9, 0.999]);
  });

  it("has PyTorch's shape: params by index in group order, state null until a parameter is updated", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tensor([3], { requiresGrad: true });
    const z = tensor([4, 5, 6], { requiresGrad: true });
    const opt = new Momentum([{ params: [x, y] }, { params: [z], lr: 0.5 }], { lr: 0.1 });
    x.mul(x).sum().backward();
    opt.step();
    const dict = opt.stateDict();
    expect(dict.paramGroups).toEqual([
      { params: [0, 1], lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
      { params: [2], lr: 0.5, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
    ]);
    expect(dict.state.length).toBe(3);
    expect(dict.state[0]!["momentumBuffer"]).toBeInstanceOf(Tensor);
    expect(dict.state[1]).toBeNull();
    expect(dict.state[2]).toBeNull();
    expect(JSON.parse(JSON.stringify(dict.paramGroups))).toEqual(dict.paramGroups);
  });

  it("restores hyperparameters such as a scheduled lr", () => {
    const { params } = model();
    const opt = new SGD(params, { lr: 0.1 });
    opt.paramGroups[0]!.lr = 0;
    const saved = opt.stateDict();
    const fresh = new SGD(params, { lr: 0.1 });
    fresh.loadStateDict(saved);
    expect(fresh.paramGroups[0]!.lr).toBe(0);
  });

  describe("loadStateDict refuses a dict that does not fit, naming what differs, and changes nothing", () => {
    function saved(): { opt: Adam; dict: OptimizerStateDict; params: Tensor[] } {
      const { params, backward } = model();
      const opt = new Adam(params, { lr: 0.01 });
      train(opt, backward, 1);
      return { opt, dict: opt.stateDict(), params };
    }
    it("group count", () => {
      const { dict, params } = saved();
      const other = new Adam([{ params: [params[0]!] }, { params: [params[1]!] }]);
      expect(() => other.loadStateDict(dict)).toThrow("Adam.loadStateDict: the state dict has 1 parameter groups, but this optimizer has 2");
    });
    it("parameter count", () => {
      const { dict, params } = saved();
      const extra = Tensor.zeros([2], { requiresGrad: true });
      const other = new Adam([...params, extra]);
      expect(() => other.loadStateDict(dict)).toThrow("Adam.loadStateDict: the state dict has state for 2 parameters, but this optimizer has 3");
      dict.state.push(null);
      expect(() => other.loadStateDict(dict)).toThrow("Adam.loadStateDict: paramGroups[0] has 2 parameters in the state dict, but 3 in this optimizer");
    });
    it("tensor shapes", () => {
      const { dict, params } = saved();
      const other = new Adam([params[1]!, params[0]!]);
      expect(() => other.loadStateDict(dict)).toThrow("Adam.loadStateDict: state[0].expAvg has shape [3, 4], but parameter 0 has shape [4]");
    });
    it("missing state entries and bad values", () => {
      const { opt, dict } = saved();
      const before = opt.stateDict();
      delete dict.state[1]!["expAvgSq"];
      expect(() => opt.loadStateDict(dict)).toThrow("Adam.loadStateDict: state[1] lacks expAvgSq, which Adam needs");
      dict.state[1]!["expAvgSq"] = Number.NaN;
      expect(() => opt.loadStateDict(dict)).toThrow("Adam.loadStateDict: state[1].expAvgSq must be a Tensor or a finite number, but got NaN");
      expect(opt.stateDict()).toEqual(before);
    });
    it("option names, kinds and values", () => {
      const { opt, dict } = saved();
      const before = opt.stateDict();
      expect(() => opt.loadStateDict({ ...dict, paramGroups: [{ ...dict.paramGroups[0]!, momentum: 0.9 }] })).toThrow(
        'Adam.loadStateDict: paramGroups[0] has an unknown option "momentum"; the options are lr, betas, eps, weightDecay, amsgrad, maximize',
      );
      expect(() => opt.loadStateDict({ ...dict, paramGroups: [{ ...dict.paramGroups[0]!, betas: [0.9] }] })).toThrow(
        "Adam.loadStateDict: paramGroups[0].betas must be like [0.9, 0.999] (an array of 2 numbers), but got [0.9]",
      );
      expect(() => opt.loadStateDict({ ...dict, paramGroups: [{ ...dict.paramGroups[0]!, eps: -1 }] })).toThrow(
        "Adam: paramGroups[0].eps must be a finite number >= 0, but got -1",
      );
      expect(() => opt.loadStateDict({} as OptimizerStateDict)).toThrow("Adam.loadStateDict: expected { state: [...], paramGroups: [...] }");
      expect(opt.stateDict()).toEqual(before);
    });
    it("amsgrad state without its running maximum", () => {
      const { dict, params } = saved();
      const other = new Adam(params, { amsgrad: true });
      dict.paramGroups[0]!["amsgrad"] = true;
      expect(() => other.loadStateDict(dict)).toThrow("Adam.loadStateDict: state[0] lacks maxExpAvgSq, which Adam needs");
    });
  });
});

describe("Optimizer parameters and groups", () => {
  it("updates non-contiguous (transposed) and offset (sliced) parameters in place, like packed ones", () => {
    const base = tensor([[1, -2, 3], [0.5, 4, -1]], { dtype: "float64" });
    const view = noGrad(() => base.transpose());
    const strided = new Tensor(view.data, { requiresGrad: true });
    const rows = tensor([[9, 9, 9], [1, 2, 3], [-3, 0.25, 7]], { dtype: "float64" });
    const sliced = new Tensor(noGrad(() => rows.slice(0, 1)).data, { requiresGrad: true });
    const packedT = tensor(strided.toArray() as number[][], { requiresGrad: true, dtype: "float64" });
    const packedS = tensor(sliced.toArray() as number[][], { requiresGrad: true, dtype: "float64" });
    expect(strided.data.stride).toEqual([1, 3]);
    expect(sliced.data.offset).toBe(3);

    const optView = new Adam([strided, sliced], { lr: 0.1, weightDecay: 0.1 });
    const optPacked = new Adam([packedT, packedS], { lr: 0.1, weightDecay: 0.1 });
    for (let s = 0; s < 3; s++) {
      for (const [opt, t, u] of [[optView, strided, sliced], [optPacked, packedT, packedS]] as const) {
        opt.zeroGrad();
        t.square().sum().add(u.pow(3).sum()).backward();
        opt.step();
      }
    }
    expect(strided.toArray()).toEqual(packedT.toArray());
    expect(sliced.toArray()).toEqual(packedS.toArray());
    expect(base.toArray()).toEqual(noGrad(() => packedT.transpose()).toArray());
    expect((rows.toArray() as number[][])[0]).toEqual([9, 9, 9]);
    expect((rows.toArray() as number[][]).slice(1)).toEqual(packedS.toArray());
  });

  it("skips parameters whose grad is null and creates no state for them", () => {
    const { x, backward } = quadratic([1, 3], [1, -2]);
    const idle = tensor([5, 6], { requiresGrad: true });
    const opt = new Adam([x, idle], { lr: 0.1 });
    backward();
    opt.step();
    expect(idle.toArray()).toEqual([5, 6]);
    expect(opt.stateDict().state[1]).toBeNull();
  });

  it("zeroGrad sets every gradient to null", () => {
    const { x, backward } = quadratic([1, 3], [1, -2]);
    const opt = new SGD([x], { lr: 0.1 });
    backward();
    expect(x.grad).not.toBeNull();
    opt.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it("zeroGrad({ setToNone: false }) zero-fills the gradients in place, and backward adds into the same arrays: the same parameters as the default", () => {
    for (const [name, build] of builders) {
      const fresh = model();
      const kept = model();
      const freshOpt = build(fresh.params);
      const keptOpt = build(kept.params);
      train(freshOpt, fresh.backward, 1);
      train(keptOpt, kept.backward, 1);
      const arrays = kept.params.map((p) => p.grad!.data.data);
      for (let s = 0; s < 5; s++) {
        keptOpt.zeroGrad({ setToNone: false });
        kept.params.forEach((p, i) => {
          expect(p.grad!.data.data, `${name}: gradient ${i} stays in its array`).toBe(arrays[i]);
          expect(Array.from(p.grad!.toTypedArray()).every((v) => v === 0), `${name}: gradient ${i} zeroed`).toBe(true);
        });
        kept.backward();
        keptOpt.step();
        train(freshOpt, fresh.backward, 1);
        kept.params.forEach((p, i) => {
          expect(p.grad!.data.data, `${name}: backward added into gradient ${i}'s array`).toBe(arrays[i]);
          expect(Array.from(p.toTypedArray()), `${name}: parameter ${i} after step ${s + 2}`).toEqual(Array.from(fresh.params[i]!.toTypedArray()));
        });
      }
    }
  });

  it("zeroGrad refuses options it does not know or values of the wrong kind", () => {
    const { x } = quadratic([1, 3], [1, -2]);
    const opt = new SGD([x], { lr: 0.1 });
    expect(() => opt.zeroGrad({ setToNone: "no" } as unknown as { setToNone: boolean })).toThrow(/SGD\.zeroGrad: setToNone must be true or false, but got/);
    expect(() => opt.zeroGrad({ set_to_none: false } as unknown as { setToNone: boolean })).toThrow(/SGD\.zeroGrad: unknown option "set_to_none"; the options are setToNone/);
    expect(() => opt.zeroGrad(false as unknown as { setToNone: boolean })).toThrow(/SGD\.zeroGrad: options must be an object like \{ setToNone: false \}, but got/);
  });

  it("groups have their own hyperparameters merged over the defaults; lr is mutable", () => {
    const x = tensor([1], { requiresGrad: true, dtype: "float64" });
    const y = tensor([1], { requiresGrad: true, dtype: "float64" });
    const z = tensor([1], { requiresGrad: true, dtype: "float64" });
    const opt = new SGD([{ params: [x] }, { params: [y], lr: 0.5, weightDecay: 1 }], { lr: 0.1 });
    opt.addParamGroup({ params: [z], lr: 0.25 });
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay])).toEqual([[0.1, 0], [0.5, 1], [0.25, 0]]);
    for (const t of [x, y, z]) t.square().sum().backward();
    opt.step();
    expect([x.item(), y.item(), z.item()]).toEqual([1 - 0.1 * 2, 1 - 0.5 * (2 + 1), 1 - 0.25 * 2]);
    opt.paramGroups[0]!.lr = 0.01;
    opt.zeroGrad();
    x.square().sum().backward();
    opt.step();
    expect(x.item()).toBeCloseTo(0.8 - 0.01 * 1.6, 15);
  });

  it("groups do not share option arrays with each other, the defaults or the caller", () => {
    const betas: [number, number] = [0.9, 0.99];
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([1], { requiresGrad: true });
    const opt = new Adam([{ params: [a] }, { params: [b], lr: undefined }], { betas });
    opt.paramGroups[0]!.betas[0] = 0.5;
    betas[1] = 0.5;
    expect(opt.paramGroups[1]!.betas).toEqual([0.9, 0.99]);
    expect(opt.paramGroups[1]!.lr).toBe(1e-3);
    expect(opt.defaults.betas).toEqual([0.9, 0.99]);
  });

  it("step(closure) evaluates the closure with gradients on and returns its loss", () => {
    const { x } = quadratic([1, 3], [1, -2]);
    const opt = new SGD([x], { lr: 0.1 });
    const loss = noGrad(() =>
      opt.step(() => {
        opt.zeroGrad();
        const l = x.square().sum();
        l.backward();
        return l.item();
      }),
    );
    expect(loss).toBe(5);
    expect(x.toArray()).toEqual([0.8, -1.6]);
  });

  it("refuses bad params with clear messages", () => {
    const x = tensor([1], { requiresGrad: true });
    expect(() => new SGD([], { lr: 0.1 })).toThrow("SGD: params must not be empty");
    expect(() => new SGD(x as unknown as Tensor[], { lr: 0.1 })).toThrow("SGD: params must be an iterable of Tensors or of parameter groups");
    expect(() => new SGD([x, x], { lr: 0.1 })).toThrow("SGD: paramGroups[0].params[1] appears more than once");
    expect(() => new SGD([{ params: [x] }, { params: [x] }], { lr: 0.1 })).toThrow("SGD: paramGroups[1].params[0] appears more than once");
    expect(() => new SGD([{ params: [x], lr: -1 }], { lr: 0.1 })).toThrow("SGD: paramGroups[0].lr must be a finite number > 0, but got -1");
    expect(() => new SGD([{ params: [1] as unknown as Tensor[] }], { lr: 0.1 })).toThrow("SGD: paramGroups[0].params[0] must be a Tensor, but got 1");
    expect(() => new SGD([{ params: [x], lrr: 1 } as { params: Tensor[] }], { lr: 0.1 })).toThrow(ArgumentError);
  });

  it("refuses a gradient whose shape differs from its parameter", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    // Tensor.grad's setter refuses another shape; a parameter whose data was replaced afterwards still has one.
    x.grad = tensor([1, 2]);
    x.data = tensor([1, 2, 3]).data;
    expect(() => new SGD([x], { lr: 0.1 }).step()).toThrow(ShapeError);
    expect(() => new SGD([x], { lr: 0.1 }).step()).toThrow("SGD.step: parameter 0 has shape [3], but its gradient has shape [2]");
  });
});
