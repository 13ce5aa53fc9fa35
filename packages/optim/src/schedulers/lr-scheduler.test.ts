import { ArgumentError } from "@pico/core";
import { describe, expect, it } from "vitest";
import { sgdWithGroups } from "../test-utils/schedule.js";
import { LRScheduler, type LRSchedulerStateDict, type Optimizer } from "../index.js";
import { CosineAnnealingLR } from "./cosine-annealing-lr.js";
import { StepLR } from "./step-lr.js";

/** A user's schedule written against the public entry: lr(t) = base · gamma^t. */
class ExponentialLR extends LRScheduler<{ gamma: number }> {
  constructor(optimizer: Optimizer, options: { gamma: number }) {
    super("ExponentialLR", optimizer, { gamma: options.gamma });
  }
  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((lr) => lr * this.config.gamma ** epoch);
  }
}

describe("LRScheduler", () => {
  it("a user's subclass only writes lrAt and gets stepping and state dicts", () => {
    const opt = sgdWithGroups(0.5);
    const sched = new ExponentialLR(opt, { gamma: 0.5 });
    sched.step();
    sched.step();
    expect(opt.paramGroups[0]!.lr).toBe(0.5 * 0.5 * 0.5);
    const again = new ExponentialLR(sgdWithGroups(0.5), { gamma: 0.9 });
    again.loadStateDict(sched.stateDict());
    again.step();
    expect(again.getLastLr()).toEqual([0.5 * 0.5 ** 3]);
  });

  it("sets the step-0 lr at construction and reports it", () => {
    const opt = sgdWithGroups(0.5);
    const sched = new CosineAnnealingLR(opt, { tMax: 4 });
    expect(sched.lastEpoch).toBe(0);
    expect(sched.getLastLr()).toEqual([0.5]);
    sched.getLastLr()[0] = 99;
    expect(sched.getLastLr()).toEqual([0.5]);
  });

  it("state dict is plain JSON: kind, lastEpoch, baseLrs, lastLr and its settings", () => {
    const opt = sgdWithGroups(0.5, 1);
    const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    sched.step();
    sched.step();
    expect(sched.stateDict()).toEqual({ scheduler: "StepLR", lastEpoch: 2, baseLrs: [0.5, 1], lastLr: [0.25, 0.5], config: { stepSize: 2, gamma: 0.5 } });
  });

  it("loading restores the settings too and sets the groups' lr, whatever the order of loading", () => {
    const opt = sgdWithGroups(0.5);
    const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    for (let t = 0; t < 3; t++) sched.step();
    const saved = sched.stateDict();
    const opt2 = sgdWithGroups(0.5);
    const sched2 = new StepLR(opt2, { stepSize: 100 });
    sched2.loadStateDict(saved);
    expect(opt2.paramGroups[0]!.lr).toBe(0.25);
    sched2.step();
    expect(sched2.getLastLr()).toEqual([0.125]);
  });

  it("refuses a dict of another kind or shape, changing nothing", () => {
    const opt = sgdWithGroups(0.5, 1);
    const sched = new StepLR(opt, { stepSize: 2 });
    const cosine = new CosineAnnealingLR(sgdWithGroups(1, 1), { tMax: 3 }).stateDict();
    const good = sched.stateDict();
    const load = (d: unknown): void => sched.loadStateDict(d as LRSchedulerStateDict);
    expect(() => load(cosine)).toThrow(ArgumentError);
    expect(() => load(cosine)).toThrow('StepLR.loadStateDict: the state dict is from a "CosineAnnealingLR" scheduler, not a StepLR');
    expect(() => load({ ...good, lastEpoch: -1 })).toThrow("StepLR.loadStateDict: lastEpoch must be an integer >= 0, but got -1");
    expect(() => load({ ...good, baseLrs: [1] })).toThrow("StepLR.loadStateDict: baseLrs must be 2 finite numbers (one per parameter group), but got [1]");
    expect(() => load({ ...good, config: { stepSize: "2", gamma: 0.1 } })).toThrow('StepLR.loadStateDict: config.stepSize must be like 2, but got "2"');
    expect(() => load({ ...good, config: { tMax: 2 } })).toThrow('StepLR.loadStateDict: config has an unknown setting "tMax"; the settings are stepSize, gamma');
    expect(() => load(null)).toThrow("StepLR.loadStateDict: expected a scheduler state dict, but got null");
    expect(sched.stateDict()).toEqual(good);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.5, 1]);
  });
});
