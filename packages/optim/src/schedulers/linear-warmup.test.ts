import { describe, expect, it } from "vitest";
import { expectLrs, expectResumable, lrTrace, sgdWithGroups } from "../test-utils/schedule.js";
import { CosineAnnealingLR } from "./cosine-annealing-lr.js";
import { LinearWarmup } from "./linear-warmup.js";

describe("LinearWarmup", () => {
  it("warmupSteps=4 startFactor=0.2: lr(t) = base · (0.2 + 0.8 · min(t, 4) / 4)", () => {
    const opt = sgdWithGroups(0.5, 1);
    const trace = lrTrace(new LinearWarmup(opt, { warmupSteps: 4, startFactor: 0.2 }), opt, 6);
    const factor = (t: number): number => 0.2 + (0.8 * Math.min(t, 4)) / 4;
    expectLrs(trace, trace.map((_, t) => [0.5 * factor(t), 1 * factor(t)]));
    expectLrs(trace.map((r) => [r[1]!]), [[0.2], [0.4], [0.6], [0.8], [1], [1], [1]]);
  });

  it("startFactor defaults to 1/3 as in PyTorch's LinearLR", () => {
    const opt = sgdWithGroups(3);
    expectLrs(lrTrace(new LinearWarmup(opt, { warmupSteps: 2 }), opt, 3), [[1], [2], [3], [3]]);
  });

  it("a scheduler built after it on the same optimizer starts from the original lr (PyTorch's initial_lr)", () => {
    const opt = sgdWithGroups(0.9);
    new LinearWarmup(opt, { warmupSteps: 3, startFactor: 0.1 });
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.09, 15);
    const cosine = new CosineAnnealingLR(opt, { tMax: 4 });
    expect(cosine.baseLrs).toEqual([0.9]);
  });

  it("state dict round trip continues identically", () => {
    expectResumable(() => {
      const opt = sgdWithGroups(0.3, 0.6);
      return [opt, new LinearWarmup(opt, { warmupSteps: 5, startFactor: 0.01 })];
    }, 2, 6);
  });

  it("validates its options", () => {
    const opt = sgdWithGroups(1);
    expect(() => new LinearWarmup(opt, { warmupSteps: -1 })).toThrow("LinearWarmup: warmupSteps must be an integer > 0, but got -1");
    expect(() => new LinearWarmup(opt, { warmupSteps: 3, startFactor: 0 })).toThrow("LinearWarmup: startFactor must be a number in (0, 1], but got 0");
    expect(() => new LinearWarmup(opt, { warmupSteps: 3, startFactor: 1.5 })).toThrow("LinearWarmup: startFactor must be a number in (0, 1], but got 1.5");
    expect(() => new LinearWarmup(opt, {} as never)).toThrow("LinearWarmup: warmupSteps must be an integer > 0, but got undefined");
  });
});
