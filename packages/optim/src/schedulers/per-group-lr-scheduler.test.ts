import { describe, expect, it } from "vitest";
import { type Optimizer, PerGroupLRScheduler } from "../index.js";
import { lrTrace, sgdWithGroups } from "../test-utils/schedule.js";

/** A user's schedule written against the public entry (its TSDoc example): base · factor, then base / sqrt(t - warmup + 1). */
class WarmupInverseSqrt extends PerGroupLRScheduler<{ warmup: number; factor: number }> {
  constructor(optimizer: Optimizer, options: { warmup: number; factor: number }) {
    super("WarmupInverseSqrt", optimizer, { ...options });
  }
  protected lrOf(baseLr: number, epoch: number): number {
    const { warmup, factor } = this.config;
    return epoch < warmup ? baseLr * factor : baseLr / Math.sqrt(epoch - warmup + 1);
  }
}

describe("PerGroupLRScheduler", () => {
  it("a user's subclass writes one group's lrOf and sets every group's lr from its own base, step by step", () => {
    const opt = sgdWithGroups(0.4, 0.1);
    const trace = lrTrace(new WarmupInverseSqrt(opt, { warmup: 2, factor: 0.5 }), opt, 5);
    expect(trace).toEqual([0, 1, 2, 3, 4, 5].map((t) => [0.4, 0.1].map((base) => (t < 2 ? base * 0.5 : base / Math.sqrt(t - 1)))));
  });

  it("a user's subclass resumes from its state dict, settings included", () => {
    const sched = new WarmupInverseSqrt(sgdWithGroups(0.4, 0.1), { warmup: 1, factor: 0.25 });
    for (let t = 0; t < 3; t++) sched.step();
    const opt = sgdWithGroups(9, 9);
    const resumed = new WarmupInverseSqrt(opt, { warmup: 100, factor: 1 });
    resumed.loadStateDict(JSON.parse(JSON.stringify(sched.stateDict())));
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.4 / Math.sqrt(3), 0.1 / Math.sqrt(3)]);
    resumed.step();
    sched.step();
    expect(resumed.getLastLr()).toEqual(sched.getLastLr());
    expect(resumed.getLastLr()).toEqual([0.4 / 2, 0.1 / 2]);
  });
});
