import { PicoError, Tensor, manualSeed, noGrad } from "@pico/core";
import { Momentum } from "../momentum.js";
import { SGD } from "../sgd.js";
import { describe, expect, it } from "vitest";
import { adamWithGroups, expectLrs, expectResumable, lrTrace, sgdWithGroups } from "../test-utils/schedule.js";
import { OneCycleLR } from "./one-cycle-lr.js";

// PyTorch's annealing functions.
const cos = (start: number, end: number, pct: number): number => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
const line = (start: number, end: number, pct: number): number => (end - start) * pct + start;

describe("OneCycleLR", () => {
  it("maxLr=1 totalSteps=10: up from 1/25 to 1 over steps 0..2, down to 1/25/1e4 at step 9 (cosine)", () => {
    const opt = sgdWithGroups(0.1);
    const trace = lrTrace(new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 }), opt, 10);
    // phase 1 ends at 0.3 · 10 - 1 = 2, phase 2 at 10 - 1 = 9
    const expected = trace.map((_, t) => [t <= 2 ? cos(1 / 25, 1, t / 2) : cos(1, 1 / 25 / 1e4, (t - 2) / (9 - 2))]);
    expectLrs(trace, expected);
    expect(trace[0]![0]).toBeCloseTo(0.04, 15);
    expect(trace[1]![0]).toBeCloseTo((0.04 + 1) / 2, 15);
    expect(trace[2]![0]).toBeCloseTo(1, 15);
    expect(trace[9]![0]).toBeCloseTo(4e-6, 15);
  });

  it("stepping past totalSteps is an error, as in PyTorch (step totalSteps itself is allowed)", () => {
    const opt = sgdWithGroups(0.1);
    const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 4 });
    for (let t = 0; t < 4; t++) sched.step();
    expect(() => sched.step()).toThrow(PicoError);
    expect(() => sched.step()).toThrow("OneCycleLR: tried to step 5 times, but the schedule has totalSteps 4");
    expect(sched.lastEpoch).toBe(4);
  });

  it("anneal=linear with epochs x stepsPerEpoch, pctStart=0.25, divFactor=10, finalDivFactor=100", () => {
    const opt = sgdWithGroups(0.1, 0.1);
    const sched = new OneCycleLR(opt, { maxLr: [2, 4], epochs: 4, stepsPerEpoch: 5, pctStart: 0.25, anneal: "linear", divFactor: 10, finalDivFactor: 100 });
    const trace = lrTrace(sched, opt, 20);
    // phase 1 ends at 0.25 · 20 - 1 = 4, phase 2 at 19
    const at = (max: number, t: number): number => (t <= 4 ? line(max / 10, max, t / 4) : line(max, max / 10 / 100, (t - 4) / 15));
    expectLrs(trace, trace.map((_, t) => [at(2, t), at(4, t)]));
    expect(sched.baseLrs).toEqual([0.2, 0.4]);
  });

  it("threePhase: up to maxLr, back to the initial lr, then down to the minimum", () => {
    const opt = sgdWithGroups(0.1);
    const trace = lrTrace(new OneCycleLR(opt, { maxLr: 1, totalSteps: 20, threePhase: true }), opt, 20);
    // phases end at 0.3 · 20 - 1 = 5, 2 · 0.3 · 20 - 2 = 10, 19
    const init = 1 / 25;
    const at = (t: number): number => (t <= 5 ? cos(init, 1, t / 5) : t <= 10 ? cos(1, init, (t - 5) / 5) : cos(init, init / 1e4, (t - 10) / 9));
    expectLrs(trace, trace.map((_, t) => [at(t)]));
    expect(trace[10]![0]).toBeCloseTo(init, 15);
  });

  it("cycles momentum inversely to the lr (0.95 → 0.85 → 0.95), for SGD's momentum and Adam's beta1", () => {
    const sgd = sgdWithGroups(0.1);
    const adam = adamWithGroups(0.1);
    const a = new OneCycleLR(sgd, { maxLr: 1, totalSteps: 10 });
    const b = new OneCycleLR(adam, { maxLr: 1, totalSteps: 10, baseMomentum: 0.8, maxMomentum: 0.9 });
    for (let t = 0; t <= 9; t++) {
      if (t > 0) {
        a.step();
        b.step();
      }
      const pct = t <= 2 ? t / 2 : (t - 2) / 7;
      expect(sgd.paramGroups[0]!.momentum).toBeCloseTo(t <= 2 ? cos(0.95, 0.85, pct) : cos(0.85, 0.95, pct), 14);
      expect(adam.paramGroups[0]!.betas[0]).toBeCloseTo(t <= 2 ? cos(0.9, 0.8, pct) : cos(0.8, 0.9, pct), 14);
      expect(adam.paramGroups[0]!.betas[1]).toBe(0.999);
    }
    expect(sgd.paramGroups[0]!.momentum).toBeCloseTo(0.95, 15);
  });

  it("cycleMomentum=false leaves momentum alone", () => {
    const opt = sgdWithGroups(0.1);
    const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 10, cycleMomentum: false });
    sched.step();
    expect(opt.paramGroups[0]!.momentum).toBe(0);
  });

  it("state dict round trip restores lr and momentum and continues identically", () => {
    expectResumable(() => {
      const opt = adamWithGroups(0.1, 0.2);
      return [opt, new OneCycleLR(opt, { maxLr: [0.01, 0.03], totalSteps: 12 })];
    }, 4, 8);
    const opt = sgdWithGroups(0.1);
    const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    sched.step();
    sched.step();
    const saved = sched.stateDict();
    const opt2 = sgdWithGroups(0.1);
    new OneCycleLR(opt2, { maxLr: 1, totalSteps: 10 }).loadStateDict(saved);
    expect(opt2.paramGroups[0]!.momentum).toBe(opt.paramGroups[0]!.momentum);
    expect(opt2.paramGroups[0]!.lr).toBe(opt.paramGroups[0]!.lr);
  });

  it("a training run resumed from optimizer + scheduler state dicts gives bitwise identical parameters", () => {
    const setup = (): { w: Tensor; backward: () => void } => {
      manualSeed(3);
      const w = Tensor.randn([4, 3], { requiresGrad: true });
      const x = Tensor.randn([6, 4]);
      return { w, backward: () => x.matmul(w).sigmoid().square().mean().backward() };
    };
    const build = (w: Tensor): [Momentum, OneCycleLR] => {
      const opt = new Momentum([w], { lr: 0.1, nesterov: true });
      return [opt, new OneCycleLR(opt, { maxLr: 0.5, totalSteps: 10 })];
    };
    const train = (opt: Momentum, sched: OneCycleLR, backward: () => void, steps: number): void => {
      for (let s = 0; s < steps; s++) {
        opt.zeroGrad();
        backward();
        opt.step();
        sched.step();
      }
    };
    const a = setup();
    const [optA, schedA] = build(a.w);
    train(optA, schedA, a.backward, 5);
    const saved = { opt: optA.stateDict(), sched: schedA.stateDict(), w: a.w.toTypedArray().slice() };
    train(optA, schedA, a.backward, 5);

    const b = setup();
    noGrad(() => b.w.data.data.set(saved.w));
    const [optB, schedB] = build(b.w);
    optB.loadStateDict(saved.opt);
    schedB.loadStateDict(saved.sched);
    train(optB, schedB, b.backward, 5);
    expect(b.w.toTypedArray()).toEqual(a.w.toTypedArray());
  });

  it("short schedules stay finite: a phase shorter than a step ends at once (PyTorch divides by zero there)", () => {
    for (const threePhase of [false, true]) {
      for (const pctStart of [0, 0.1, 0.25, 0.3, 0.5, 1]) {
        for (let totalSteps = 1; totalSteps <= 6; totalSteps++) {
          const optimizer = new SGD([Tensor.zeros([1], { requiresGrad: true })], { lr: 1, momentum: 0.9 });
          const scheduler = new OneCycleLR(optimizer, { maxLr: 1, totalSteps, pctStart, threePhase });
          for (let step = 0; step < totalSteps; step++) {
            const { lr, momentum } = optimizer.paramGroups[0]!;
            const what = `threePhase=${threePhase} pctStart=${pctStart} totalSteps=${totalSteps} step ${step}`;
            expect(Number.isFinite(lr) && lr > 0 && lr <= 1, `${what}: lr ${lr}`).toBe(true);
            expect(Number.isFinite(momentum) && momentum! >= 0.85 && momentum! <= 0.95, `${what}: momentum ${momentum}`).toBe(true);
            scheduler.step();
          }
        }
      }
    }
    const optimizer = new SGD([Tensor.zeros([1], { requiresGrad: true })], { lr: 1 });
    new OneCycleLR(optimizer, { maxLr: 1, totalSteps: 4, pctStart: 0.25, cycleMomentum: false });
    expect(optimizer.paramGroups[0]!.lr).toBe(1);
  });

  it("validates its options", () => {
    const opt = sgdWithGroups(0.1, 0.2);
    expect(() => new OneCycleLR(opt, { maxLr: 1 })).toThrow(
      "OneCycleLR: give totalSteps, or both epochs and stepsPerEpoch, but got totalSteps undefined, epochs undefined, stepsPerEpoch undefined",
    );
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 0 })).toThrow("OneCycleLR: totalSteps must be an integer > 0, but got 0");
    expect(() => new OneCycleLR(opt, { maxLr: 1, epochs: 2, stepsPerEpoch: 2.5 })).toThrow("OneCycleLR: stepsPerEpoch must be an integer > 0, but got 2.5");
    expect(() => new OneCycleLR(opt, { maxLr: [1], totalSteps: 5 })).toThrow(
      "OneCycleLR: maxLr must be a number or one number per parameter group (2), but got [1]",
    );
    expect(() => new OneCycleLR(opt, { maxLr: [1, -1], totalSteps: 5 })).toThrow("OneCycleLR: maxLr[1] must be a finite number > 0, but got -1");
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 5, pctStart: 1.2 })).toThrow("OneCycleLR: pctStart must be a number in [0, 1], but got 1.2");
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 5, anneal: "exp" as "cos" })).toThrow(
      'OneCycleLR: anneal must be "cos" or "linear", but got "exp"',
    );
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 5, divFactor: 0 })).toThrow("OneCycleLR: divFactor must be a finite number > 0, but got 0");
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 5, maxMomentum: 1 })).toThrow("OneCycleLR: maxMomentum must be a number in [0, 1), but got 1");
  });
});
